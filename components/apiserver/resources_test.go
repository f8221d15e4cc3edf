package apiserver_test

import (
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

func TestServiceAllocation(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	svcs := cs.CoreV1().Services(ns)
	port := []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}
	a, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.ServiceSpec{Ports: port, Selector: map[string]string{"app": "a"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, cidr, _ := net.ParseCIDR("10.32.0.0/24")
	if ip := net.ParseIP(a.Spec.ClusterIP); ip == nil || !cidr.Contains(ip) || a.Spec.ClusterIP == "10.32.0.1" {
		t.Fatalf("cluster IP %q not allocated from 10.32.0.0/24", a.Spec.ClusterIP)
	}
	if a.Spec.Ports[0].Protocol != corev1.ProtocolTCP || a.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Fatalf("defaults: %+v", a.Spec)
	}
	// The same IP cannot be taken twice, and an IP out of range is refused.
	dup := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.ServiceSpec{Ports: port, ClusterIP: a.Spec.ClusterIP}}
	if _, err := svcs.Create(ctx, dup, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "already allocated") {
		t.Fatalf("duplicate IP: %v", err)
	}
	dup.Spec.ClusterIP = "10.99.0.5"
	if _, err := svcs.Create(ctx, dup, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "valid range") {
		t.Fatalf("out of range IP: %v", err)
	}
	// NodePort: a requested port is honoured, then taken.
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30123}}}}
	got, err := svcs.Create(ctx, np, metav1.CreateOptions{})
	if err != nil || got.Spec.Ports[0].NodePort != 30123 {
		t.Fatalf("nodeport create: %v %v", got, err)
	}
	np.Name = "np2"
	if _, err := svcs.Create(ctx, np, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("taken node port: want Invalid, got %v", err)
	}
	// Deleting releases: the IP can be reused.
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	dup.Spec.ClusterIP = a.Spec.ClusterIP
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = svcs.Create(ctx, dup, metav1.CreateOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("reusing a released IP: %v", err)
	}
}

var crontabGVR = schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "crontabs"}

func TestCustomResourceRoundTrip(t *testing.T) {
	ctx, cs, dc, ns := setup(t)
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "crontabs.stable.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "stable.example.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "crontabs", Singular: "crontab", Kind: "CronTab", ShortNames: []string{"ct"}},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"cronSpec": {Type: "string"}, "image": {Type: "string"}, "replicas": {Type: "integer"}}}}}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
	crdClient := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("apiextensions.k8s.io/v1")
	obj.SetKind("CustomResourceDefinition")
	if _, err := crdClient.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer crdClient.Delete(ctx, crd.Name, metav1.DeleteOptions{})
	waitEstablished(t, dc, crd.Name)
	if !servesResource(t, cs, "stable.example.com/v1", "crontabs") {
		t.Fatal("crontabs not in discovery after the CRD is established")
	}

	ct := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "stable.example.com/v1", "kind": "CronTab",
		"metadata": map[string]interface{}{"name": "my-new-cron-object"},
		"spec":     map[string]interface{}{"cronSpec": "* * * * */5", "image": "my-awesome-cron-image"},
		"status":   map[string]interface{}{"ignored": true},
	}}
	crs := dc.Resource(crontabGVR).Namespace(ns)
	got, err := crs.Create(ctx, ct, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, has := got.Object["status"]; has || got.GetGeneration() != 1 {
		t.Fatalf("custom resource with /status: create must drop status and set generation 1: %v", got.Object)
	}
	unstructured.SetNestedField(got.Object, "busybox", "spec", "image")
	got, err = crs.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || got.GetGeneration() != 2 {
		t.Fatalf("update: generation %d, %v", got.GetGeneration(), err)
	}
	// The schema prunes, defaults nothing here, and validates types.
	bad := ct.DeepCopy()
	bad.SetName("bad-type")
	unstructured.SetNestedField(bad.Object, "three", "spec", "replicas")
	if _, err := crs.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Fatalf("string for an integer field: want 422 naming spec.replicas, got %v", err)
	}
	extra := ct.DeepCopy()
	extra.SetName("extra-field")
	unstructured.SetNestedField(extra.Object, "x", "spec", "unknownField")
	if _, err := crs.Create(ctx, extra, metav1.CreateOptions{FieldValidation: "Strict"}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field with strict validation: want 400, got %v", err)
	}
	pruned, err := crs.Create(ctx, extra, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(pruned.Object, "spec", "unknownField"); found {
		t.Fatal("an undeclared field was stored: it must be pruned")
	}
	if err := crs.Delete(ctx, "extra-field", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := crs.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	// Deleting the CRD deletes its objects.
	if err := crdClient.Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := crdClient.Get(ctx, crd.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD still there 10s after delete: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := testCP.Server.Registry.Etcd().Count(ctx, "/registry/stable.example.com/crontabs/"); n != 0 {
		t.Fatalf("%d crontabs left in etcd after the CRD was deleted", n)
	}
}

func waitEstablished(t *testing.T, dc dynamic.Interface, name string) {
	t.Helper()
	c := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		u, err := c.Get(t.Context(), name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m := c.(map[string]interface{})
				if m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("CRD %s not Established after 10s", name)
}

func servesResource(t *testing.T, cs kubernetes.Interface, gv, resource string) bool {
	t.Helper()
	d := cs.Discovery().(*discovery.DiscoveryClient)
	list, err := d.ServerResourcesForGroupVersion(gv)
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true
		}
	}
	return false
}

func TestAggregatedDiscovery(t *testing.T) {
	ctx, cs, _, _ := setup(t)
	res := cs.CoreV1().RESTClient().Get().AbsPath("/apis").
		SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json").Do(ctx)
	var ct string
	res.ContentType(&ct)
	raw, err := res.Raw()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ct, "as=APIGroupDiscoveryList") {
		t.Fatalf("content type %q: want the aggregated discovery type", ct)
	}
	for _, want := range []string{`"name":"apps"`, `"resource":"deployments"`, `"subresource":"scale"`, `"kind":"Scale"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("aggregated /apis lacks %s", want)
		}
	}
	// client-go's discovery (which prefers the aggregated form) sees everything.
	_, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range lists {
		for _, r := range l.APIResources {
			if l.GroupVersion == "apps/v1" && r.Name == "deployments/scale" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("client-go discovery does not list deployments/scale")
	}
}
