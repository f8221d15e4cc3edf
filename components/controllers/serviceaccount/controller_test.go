package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		ns         *corev1.Namespace
		existing   *corev1.ServiceAccount
		wantCreate bool
	}{
		{name: "a new namespace gets default", ns: namespace(corev1.NamespaceActive), wantCreate: true},
		{name: "an existing default is left alone", ns: namespace(corev1.NamespaceActive),
			existing: &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "demo"}}},
		{name: "a terminating namespace gets nothing", ns: namespace(corev1.NamespaceTerminating)},
		{name: "a deleted namespace gets nothing"},
		{name: "another account does not count", ns: namespace(corev1.NamespaceActive),
			existing: &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "demo"}}, wantCreate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nsIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			saIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			var objects []runtime.Object
			if tt.ns != nil {
				if err := nsIndex.Add(tt.ns); err != nil {
					t.Fatal(err)
				}
			}
			if tt.existing != nil {
				if err := saIndex.Add(tt.existing); err != nil {
					t.Fatal(err)
				}
				objects = append(objects, tt.existing)
			}
			kube := fake.NewClientset(objects...)
			c := &Controller{kube: kube, namespaces: corelisters.NewNamespaceLister(nsIndex), accounts: corelisters.NewServiceAccountLister(saIndex)}

			if err := c.sync(context.Background(), "demo"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			_, err := kube.CoreV1().ServiceAccounts("demo").Get(context.Background(), "default", metav1.GetOptions{})
			created := err == nil && (tt.existing == nil || tt.existing.Name != "default")
			if created != tt.wantCreate {
				t.Errorf("default created = %v, want %v (actions %v)", created, tt.wantCreate, kube.Actions())
			}
		})
	}
}

func namespace(phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Status: corev1.NamespaceStatus{Phase: phase}}
}
