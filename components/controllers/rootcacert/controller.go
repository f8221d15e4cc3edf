// Package rootcacert is the root CA publisher ("root-ca-cert-publisher" in
// kube-controller-manager): every active namespace holds a ConfigMap named
// kube-root-ca.crt with the cluster CA certificate, so a pod can check it
// is talking to the real API server (the kubelet mounts it next to the
// service account token, at /var/run/secrets/kubernetes.io/serviceaccount/ca.crt).
//
//	Namespace add/update ─────────────────────┐
//	ConfigMap kube-root-ca.crt update/delete ──┴─▶ queue ─▶ worker ─▶ sync("ns")
//	                                                     └─ missing? create; edited? put it back
package rootcacert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// ConfigMapName is the ConfigMap in every namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DescriptionAnnotation and Description say what the ConfigMap is for,
	// word for word as upstream.
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Controller publishes the root CA into every active namespace.
type Controller struct {
	// kube writes ConfigMaps.
	kube kubernetes.Interface
	// rootCA is the PEM bundle to publish.
	rootCA []byte
	// namespaces and configMaps read the informers' caches.
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	// queue holds namespace names.
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the publisher of rootCA (PEM) on the given informers.
func New(kube kubernetes.Interface, rootCA []byte, namespaces coreinformers.NamespaceInformer, configMaps coreinformers.ConfigMapInformer) (*Controller, error) {
	c := &Controller{
		kube:       kube,
		rootCA:     rootCA,
		namespaces: namespaces.Lister(),
		configMaps: configMaps.Lister(),
		synced:     []cache.InformerSynced{namespaces.Informer().HasSynced, configMaps.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "root_ca_cert_publisher"}),
	}
	if _, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur interface{}) { c.enqueueNamespace(cur) },
	}); err != nil {
		return nil, fmt.Errorf("watch namespaces: %w", err)
	}
	// Only our ConfigMap matters; the filter keeps the others' events away.
	if _, err := configMaps.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj interface{}) bool {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			cm, ok := obj.(*corev1.ConfigMap)
			return ok && cm.Name == ConfigMapName
		},
		Handler: cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, cur interface{}) { c.enqueueOf(cur) },
			DeleteFunc: c.enqueueOf,
		},
	}); err != nil {
		return nil, fmt.Errorf("watch configmaps: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNamespace(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) enqueueOf(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		c.queue.Add(cm.Namespace)
	}
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	slog.Info("starting controller", "controller", "root-ca-cert-publisher", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("root-ca-cert-publisher: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "root-ca-cert-publisher")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

func (c *Controller) processNextItem(ctx context.Context) bool {
	ns, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(ns)
	if err := c.sync(ctx, ns); err != nil {
		slog.Warn("root CA publishing failed, will retry", "namespace", ns, "err", err)
		c.queue.AddRateLimited(ns)
		return true
	}
	c.queue.Forget(ns)
	return true
}

// sync makes the namespace's kube-root-ca.crt hold the root CA.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", namespace, err)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		return nil
	}
	data := map[string]string{"ca.crt": string(c.rootCA)}
	cm, err := c.configMaps.ConfigMaps(namespace).Get(ConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		_, err := c.kube.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Annotations: map[string]string{DescriptionAnnotation: Description}},
			Data:       data,
		}, metav1.CreateOptions{})
		// A namespace that went away or began terminating: nothing to retry.
		if err == nil || apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("create configmap %s/%s: %w", namespace, ConfigMapName, err)
	case err != nil:
		return fmt.Errorf("get configmap %s/%s: %w", namespace, ConfigMapName, err)
	}
	if maps.Equal(cm.Data, data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy() // never modify the cache's copy
	cm.Data = data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	if _, err := c.kube.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update configmap %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}
