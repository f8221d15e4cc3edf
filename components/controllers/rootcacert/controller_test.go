package rootcacert

import (
	"context"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestSync(t *testing.T) {
	published := configMap(map[string]string{"ca.crt": pem}, map[string]string{DescriptionAnnotation: Description})
	tests := []struct {
		name     string
		phase    corev1.NamespacePhase // "": no namespace
		existing *corev1.ConfigMap
		wantVerb string // "create", "update" or "" for no write
	}{
		{name: "a new namespace gets the CA", phase: corev1.NamespaceActive, wantVerb: "create"},
		{name: "a published CA is left alone", phase: corev1.NamespaceActive, existing: published},
		{name: "an edited CA is put back", phase: corev1.NamespaceActive, wantVerb: "update",
			existing: configMap(map[string]string{"ca.crt": "tampered"}, map[string]string{DescriptionAnnotation: Description})},
		{name: "a missing description is put back", phase: corev1.NamespaceActive, wantVerb: "update",
			existing: configMap(map[string]string{"ca.crt": pem}, nil)},
		{name: "a terminating namespace gets nothing", phase: corev1.NamespaceTerminating},
		{name: "a deleted namespace gets nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nsIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			cmIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if tt.phase != "" {
				if err := nsIndex.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Status: corev1.NamespaceStatus{Phase: tt.phase}}); err != nil {
					t.Fatal(err)
				}
			}
			var objects []runtime.Object
			if tt.existing != nil {
				if err := cmIndex.Add(tt.existing); err != nil {
					t.Fatal(err)
				}
				objects = append(objects, tt.existing.DeepCopy())
			}
			kube := fake.NewClientset(objects...)
			c := &Controller{kube: kube, rootCA: []byte(pem), namespaces: corelisters.NewNamespaceLister(nsIndex), configMaps: corelisters.NewConfigMapLister(cmIndex)}

			if err := c.sync(context.Background(), "demo"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var verbs []string
			for _, a := range kube.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if (tt.wantVerb == "" && len(verbs) != 0) || (tt.wantVerb != "" && (len(verbs) != 1 || verbs[0] != tt.wantVerb)) {
				t.Fatalf("actions = %v, want %q", verbs, tt.wantVerb)
			}
			if tt.wantVerb == "" {
				return
			}
			got, err := kube.CoreV1().ConfigMaps("demo").Get(context.Background(), ConfigMapName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.Data, published.Data) || got.Annotations[DescriptionAnnotation] != Description {
				t.Errorf("configmap data %v annotations %v, want the CA and the description", got.Data, got.Annotations)
			}
			if tt.existing != nil && tt.existing.Data["ca.crt"] == "tampered" && cmIndex.List()[0].(*corev1.ConfigMap).Data["ca.crt"] != "tampered" {
				t.Error("sync modified the cached ConfigMap")
			}
		})
	}
}

func configMap(data, annotations map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "demo", Annotations: annotations, ResourceVersion: "3"}, Data: data}
}
