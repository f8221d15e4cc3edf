package hollownode

import (
	"github.com/kubelab/kubelab/components/nodestatus"

	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/version"
)

func testOptions(t *testing.T, o Options) Options {
	t.Helper()
	if o.Count == 0 {
		o.Count = 3
	}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestBuildNode(t *testing.T) {
	o := testOptions(t, Options{Zones: 3, CPU: "8", Labels: map[string]string{"team": "a"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}})
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	n := buildNode(&o, "hollow-node-4", 4, now)

	wantLabels := map[string]string{
		"kubernetes.io/hostname": "hollow-node-4", "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH,
		"node.kubernetes.io/instance-type": "hollow", "type": "hollow", "topology.kubernetes.io/zone": "zone-1", "team": "a",
	}
	for k, v := range wantLabels {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %v, want the dedicated one", n.Spec.Taints)
	}
	for name, want := range map[corev1.ResourceName]string{"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"} {
		if q := n.Status.Capacity[name]; q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("capacity %s = %s, want %s", name, q.String(), want)
		}
		if q := n.Status.Allocatable[name]; q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("allocatable %s = %s, want %s", name, q.String(), want)
		}
	}
	wantConds := map[corev1.NodeConditionType][2]string{
		"Ready": {"True", "KubeletReady"}, "MemoryPressure": {"False", "KubeletHasSufficientMemory"},
		"DiskPressure": {"False", "KubeletHasNoDiskPressure"}, "PIDPressure": {"False", "KubeletHasSufficientPID"},
	}
	if len(n.Status.Conditions) != len(wantConds) {
		t.Errorf("%d conditions, want %d", len(n.Status.Conditions), len(wantConds))
	}
	for _, c := range n.Status.Conditions {
		if w := wantConds[c.Type]; string(c.Status) != w[0] || c.Reason != w[1] || !c.LastHeartbeatTime.Equal(&now) {
			t.Errorf("condition %s = %s/%s at %v, want %s/%s at %v", c.Type, c.Status, c.Reason, c.LastHeartbeatTime, w[0], w[1], now)
		}
	}
	if a := n.Status.Addresses; len(a) != 2 || a[0] != (corev1.NodeAddress{Type: "InternalIP", Address: "10.241.0.5"}) ||
		a[1] != (corev1.NodeAddress{Type: "Hostname", Address: "hollow-node-4"}) {
		t.Errorf("addresses = %v", a)
	}
	info := n.Status.NodeInfo
	if info.KubeletVersion != version.KubernetesVersion || info.OSImage != "kubelab hollow node" ||
		info.ContainerRuntimeVersion != "hollow://1.0" || info.OperatingSystem != "linux" || len(info.MachineID) != 32 {
		t.Errorf("nodeInfo = %+v", info)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet endpoint = %v", n.Status.DaemonEndpoints)
	}
}

func TestNodeConditionsKeepTransitions(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	prev := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, LastTransitionTime: then}, // the node controller gave up on us
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastTransitionTime: then},
	}
	for _, c := range nodestatus.Conditions(now, prev, nodestatus.Health{}) {
		want := now // status changed (Ready) or was never reported (Disk, PID)
		if c.Type == corev1.NodeMemoryPressure {
			want = then
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
}

func TestAdopt(t *testing.T) {
	o := testOptions(t, Options{Taints: []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}}})
	want := buildNode(&o, "n", 0, metav1.Now())
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"mine": "yes", "type": "old"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.200.3.0/24", Taints: []corev1.Taint{
			{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "b", Effect: corev1.TaintEffectNoExecute}}},
	}
	got := nodestatus.Adopt(existing, want)
	if got.Labels["mine"] != "yes" || got.Labels["type"] != "hollow" {
		t.Errorf("labels = %v: want theirs kept and ours set", got.Labels)
	}
	if len(got.Spec.Taints) != 2 || got.Spec.PodCIDR != "10.200.3.0/24" {
		t.Errorf("spec = %+v: want taints a and b once each, podCIDR kept", got.Spec)
	}
	if existing.Labels["type"] != "old" {
		t.Error("adopt modified its input")
	}
}

func TestBuildLease(t *testing.T) {
	now := metav1.NowMicro()
	l := nodestatus.Lease("hollow-node-0", "uid-1", 40, now)
	if l.Namespace != "kube-node-lease" || *l.Spec.HolderIdentity != "hollow-node-0" || *l.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("lease = %+v", l)
	}
	if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].UID != "uid-1" {
		t.Errorf("owner references = %v, want the Node", l.OwnerReferences)
	}
	if l := nodestatus.Lease("x", "", 40, now); len(l.OwnerReferences) != 0 {
		t.Errorf("no node UID yet: owner references = %v, want none", l.OwnerReferences)
	}
}

func TestOptionsDefaults(t *testing.T) {
	for _, tt := range []struct {
		name    string
		o       Options
		wantErr bool
	}{
		{"defaults", Options{Count: 1}, false},
		{"no nodes", Options{}, true},
		{"too many", Options{Count: maxNodes + 1}, true},
		{"bad cpu", Options{Count: 1, CPU: "four"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.defaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (tt.o.NamePrefix != "hollow-node-" || tt.o.RenewInterval != 10*time.Second || tt.o.LeaseDuration != 40) {
				t.Errorf("defaults not applied: %+v", tt.o)
			}
		})
	}
}
