package statefulset_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/statefulset"
)

// TestStatefulSet runs the docs' "web" StatefulSet against a real API
// server, with a stand-in kubelet that makes every pod Running and Ready a
// moment after it appears: pods come up in order web-0, web-1, web-2, each
// with its claim, and an image change replaces them web-2, web-1, web-0.
func TestStatefulSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer b.Shutdown()
	c, err := statefulset.New(kube, factory.Apps().V1().StatefulSets(), factory.Core().V1().Pods(),
		factory.Core().V1().PersistentVolumeClaims(), factory.Apps().V1().ControllerRevisions(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "statefulset-controller"}))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 5)

	const ns = "sts"
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	created, deleted := runKubelet(t, ctx, kube, ns)

	labels := map[string]string{"app": "nginx"}
	clustertest.Create(t, ctx, kube.AppsV1().StatefulSets(ns), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](3), ServiceName: "nginx", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "registry.k8s.io/nginx-slim:0.24",
					VolumeMounts: []corev1.VolumeMount{{Name: "www", MountPath: "/usr/share/nginx/html"}}}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "www"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}},
		},
	})

	waitStatus := func(what string, ok func(s appsv1.StatefulSetStatus, gen int64) bool) appsv1.StatefulSetStatus {
		t.Helper()
		var s appsv1.StatefulSetStatus
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 45*time.Second, true, func(context.Context) (bool, error) {
			set, err := kube.AppsV1().StatefulSets(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			s = set.Status
			return s.ObservedGeneration == set.Generation && ok(s, set.Generation), nil
		})
		if err != nil {
			t.Fatalf("%s: %v (status %+v)", what, err, s)
		}
		return s
	}
	s := waitStatus("3 ready replicas", func(s appsv1.StatefulSetStatus, _ int64) bool {
		return s.ReadyReplicas == 3 && s.UpdatedReplicas == 3 && s.CurrentRevision == s.UpdateRevision
	})
	if got := created(); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
		t.Errorf("pods created in order %v, want web-0 web-1 web-2", got)
	}
	claims, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	var names []string
	for _, c := range claims.Items {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"www-web-0", "www-web-1", "www-web-2"}) {
		t.Errorf("claims %v, want www-web-0..2", names)
	}
	firstRevision := s.CurrentRevision

	// The rolling update: highest ordinal first, one at a time.
	_, err = kube.AppsV1().StatefulSets(ns).Patch(ctx, "web", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.k8s.io/nginx-slim:0.21"}]`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	s = waitStatus("rolling update done", func(s appsv1.StatefulSetStatus, _ int64) bool {
		return s.ReadyReplicas == 3 && s.UpdatedReplicas == 3 && s.CurrentRevision == s.UpdateRevision && s.UpdateRevision != firstRevision
	})
	if got := deleted(); !slices.Equal(got, []string{"web-2", "web-1", "web-0"}) {
		t.Errorf("pods replaced in order %v, want web-2 web-1 web-0", got)
	}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	for _, p := range pods.Items {
		if p.Spec.Containers[0].Image != "registry.k8s.io/nginx-slim:0.21" || p.Labels[appsv1.ControllerRevisionHashLabelKey] != s.UpdateRevision {
			t.Errorf("pod %s: image %s revision %s after the update", p.Name, p.Spec.Containers[0].Image, p.Labels[appsv1.ControllerRevisionHashLabelKey])
		}
	}
	revs, err := kube.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(revs.Items) != 2 {
		t.Errorf("%d controller revisions, want 2", len(revs.Items))
	}

	// The real kubectl reads the status and the revisions.
	if _, err := exec.LookPath("kubectl"); err == nil {
		kubectl := func(args ...string) string {
			t.Helper()
			out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", cp.AdminKubeconfig, "-n", ns}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		// apps/v1 defaults partition to 0, so kubectl takes the partitioned
		// branch, as on a real cluster.
		if out := kubectl("rollout", "status", "statefulset/web", "--timeout=30s"); !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated") {
			t.Errorf("kubectl rollout status:\n%s", out)
		}
		if out := kubectl("rollout", "history", "statefulset/web"); !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
			t.Errorf("kubectl rollout history, want revisions 1 and 2:\n%s", out)
		}
		kubectl("rollout", "undo", "statefulset/web")
		waitStatus("rolled back", func(s appsv1.StatefulSetStatus, _ int64) bool {
			return s.ReadyReplicas == 3 && s.UpdatedReplicas == 3 && s.CurrentRevision == firstRevision && s.UpdateRevision == firstRevision
		})
		if out := kubectl("rollout", "history", "statefulset/web"); !strings.Contains(out, "3 ") {
			t.Errorf("kubectl rollout history after undo, want revision 3:\n%s", out)
		}
		if out := kubectl("describe", "statefulset", "web"); !strings.Contains(out, "create Pod web-0 in StatefulSet web successful") {
			t.Errorf("kubectl describe shows no SuccessfulCreate event:\n%s", out)
		}
	} else {
		t.Log("kubectl not on PATH: skipping the kubectl checks")
	}

	// A deleted pod comes back with its name.
	clustertest.Must(t, kube.CoreV1().Pods(ns).Delete(ctx, "web-1", metav1.DeleteOptions{}))
	waitStatus("web-1 re-created", func(s appsv1.StatefulSetStatus, _ int64) bool {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
		return err == nil && s.ReadyReplicas == 3 && p.Status.Phase == corev1.PodRunning
	})

	// Scale down: highest ordinal first, the claims stay.
	before := len(deleted())
	_, err = kube.AppsV1().StatefulSets(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitStatus("scaled down", func(s appsv1.StatefulSetStatus, _ int64) bool { return s.Replicas == 1 && s.ReadyReplicas == 1 })
	if got := deleted()[before:]; !slices.Equal(got, []string{"web-2", "web-1"}) {
		t.Errorf("scale down deleted %v, want web-2 web-1", got)
	}
	claims, err = kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(claims.Items) != 3 {
		t.Errorf("%d claims after scale down, want all 3 kept (Retain)", len(claims.Items))
	}
}

// runKubelet watches the namespace's pods and, 300ms after a pod appears,
// sets it Running and Ready, like a kubelet whose containers start at once.
// It returns functions listing the pods created and deleted, in order.
func runKubelet(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns string) (created, deleted func() []string) {
	w, err := kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	var mu sync.Mutex
	var adds, dels []string
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			switch ev.Type {
			case watch.Added:
				adds = append(adds, p.Name)
				go startPod(ctx, kube, p)
			case watch.Deleted:
				dels = append(dels, p.Name)
			}
			mu.Unlock()
		}
	}()
	list := func(s *[]string) func() []string {
		return func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(*s)
		}
	}
	return list(&adds), list(&dels)
}

func startPod(ctx context.Context, kube kubernetes.Interface, p *corev1.Pod) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(300 * time.Millisecond):
	}
	p = p.DeepCopy()
	at := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at}}
	_, _ = kube.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}) // a conflict: it was deleted or changed; fine
}
