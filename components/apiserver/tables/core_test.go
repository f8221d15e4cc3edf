package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestNode(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("Node"))
	assertColumns(t, p, "Name:string", "Status:string", "Roles:string", "Age:string", "Version:string",
		"Internal-IP:string:wide", "External-IP:string:wide", "OS-Image:string:wide", "Kernel-Version:string:wide", "Container-Runtime:string:wide")

	node := func(mutate func(*corev1.Node)) *corev1.Node {
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "worker-1", CreationTimestamp: ago(26 * time.Hour), Labels: map[string]string{"kubernetes.io/hostname": "worker-1"}},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "worker-1"}, {Type: corev1.NodeInternalIP, Address: "10.240.0.21"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13 (trixie)", KernelVersion: "6.12.48-1-amd64", ContainerRuntimeVersion: "kubelab://0.1.0"},
			},
		}
		mutate(n)
		return n
	}
	tests := []struct {
		name string
		node *corev1.Node
		want []interface{}
	}{
		{"ready worker", node(func(*corev1.Node) {}),
			[]interface{}{"worker-1", "Ready", "<none>", "26h", "v1.37.2", "10.240.0.21", "<none>", "Debian GNU/Linux 13 (trixie)", "6.12.48-1-amd64", "kubelab://0.1.0"}},
		{"cordoned control plane", node(func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Labels["node-role.kubernetes.io/control-plane"] = ""
			n.Labels["kubernetes.io/role"] = "etcd"
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.4"})
		}), []interface{}{"worker-1", "Ready,SchedulingDisabled", "control-plane,etcd", "26h", "v1.37.2", "10.240.0.21", "203.0.113.4", "Debian GNU/Linux 13 (trixie)", "6.12.48-1-amd64", "kubelab://0.1.0"}},
		{"not ready", node(func(n *corev1.Node) { n.Status.Conditions[1].Status = corev1.ConditionUnknown }),
			[]interface{}{"worker-1", "NotReady", "<none>", "26h", "v1.37.2", "10.240.0.21", "<none>", "Debian GNU/Linux 13 (trixie)", "6.12.48-1-amd64", "kubelab://0.1.0"}},
		{"just registered", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: ago(3 * time.Second)}},
			[]interface{}{"n", "Unknown", "<none>", "3s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCells(t, p, tt.node, tt.want...) })
	}
}

func TestSmallCoreKinds(t *testing.T) {
	created := ago(10 * 24 * time.Hour)
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default", CreationTimestamp: created}
	tests := []struct {
		kind    string
		obj     runtime.Object
		columns []string
		cells   []interface{}
	}{
		{"Namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", CreationTimestamp: created}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]string{"Name:string", "Status:string", "Age:string"},
			[]interface{}{"kube-system", "Active", "10d"}},
		{"ConfigMap", &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}},
			[]string{"Name:string", "Data:string", "Age:string"},
			[]interface{}{"x", int64(3), "10d"}},
		{"Secret", &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"user": []byte("admin")}, StringData: map[string]string{"user": "a", "password": "b"}},
			[]string{"Name:string", "Type:string", "Data:string", "Age:string"},
			[]interface{}{"x", "Opaque", int64(2), "10d"}},
		{"ServiceAccount", &corev1.ServiceAccount{ObjectMeta: meta},
			[]string{"Name:string", "Secrets:string", "Age:string"},
			[]interface{}{"x", int64(0), "10d"}},
		{"ReplicationController", &corev1.ReplicationController{ObjectMeta: meta,
			Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "web"}, Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}},
			Status: corev1.ReplicationControllerStatus{Replicas: 1, ReadyReplicas: 1}},
			[]string{"Name:string", "Desired:integer", "Current:integer", "Ready:integer", "Age:string", "Containers:string:wide", "Images:string:wide", "Selector:string:wide"},
			[]interface{}{"x", int64(1), int64(1), int64(1), "10d", "web", "nginx:1.27", "app=web"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			p := For(corev1.SchemeGroupVersion.WithKind(tt.kind))
			assertColumns(t, p, tt.columns...)
			assertCells(t, p, tt.obj, tt.cells...)
		})
	}
}

func TestEvent(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("Event"))
	assertColumns(t, p, "Last Seen:string", "Type:string", "Reason:string", "Object:string", "Subobject:string:wide",
		"Source:string:wide", "Message:string", "First Seen:string:wide", "Count:string:wide", "Name:string:wide")

	tests := []struct {
		name  string
		event *corev1.Event
		want  []interface{}
	}{
		{"kubelet event", &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web.17f3a", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{nginx}"},
			Reason:         "Pulled", Message: "Successfully pulled image \"nginx:1.27\"\n", Type: corev1.EventTypeNormal,
			Source:         corev1.EventSource{Component: "kubelet", Host: "worker-1"},
			FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 3,
		}, []interface{}{"2m", "Normal", "Pulled", "pod/web", "spec.containers{nginx}", "kubelet, worker-1",
			"Successfully pulled image \"nginx:1.27\"", "10m", int64(3), "web.17f3a"}},
		{"new-style event", &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web.17f3b", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web"},
			Reason:         "Scheduled", Message: "Successfully assigned default/web to worker-1", Type: corev1.EventTypeNormal,
			EventTime:           metav1.NewMicroTime(testNow.Add(-45 * time.Second)),
			ReportingController: "default-scheduler",
		}, []interface{}{"45s", "Normal", "Scheduled", "pod/web", "", "default-scheduler",
			"Successfully assigned default/web to worker-1", "45s", int64(1), "web.17f3b"}},
		{"series", &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "n.1"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node"},
			Reason:         "Rebooted", Type: corev1.EventTypeWarning,
			FirstTimestamp: ago(time.Hour),
			Series:         &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(testNow.Add(-time.Minute))},
		}, []interface{}{"60s", "Warning", "Rebooted", "node", "", "", "", "60m", int64(7), "n.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCells(t, p, tt.event, tt.want...) })
	}
}
