package deployment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/deployment"
	"github.com/kubelab/kubelab/components/controllers/replicaset"
)

const ns = "roll"

// TestRollout runs the ReplicaSet and Deployment controllers against a real
// API server, with a stand-in kubelet that makes every pod Running and
// Ready. A Deployment of 10 becomes available; an image change rolls out
// within maxSurge/maxUnavailable at every moment we look; patching the old
// template back (what `kubectl rollout undo` does) re-uses the old
// ReplicaSet under a new revision.
func TestRollout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	startControllers(t, ctx, kube)
	go fakeKubelet(ctx, kube)

	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	clustertest.Create(t, ctx, kube.AppsV1().Deployments(ns), webDeployment())

	d := waitComplete(t, ctx, kube, 1)
	hash := deployment.ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	first := getRS(t, ctx, kube, "web-"+hash)
	if first.Annotations[deployment.RevisionAnnotation] != "1" || first.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		first.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("first replicaset %s: annotations %v labels %v", first.Name, first.Annotations, first.Labels)
	}
	if !hasEvent(t, ctx, kube, "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set web-%s from 0 to 10", hash)) {
		t.Error("no ScalingReplicaSet event for the first replica set")
	}

	// Roll to a new image, watching the pods all along.
	stop := watchBounds(t, ctx, kube, 10-2, 10+3) // 25% of 10: unavailable 2 (down), surge 3 (up)
	patch := `{"metadata":{"annotations":{"kubernetes.io/change-cause":"image v2"}},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:v2"}]}}}}`
	_, err := kube.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	clustertest.Must(t, err)
	d = waitComplete(t, ctx, kube, 2)
	stop()
	second := getRS(t, ctx, kube, "web-"+deployment.ComputeHash(&d.Spec.Template, d.Status.CollisionCount))
	if second.Annotations["kubernetes.io/change-cause"] != "image v2" || second.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("second replicaset annotations %v", second.Annotations)
	}
	if first = getRS(t, ctx, kube, first.Name); *first.Spec.Replicas != 0 {
		t.Errorf("old replicaset still has %d replicas", *first.Spec.Replicas)
	}

	// Undo, as kubectl does it: the old ReplicaSet's template, without the
	// hash label, patched into the Deployment.
	old := first.Spec.Template.DeepCopy()
	delete(old.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	undo, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": old}})
	_, err = kube.AppsV1().Deployments(ns).Patch(ctx, "web", types.JSONPatchType, undo, metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitComplete(t, ctx, kube, 3)
	first = getRS(t, ctx, kube, first.Name)
	if first.Annotations[deployment.RevisionAnnotation] != "3" || first.Annotations[deployment.RevisionHistoryAnnotation] != "1" || *first.Spec.Replicas != 10 {
		t.Errorf("rolled-back replicaset: replicas %d annotations %v", *first.Spec.Replicas, first.Annotations)
	}
	rss, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(rss.Items) != 2 {
		t.Errorf("%d replicasets after the undo, want the same 2", len(rss.Items))
	}
}

func startControllers(t *testing.T, ctx context.Context, kube kubernetes.Interface) {
	factory := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	t.Cleanup(b.Shutdown)
	rsc, err := replicaset.New(kube, factory.Apps().V1().ReplicaSets().Informer(), factory.Core().V1().Pods(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"}))
	clustertest.Must(t, err)
	dc, err := deployment.New(kube, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "deployment-controller"}))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go rsc.Run(ctx, 5)
	go dc.Run(ctx, 5)
}

func webDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](10),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:v1"}}},
			},
		},
	}
}

// fakeKubelet makes pods Running and Ready with an IP, and finishes
// deletions, in place of a node.
func fakeKubelet(ctx context.Context, kube kubernetes.Interface) {
	ip := 0
	for ctx.Err() == nil {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				switch {
				case p.DeletionTimestamp != nil:
					kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				case p.Status.Phase != corev1.PodRunning:
					ip++
					now := metav1.Now()
					p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.200.%d.%d", ip/250, ip%250+1), StartTime: &now,
						Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
					kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
				}
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// waitComplete waits for the rollout of the given revision to finish, as
// `kubectl rollout status` judges it, and checks the conditions.
func waitComplete(t *testing.T, ctx context.Context, kube kubernetes.Interface, rev int) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if d, err = kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
			return false, err
		}
		s := d.Status
		return d.Annotations[deployment.RevisionAnnotation] == fmt.Sprint(rev) && s.ObservedGeneration >= d.Generation &&
			s.UpdatedReplicas == 10 && s.Replicas == 10 && s.AvailableReplicas == 10 && s.ReadyReplicas == 10 &&
			condition(d, appsv1.DeploymentProgressing).Reason == deployment.NewRSAvailableReason, nil
	})
	if err != nil {
		t.Fatalf("waiting for revision %d to roll out: %v; deployment status %+v annotations %v", rev, err, d.Status, d.Annotations)
	}
	if c := condition(d, appsv1.DeploymentAvailable); c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" {
		t.Errorf("Available condition %+v", c)
	}
	if c := condition(d, appsv1.DeploymentProgressing); !strings.HasPrefix(c.Message, `ReplicaSet "web-`) || !strings.HasSuffix(c.Message, `" has successfully progressed.`) {
		t.Errorf("Progressing message %q", c.Message)
	}
	if d.Status.UnavailableReplicas != 0 || ptr.Deref(d.Status.TerminatingReplicas, -1) != 0 {
		t.Errorf("status %+v: want no unavailable and 0 terminating replicas", d.Status)
	}
	return d
}

func condition(d *appsv1.Deployment, ct appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == ct {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

func getRS(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := kube.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get replicaset %s: %v", name, err)
	}
	return rs
}

func hasEvent(t *testing.T, ctx context.Context, kube kubernetes.Interface, reason, msg string) bool {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && e.Message == msg && e.Source.Component == "deployment-controller" {
				return true, nil
			}
		}
		return false, nil
	})
	return err == nil
}

// watchBounds looks at the rollout until stopped and fails the test if
// ever fewer than minReady live pods are ready, or the ReplicaSets ask for
// more than maxTotal pods. (Live pods may briefly exceed maxTotal: the new
// ReplicaSet may create pods before the old one has deleted the ones it was
// told to drop. Upstream's surge bound is on spec.replicas too; that gap is
// what its alpha podReplacementPolicy addresses.)
func watchBounds(t *testing.T, ctx context.Context, kube kubernetes.Interface, minReady, maxTotal int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for looks := 0; ctx.Err() == nil; looks++ {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				continue
			}
			rss, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			ready, total := 0, 0
			for _, p := range pods.Items {
				for _, c := range p.Status.Conditions {
					if p.DeletionTimestamp == nil && c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			for _, rs := range rss.Items {
				total += int(*rs.Spec.Replicas)
			}
			if ready < minReady || total > maxTotal {
				var sizes []string
				for _, rs := range rss.Items {
					sizes = append(sizes, fmt.Sprintf("%s=%d (ready %d, desired %s, revision %s)", rs.Name, *rs.Spec.Replicas, rs.Status.ReadyReplicas,
						rs.Annotations[deployment.DesiredReplicasAnnotation], rs.Annotations[deployment.RevisionAnnotation]))
				}
				t.Errorf("look %d: replicasets want %d pods, %d pods ready; want at most %d and at least %d; replicasets: %s",
					looks, total, ready, maxTotal, minReady, strings.Join(sizes, ", "))
				return
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
