package statefulset

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	c        *Controller
	kube     *fake.Clientset
	recorder *record.FakeRecorder
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{kube: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	factory := informers.NewSharedInformerFactory(f.kube, 0)
	sets, pods := factory.Apps().V1().StatefulSets(), factory.Core().V1().Pods()
	pvcs, revs := factory.Core().V1().PersistentVolumeClaims(), factory.Apps().V1().ControllerRevisions()
	c, err := New(f.kube, sets, pods, pvcs, revs, f.recorder)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.StatefulSet:
			sets.Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			pods.Informer().GetIndexer().Add(o)
		case *corev1.PersistentVolumeClaim:
			pvcs.Informer().GetIndexer().Add(o)
		case *appsv1.ControllerRevision:
			revs.Informer().GetIndexer().Add(o)
		}
	}
	f.c = c
	return f
}

// names lists "verb resource/name" of the write actions, in order.
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.kube.Actions() {
		switch a.GetVerb() {
		case "create":
			obj := a.(clienttesting.CreateAction).GetObject().(metav1.Object)
			out = append(out, "create "+a.GetResource().Resource+"/"+obj.GetName())
		case "delete":
			out = append(out, "delete "+a.GetResource().Resource+"/"+a.(clienttesting.DeleteAction).GetName())
		}
	}
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) status(t *testing.T) appsv1.StatefulSetStatus {
	t.Helper()
	set, err := f.kube.AppsV1().StatefulSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return set.Status
}

type setOpt func(*appsv1.StatefulSet)

// statefulSet is the "web" set of the Kubernetes docs: nginx behind the
// headless Service "nginx", one claim template "www".
func statefulSet(n int32, opts ...setOpt) *appsv1.StatefulSet {
	labels := map[string]string{"app": "nginx"}
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "set-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(n), ServiceName: "nginx", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.0",
					VolumeMounts: []corev1.VolumeMount{{Name: "www", MountPath: "/usr/share/nginx/html"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "www", Labels: map[string]string{"tier": "data"}},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
		},
	}
	for _, o := range opts {
		o(set)
	}
	return set
}

func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
func image(i string) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = i }
}
func partition(p int32) setOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(p) }
}
func currentRevision(r string) setOpt {
	return func(s *appsv1.StatefulSet) { s.Status.CurrentRevision = r }
}

