package replicaset

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

func replicationController(n int32) *corev1.ReplicationController {
	labels := map[string]string{"app": "nginx"}
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "rc-uid", Generation: 2},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(n), Selector: labels,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
		},
	}
}

// TestReplicationControllerSync runs the ReplicaSet sync on an RC: pods
// are owned by the ReplicationController, its status is written through
// rc/status, and events are about the RC.
func TestReplicationControllerSync(t *testing.T) {
	tests := []struct {
		name        string
		replicas    int32
		pods        []*corev1.Pod
		wantCreates int
		wantDeletes int
		wantStatus  int32
	}{
		{name: "creates the missing pods", replicas: 3, wantCreates: 3, wantStatus: 0},
		{name: "replaces a missing pod", replicas: 3, pods: []*corev1.Pod{rcPod("a"), rcPod("b")}, wantCreates: 1, wantStatus: 2},
		{name: "deletes the extra pod", replicas: 1, pods: []*corev1.Pod{rcPod("a"), rcPod("b")}, wantDeletes: 1, wantStatus: 2},
		{name: "steady", replicas: 2, pods: []*corev1.Pod{rcPod("a"), rcPod("b")}, wantStatus: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := replicationController(tt.replicas)
			objs := []runtime.Object{rc}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			kube := fake.NewClientset(objs...)
			var n atomic.Int32
			kube.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
				p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
				p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
				return false, nil, nil
			})
			recorder := record.NewFakeRecorder(100)
			factory := informers.NewSharedInformerFactory(kube, 0)
			rcs, pods := factory.Core().V1().ReplicationControllers(), factory.Core().V1().Pods()
			c, err := NewReplicationController(kube, rcs, pods, recorder)
			if err != nil {
				t.Fatal(err)
			}
			rcs.Informer().GetIndexer().Add(rc)
			for _, p := range tt.pods {
				pods.Informer().GetIndexer().Add(p)
			}
			if err := c.sync(context.Background(), "default/nginx"); err != nil {
				t.Fatal(err)
			}

			var creates, deletes int
			for _, a := range kube.Actions() {
				switch {
				case a.GetVerb() == "create" && a.GetResource().Resource == "pods":
					creates++
					p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
					ref := metav1.GetControllerOf(p)
					if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.UID != "rc-uid" {
						t.Errorf("created pod has controller ref %+v, want the v1 ReplicationController", ref)
					}
					if p.GenerateName != "nginx-" {
						t.Errorf("generateName %q, want nginx-", p.GenerateName)
					}
				case a.GetVerb() == "delete" && a.GetResource().Resource == "pods":
					deletes++
				}
			}
			if creates != tt.wantCreates || deletes != tt.wantDeletes {
				t.Errorf("creates %d deletes %d, want %d and %d", creates, deletes, tt.wantCreates, tt.wantDeletes)
			}
			got, err := kube.CoreV1().ReplicationControllers("default").Get(context.Background(), "nginx", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Replicas != tt.wantStatus || got.Status.ObservedGeneration != 2 || got.Status.FullyLabeledReplicas != tt.wantStatus {
				t.Errorf("status %+v, want replicas %d observedGeneration 2", got.Status, tt.wantStatus)
			}
			if got.Spec.Template == nil || len(got.Spec.Selector) != 1 {
				t.Errorf("status update mangled the spec: %+v", got.Spec)
			}
			close(recorder.Events)
			for e := range recorder.Events {
				if !strings.HasPrefix(e, "Normal Successful") {
					t.Errorf("unexpected event %q", e)
				}
			}
		})
	}
}

// TestRCRecorder checks that events name the RC, not a ReplicaSet.
func TestRCRecorder(t *testing.T) {
	b := record.NewBroadcaster()
	defer b.Shutdown()
	got := make(chan *corev1.Event, 1)
	b.StartEventWatcher(func(e *corev1.Event) { got <- e })
	r := rcRecorder{b.NewRecorder(runtimeScheme(), corev1.EventSource{Component: "replication-controller"})}
	r.Eventf(rcToRS(replicationController(1)), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", "x")
	e := <-got
	if e.InvolvedObject.Kind != "ReplicationController" || e.InvolvedObject.APIVersion != "v1" || e.InvolvedObject.UID != "rc-uid" {
		t.Errorf("event about %+v, want the ReplicationController", e.InvolvedObject)
	}
}

func rcPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels:          map[string]string{"app": "nginx"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(replicationController(0), corev1.SchemeGroupVersion.WithKind("ReplicationController"))}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func runtimeScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	return s
}
