package cluster_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/hollownode"
)

// The scenarios run the whole control plane the way `kubelab up --lab
// --hollow-nodes 3` does: API server, scheduler, every controller, and
// hollow nodes playing kubelet. They are the proof that the pieces
// work together, through the API only.

func startScenario(t *testing.T, nodes int) (kubernetes.Interface, *hollownode.Set) {
	t.Helper()
	o := cluster.ControlPlaneOptions{Controllers: []string{"*"}, Scheduler: true}
	cluster.LabTimings(&o)
	_, cfg := clustertest.Start(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	set, err := hollownode.Start(ctx, cfg, hollownode.Options{Count: nodes, NamePrefix: "node-",
		RenewInterval: time.Second, StatusInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Stop)
	return kubernetes.NewForConfigOrDie(cfg), set
}

func webDeployment(replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

// waitAvailable waits until the Deployment has rolled out completely: the
// same test kubectl rollout status makes.
func waitAvailable(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if d, err = kube.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.Replicas == want && d.Status.AvailableReplicas == want, nil
	})
	if err != nil {
		t.Fatalf("deployment %s not rolled out: %v; status %+v", name, err, d.Status)
	}
	return d
}

// TestRollingUpdateBounds: 10 replicas reach available; an image change
// rolls to a new ReplicaSet, and at every status the controller reports,
// no more than maxSurge extra pods exist and no more than maxUnavailable
// are missing.
func TestRollingUpdateBounds(t *testing.T) {
	kube, _ := startScenario(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	d := webDeployment(10, "nginx:1.26")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(2)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}
	clustertest.Create(t, ctx, kube.AppsV1().Deployments("default"), d)
	d = waitAvailable(t, ctx, kube, "web")

	w, err := kube.AppsV1().Deployments("default").Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=web", ResourceVersion: d.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	if _, err := kube.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	statuses := 0
	for ev := range w.ResultChan() {
		if ev.Type != watch.Modified {
			continue
		}
		cur := ev.Object.(*appsv1.Deployment)
		st := cur.Status
		statuses++
		// maxSurge bounds the replicas the controller asks for (the sum
		// of its ReplicaSets' spec.replicas), as upstream: pods an old
		// ReplicaSet was told to drop may still be on their way out.
		if asked := askedReplicas(t, ctx, kube); asked > 12 {
			t.Errorf("ReplicaSets ask for %d pods, maxSurge 2 allows 12", asked)
		}
		if st.AvailableReplicas < 9 && st.ObservedGeneration == cur.Generation {
			t.Errorf("%d pods available, maxUnavailable 1 requires 9: %+v", st.AvailableReplicas, st)
		}
		if st.ObservedGeneration == cur.Generation && st.UpdatedReplicas == 10 && st.Replicas == 10 && st.AvailableReplicas == 10 {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatal("rollout did not finish")
	}
	t.Logf("rollout observed through %d status updates", statuses)
	rss, err := kube.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Fatalf("want the old and the new ReplicaSet, got %d", len(rss.Items))
	}
	for _, rs := range rss.Items {
		want := int32(0)
		if rs.Spec.Template.Spec.Containers[0].Image == "nginx:1.27" {
			want = 10
		}
		if *rs.Spec.Replicas != want {
			t.Errorf("ReplicaSet %s (%s) has %d replicas, want %d", rs.Name, rs.Spec.Template.Spec.Containers[0].Image, *rs.Spec.Replicas, want)
		}
	}
}

// TestNodeFailureMovesPods kills a hollow node (its heartbeats stop, like a
// machine losing power) and measures how long until every replica runs on
// the remaining nodes again: node lifecycle → unreachable taint → taint
// eviction → ReplicaSet → scheduler → kubelet.
func TestNodeFailureMovesPods(t *testing.T) {
	kube, _ := startScenario(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	clustertest.Create(t, ctx, kube.AppsV1().Deployments("default"), webDeployment(6, "nginx"))
	waitAvailable(t, ctx, kube, "web")
	victim := ""
	pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		victim = p.Spec.NodeName // LeastAllocated spread them: every node has some
	}
	// What the lesson does: kubectl annotate node <victim> hollow.kubelab.dev/fail=true
	patch := []byte(`{"metadata":{"annotations":{"` + hollownode.FailAnnotation + `":"true"}}}`)
	if _, err := kube.CoreV1().Nodes().Patch(ctx, victim, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	failed := time.Now()

	var tainted time.Duration
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if tainted == 0 {
			n, err := kube.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, taint := range n.Spec.Taints {
				if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
					tainted = time.Since(failed)
				}
			}
		}
		pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Spec.NodeName != victim && p.Status.Phase == corev1.PodRunning && podReady(&p) {
				ready++
			}
		}
		return ready == 6, nil
	})
	if err != nil {
		t.Fatalf("replicas did not come back on the other nodes: %v", err)
	}
	total := time.Since(failed)
	t.Logf("node %s silent → unreachable taint after %s → all 6 replicas Running elsewhere after %s",
		victim, tainted.Round(100*time.Millisecond), total.Round(100*time.Millisecond))
	if tainted == 0 {
		t.Error("the dead node was never tainted node.kubernetes.io/unreachable:NoExecute")
	}
	n, err := kube.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionUnknown {
			t.Errorf("dead node Ready=%s, want Unknown", c.Status)
		}
	}
}

func askedReplicas(t *testing.T, ctx context.Context, kube kubernetes.Interface) int32 {
	t.Helper()
	rss, err := kube.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var sum int32
	for _, rs := range rss.Items {
		sum += *rs.Spec.Replicas
	}
	return sum
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