// revision is the ControllerRevision of the set's template, as the
// controller would have created it.
func revision(t *testing.T, set *appsv1.StatefulSet, number int64) *appsv1.ControllerRevision {
	t.Helper()
	r, err := newRevision(set, number, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.UID = types.UID(r.Name)
	return r
}

type podOpt func(*corev1.Pod)

// pod builds web-<ordinal> of set at its revision rev, Running and Ready.
func pod(set *appsv1.StatefulSet, ordinal int, rev string, opts ...podOpt) *corev1.Pod {
	p := newPod(set, ordinal, rev)
	p.UID = types.UID(p.Name + "-" + rev)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
		Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pending(p *corev1.Pod) { p.Status = corev1.PodStatus{Phase: corev1.PodPending} }
func failed(p *corev1.Pod)  { p.Status.Phase = corev1.PodFailed }

func TestSync(t *testing.T) {
	v1 := statefulSet(3)
	rev1 := revision(t, v1, 1)
	v2 := statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name))
	rev2 := revision(t, v2, 2)

	tests := []struct {
		name       string
		objs       []runtime.Object
		wantWrites []string // creates and deletes of pods, claims and revisions, in order
		wantStatus *appsv1.StatefulSetStatus
	}{{
		name:       "OrderedReady creates web-0 (claim first) and its first revision, nothing more",
		objs:       []runtime.Object{statefulSet(3)},
		wantWrites: []string{"create controllerrevisions/" + rev1.Name, "create persistentvolumeclaims/www-web-0", "create pods/web-0"},
	}, {
		name:       "OrderedReady waits while web-0 is not Ready",
		objs:       []runtime.Object{statefulSet(3), rev1, pod(v1, 0, rev1.Name, pending), claim("www-web-0")},
		wantWrites: nil,
		wantStatus: &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1,
			CurrentRevision: rev1.Name, UpdateRevision: rev1.Name, CollisionCount: ptr.To[int32](0)},
	}, {
		name:       "OrderedReady creates web-1 once web-0 is Ready",
		objs:       []runtime.Object{statefulSet(3), rev1, pod(v1, 0, rev1.Name)},
		wantWrites: []string{"create persistentvolumeclaims/www-web-1", "create pods/web-1"},
	}, {
		name: "Parallel creates all at once",
		objs: []runtime.Object{statefulSet(3, parallel), rev1},
		wantWrites: []string{"create persistentvolumeclaims/www-web-0", "create pods/web-0",
			"create persistentvolumeclaims/www-web-1", "create pods/web-1", "create persistentvolumeclaims/www-web-2", "create pods/web-2"},
	}, {
		name: "a pod deleted by the user is re-created under its name",
		objs: []runtime.Object{statefulSet(3), rev1, pod(v1, 0, rev1.Name), pod(v1, 2, rev1.Name),
			claim("www-web-1")},
		wantWrites: []string{"create pods/web-1"}, // the claim is still there: reused
	}, {
		name:       "a Pending pod whose claim was deleted gets it back",
		objs:       []runtime.Object{statefulSet(3), rev1, pod(v1, 0, rev1.Name, pending)},
		wantWrites: []string{"create persistentvolumeclaims/www-web-0"},
	}, {
		name:       "OrderedReady scale down removes the highest ordinal only",
		objs:       []runtime.Object{statefulSet(1), rev1, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name)},
		wantWrites: []string{"delete pods/web-2"},
		wantStatus: &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: rev1.Name, UpdateRevision: rev1.Name, CollisionCount: ptr.To[int32](0)},
	}, {
		name:       "OrderedReady scale down waits for the deleted pod to be gone",
		objs:       []runtime.Object{statefulSet(1), rev1, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name, terminating)},
		wantWrites: nil,
	}, {
		name:       "Parallel scale down removes all extra pods",
		objs:       []runtime.Object{statefulSet(1, parallel), rev1, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name)},
		wantWrites: []string{"delete pods/web-2", "delete pods/web-1"},
	}, {
		name:       "a failed pod is deleted, to be re-created",
		objs:       []runtime.Object{statefulSet(3), rev1, pod(v1, 0, rev1.Name, failed)},
		wantWrites: []string{"delete pods/web-0"},
	}, {
		name:       "a new template makes a revision and replaces the highest ordinal first",
		objs:       []runtime.Object{v2, rev1, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name)},
		wantWrites: []string{"create controllerrevisions/" + rev2.Name, "delete pods/web-2"},
		// web-2 is counted out of currentReplicas as it is deleted.
		wantStatus: &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			CurrentReplicas: 2, CurrentRevision: rev1.Name, UpdateRevision: rev2.Name, CollisionCount: ptr.To[int32](0)},
	}, {
		name:       "the replaced pod comes back at the update revision",
		objs:       []runtime.Object{v2, rev1, rev2, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name)},
		wantWrites: []string{"create persistentvolumeclaims/www-web-2", "create pods/web-2"},
	}, {
		name:       "the update waits for the replaced pod to be Ready",
		objs:       []runtime.Object{v2, rev1, rev2, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v2, 2, rev2.Name, pending), claim("www-web-2")},
		wantWrites: nil,
	}, {
		name:       "then replaces the next one down",
		objs:       []runtime.Object{v2, rev1, rev2, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v2, 2, rev2.Name)},
		wantWrites: []string{"delete pods/web-1"},
		wantStatus: &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			CurrentReplicas: 1, UpdatedReplicas: 1, CurrentRevision: rev1.Name, UpdateRevision: rev2.Name, CollisionCount: ptr.To[int32](0)},
	}, {
		name: "maxUnavailable 2 replaces two pods at once",
		objs: []runtime.Object{statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name), func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(2))
		}), rev1, rev2, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name)},
		wantWrites: []string{"delete pods/web-2", "delete pods/web-1"},
	}, {
		name: "ordinals below the partition are not updated",
		objs: []runtime.Object{statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name), partition(2)), rev1, rev2,
			pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v2, 2, rev2.Name)},
		wantWrites: nil,
	}, {
		name: "below the partition a deleted pod comes back at the current revision",
		objs: []runtime.Object{statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name), partition(2)), rev1, rev2,
			pod(v1, 0, rev1.Name), pod(v2, 2, rev2.Name),
			claim("www-web-1")},
		wantWrites: []string{"create pods/web-1"}, // checked below: image nginx:1.0, label rev1
	}, {
		name:       "all pods updated and Ready: the update revision becomes current",
		objs:       []runtime.Object{v2, rev1, rev2, pod(v2, 0, rev2.Name), pod(v2, 1, rev2.Name), pod(v2, 2, rev2.Name)},
		wantWrites: nil,
		wantStatus: &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: rev2.Name, UpdateRevision: rev2.Name, CollisionCount: ptr.To[int32](0)},
	}, {
		name: "OnDelete never deletes outdated pods",
		objs: []runtime.Object{statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name), func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}), rev1, rev2, pod(v1, 0, rev1.Name), pod(v1, 1, rev1.Name), pod(v1, 2, rev1.Name)},
		wantWrites: nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.objs...)
			if err := f.c.sync(context.Background(), "default/web"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := f.writes(); !slices.Equal(got, tt.wantWrites) {
				t.Errorf("writes:\n got %q\nwant %q", got, tt.wantWrites)
			}
			if tt.wantStatus != nil {
				if got := f.status(t); !sameStatus(got, *tt.wantStatus) || got.ReadyReplicas != tt.wantStatus.ReadyReplicas {
					t.Errorf("status:\n got %+v\nwant %+v", got, *tt.wantStatus)
				}
			}
		})
	}
}

func terminating(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }

func claim(name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)}}
}
