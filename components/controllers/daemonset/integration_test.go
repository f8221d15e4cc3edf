package daemonset_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/daemonset"
	"github.com/kubelab/kubelab/components/scheduler"
)

// fakeKubelet plays every node's kubelet: bound pods become Running and
// Ready, and pods being deleted are removed at once (a real kubelet would
// stop the containers first).
func fakeKubelet(ctx context.Context, kube kubernetes.Interface, ns string) {
	for ctx.Err() == nil {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				switch {
				case p.DeletionTimestamp != nil:
					_ = kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				case p.Spec.NodeName != "" && p.Status.Phase != corev1.PodRunning:
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
					p.Status.ContainerStatuses = nil
					for _, c := range p.Spec.Containers {
						p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true,
							State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
					}
					_, _ = kube.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{})
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonSet runs the controller with the real scheduler against a real
// API server: one pod lands on each of 3 nodes, and an image change rolls
// out to all of them.
func TestDaemonSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)

	for i := range 3 {
		n, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}, metav1.CreateOptions{})
		clustertest.Must(t, err)
		n.Status = corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"),
				corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		}
		_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		clustertest.Must(t, err)
	}

	factory := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer b.Shutdown()
	apps, core := factory.Apps().V1(), factory.Core().V1()
	c, err := daemonset.New(kube, apps.DaemonSets(), apps.ControllerRevisions(), core.Pods(), core.Nodes(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "daemonset-controller"}))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)
	s, err := scheduler.New(scheduler.Options{Config: cfg})
	clustertest.Must(t, err)
	go s.Run(ctx)

	const ns = "logging"
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	go fakeKubelet(ctx, kube, ns)
	labels := map[string]string{"name": "fluentd-elasticsearch"}
	clustertest.Create(t, ctx, kube.AppsV1().DaemonSets(ns), &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "fluentd-elasticsearch"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Tolerations: []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers:  []corev1.Container{{Name: "fluentd-elasticsearch", Image: "quay.io/fluentd_elasticsearch/fluentd:v5.0.1"}}}}},
	})

	waitRolledOut := func(what, image string) {
		t.Helper()
		waitRolledOutIn(ctx, t, kube, ns, "fluentd-elasticsearch", what, image)
	}
	waitRolledOut("create", "quay.io/fluentd_elasticsearch/fluentd:v5.0.1")

	_, err = kube.AppsV1().DaemonSets(ns).Patch(ctx, "fluentd-elasticsearch", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"fluentd-elasticsearch","image":"quay.io/fluentd_elasticsearch/fluentd:v5.0.2"}]}}}}`),
		metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitRolledOut("image change", "quay.io/fluentd_elasticsearch/fluentd:v5.0.2")

	revs, err := kube.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(revs.Items) != 2 {
		t.Errorf("want 2 controller revisions (one per template), got %d", len(revs.Items))
	}
	testKubectl(ctx, t, cp.AdminKubeconfig, kube)
}

// waitRolledOut waits for kubectl rollout status's test to pass (and
// checks the pods: one per node, all with image).
func waitRolledOutIn(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns, name, what, image string) {
	t.Helper()
	var ds *appsv1.DaemonSet
	var pods *corev1.PodList
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if ds, err = kube.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		if pods, err = kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "name=fluentd-elasticsearch"}); err != nil {
			return false, err
		}
		st := ds.Status
		// kubectl rollout status's test, plus the pods themselves.
		if st.ObservedGeneration != ds.Generation || st.DesiredNumberScheduled != 3 || st.NumberReady != 3 ||
			st.UpdatedNumberScheduled != 3 || st.NumberAvailable != 3 || len(pods.Items) != 3 {
			return false, nil
		}
		nodes := map[string]bool{}
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != image || p.Spec.NodeName == "" {
				return false, nil
			}
			nodes[p.Spec.NodeName] = true
		}
		return len(nodes) == 3, nil
	})
	if err != nil {
		t.Fatalf("%s: not rolled out: %v\nstatus %+v", what, err, ds.Status)
	}
}
