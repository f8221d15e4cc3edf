package fieldsel

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	podGVK     = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	eventGVK   = schema.GroupVersionKind{Version: "v1", Kind: "Event"}
	widgetGVK  = schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	deployGVK  = appsv1.SchemeGroupVersion.WithKind("Deployment")
	jobGVK     = batchv1.SchemeGroupVersion.WithKind("Job")
	nodeGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Node"}
	newEventGV = eventsv1.SchemeGroupVersion.WithKind("Event")
)

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
		want fields.Set
	}{
		{"pod", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec:       corev1.PodSpec{NodeName: "worker-1", RestartPolicy: corev1.RestartPolicyAlways, SchedulerName: "default-scheduler", ServiceAccountName: "default", HostNetwork: true},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.200.1.7", PodIPs: []corev1.PodIP{{IP: "10.200.1.7"}, {IP: "fd00:10:200::7"}}},
		}, fields.Set{
			"metadata.name": "web", "metadata.namespace": "default",
			"spec.nodeName": "worker-1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
			"spec.serviceAccountName": "default", "spec.hostNetwork": "true",
			"status.phase": "Running", "status.podIP": "10.200.1.7", "status.nominatedNodeName": "",
		}},
		{"node", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}, Spec: corev1.NodeSpec{Unschedulable: true}},
			fields.Set{"metadata.name": "worker-1", "spec.unschedulable": "true"}},
		{"namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			fields.Set{"metadata.name": "dev", "status.phase": "Terminating"}},
		{"secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: "kube-system"}, Type: corev1.SecretTypeServiceAccountToken},
			fields.Set{"metadata.name": "tok", "metadata.namespace": "kube-system", "type": "kubernetes.io/service-account-token"}},
		{"service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "10.32.0.1", Type: corev1.ServiceTypeClusterIP}},
			fields.Set{"metadata.name": "kubernetes", "metadata.namespace": "default", "spec.clusterIP": "10.32.0.1", "spec.type": "ClusterIP"}},
		{"replicaset", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"}, Status: appsv1.ReplicaSetStatus{Replicas: 3}},
			fields.Set{"metadata.name": "web-1", "metadata.namespace": "default", "status.replicas": "3"}},
		{"replication controller", &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"}},
			fields.Set{"metadata.name": "rc", "metadata.namespace": "default", "status.replicas": "0"}},
		{"job", &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"}, Status: batchv1.JobStatus{Succeeded: 1}},
			fields.Set{"metadata.name": "pi", "metadata.namespace": "default", "status.successful": "1"}},
		{"configmap: metadata only", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}},
			fields.Set{"metadata.name": "cfg", "metadata.namespace": "default"}},
		{"event", &corev1.Event{
			ObjectMeta:          metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
			InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "u-1", APIVersion: "v1", ResourceVersion: "7", FieldPath: "spec.containers{nginx}"},
			Reason:              "Pulled",
			Type:                corev1.EventTypeNormal,
			ReportingController: "kubelet",
		}, fields.Set{
			"metadata.name": "web.1", "metadata.namespace": "default",
			"involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "web", "involvedObject.uid": "u-1",
			"involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "7", "involvedObject.fieldPath": "spec.containers{nginx}",
			"reason": "Pulled", "reportingComponent": "kubelet", "source": "kubelet", "type": "Normal",
		}},
		{"events.k8s.io event", &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: "web.2", Namespace: "default"},
			Regarding:  corev1.ObjectReference{Kind: "Pod", Name: "web"},
			Reason:     "Scheduled", Type: "Normal", ReportingController: "default-scheduler",
		}, fields.Set{
			"metadata.name": "web.2", "metadata.namespace": "default",
			"involvedObject.kind": "Pod", "involvedObject.namespace": "", "involvedObject.name": "web", "involvedObject.uid": "",
			"involvedObject.apiVersion": "", "involvedObject.resourceVersion": "", "involvedObject.fieldPath": "",
			"reason": "Scheduled", "reportingComponent": "default-scheduler", "source": "default-scheduler", "type": "Normal",
		}},
		{"namespaced custom resource", &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]interface{}{"name": "gizmo", "namespace": "default"},
			"spec": map[string]interface{}{"color": "blue"},
		}}, fields.Set{"metadata.name": "gizmo", "metadata.namespace": "default"}},
		{"cluster-scoped custom resource", &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]interface{}{"name": "gizmo"},
		}}, fields.Set{"metadata.name": "gizmo"}},
		{"unstructured node", &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "v1", "kind": "Node", "metadata": map[string]interface{}{"name": "worker-2"},
		}}, fields.Set{"metadata.name": "worker-2", "spec.unschedulable": "false"}},
		{"not an object", &metav1.Status{}, fields.Set{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fields(tt.obj); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Fields:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		gvk   schema.GroupVersionKind
		label string
		want  bool
	}{
		{podGVK, "spec.nodeName", true},
		{podGVK, "spec.host", true},
		{podGVK, "status.podIPs", true},
		{podGVK, "spec.containers", false},
		{nodeGVK, "spec.unschedulable", true},
		{nodeGVK, "metadata.namespace", false},
		{eventGVK, "involvedObject.uid", true},
		{newEventGV, "regarding.name", true},
		{newEventGV, "involvedObject.name", false},
		{jobGVK, "status.successful", true},
		{deployGVK, "metadata.name", true},
		{deployGVK, "status.replicas", false},
		{appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "status.replicas", false},
		{widgetGVK, "metadata.namespace", true},
		{widgetGVK, "spec.color", false},
	}
	for _, tt := range tests {
		t.Run(tt.gvk.Kind+"/"+tt.label, func(t *testing.T) {
			if got := Supported(tt.gvk, tt.label); got != tt.want {
				t.Errorf("Supported = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		gvk      schema.GroupVersionKind
		selector string
		wantSel  string // canonical form of the parsed selector
		wantErr  string
	}{
		{"empty selects everything", podGVK, "", "", ""},
		{"describe node's pod query", podGVK, "spec.nodeName=worker-1,status.phase!=Failed,status.phase!=Succeeded",
			"spec.nodeName=worker-1,status.phase!=Failed,status.phase!=Succeeded", ""},
		{"old spelling rewritten", podGVK, "spec.host=worker-1", "spec.nodeName=worker-1", ""},
		{"describe's event query", eventGVK, "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=u-1",
			"involvedObject.kind=Pod,involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u-1", ""},
		{"events.k8s.io names mapped", newEventGV, "regarding.name=web,reportingController=kubelet",
			"involvedObject.name=web,reportingComponent=kubelet", ""},
		{"unknown pod field", podGVK, "spec.containers=x", "", "field label not supported: spec.containers"},
		{"job has its own wording", jobGVK, "status.failed=1", "", `field label "status.failed" not supported for batchv1.Job`},
		{"kinds without rules", deployGVK, "status.replicas=3", "", `"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{"custom resource by name", widgetGVK, "metadata.name=gizmo", "metadata.name=gizmo", ""},
		{"syntax error", podGVK, "spec.nodeName", "", "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := Parse(tt.gvk, tt.selector)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.String(); got != tt.wantSel {
				t.Errorf("selector = %q, want %q", got, tt.wantSel)
			}
		})
	}
}

// The end-to-end use: parse what kubectl sends, match what the store holds.
func TestParseThenMatch(t *testing.T) {
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "worker-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "worker-1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "worker-2"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default"}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
	}
	tests := []struct {
		selector string
		want     []string
	}{
		{"spec.nodeName=worker-1,status.phase!=Succeeded", []string{"a"}},
		{"spec.nodeName=", []string{"d"}}, // what the scheduler watches: unscheduled pods
		{"status.phase=Running", []string{"a", "c"}},
		{"metadata.name=c", []string{"c"}},
		{"status.podIPs=", []string{"a", "b", "c", "d"}}, // accepted, never filled
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := Parse(podGVK, tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pods {
				if sel.Matches(Fields(p)) {
					got = append(got, p.Name)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}
