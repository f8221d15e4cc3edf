// Package serviceaccount is the ServiceAccount controller
// ("serviceaccount" in kube-controller-manager): every active namespace
// has a ServiceAccount named "default", the identity pods run as when they
// name none. Delete it and it comes back.
//
//	Namespace add/update ───────────┐
//	ServiceAccount "default" delete ┴─▶ queue ─▶ worker ─▶ sync("ns")
//	                                              └─ active and no "default"? create it
//
// Since 1.24 no token Secret is made for it: pods get short-lived tokens
// through the TokenRequest API (a projected volume) instead.
package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Names are the service accounts every namespace gets (upstream's
// --service-account-names default).
var Names = []string{"default"}

// Controller ensures the default ServiceAccount in every active namespace.
type Controller struct {
	// kube creates ServiceAccounts.
	kube kubernetes.Interface
	// namespaces and accounts read the informers' caches.
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	// queue holds namespace names.
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller on the given informers.
func New(kube kubernetes.Interface, namespaces coreinformers.NamespaceInformer, accounts coreinformers.ServiceAccountInformer) (*Controller, error) {
	c := &Controller{
		kube:       kube,
		namespaces: namespaces.Lister(),
		accounts:   accounts.Lister(),
		synced:     []cache.InformerSynced{namespaces.Informer().HasSynced, accounts.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
	}
	if _, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur interface{}) { c.enqueueNamespace(cur) },
	}); err != nil {
		return nil, fmt.Errorf("watch namespaces: %w", err)
	}
	if _, err := accounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.accountDeleted}); err != nil {
		return nil, fmt.Errorf("watch serviceaccounts: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNamespace(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) accountDeleted(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if sa, ok := obj.(*corev1.ServiceAccount); ok {
		c.queue.Add(sa.Namespace)
	}
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	slog.Info("starting controller", "controller", "serviceaccount", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("serviceaccount controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "serviceaccount")
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
		slog.Warn("serviceaccount sync failed, will retry", "namespace", ns, "err", err)
		c.queue.AddRateLimited(ns)
		return true
	}
	c.queue.Forget(ns)
	return true
}

// sync creates the missing default service accounts of one namespace.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", namespace, err)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		return nil // a terminating namespace accepts no new objects
	}
	var errs []error
	for _, name := range Names {
		switch _, err := c.accounts.ServiceAccounts(namespace).Get(name); {
		case err == nil:
			continue
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("get serviceaccount %s/%s: %w", namespace, name, err))
			continue
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
		_, err := c.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
		switch {
		case err == nil:
			slog.Debug("created service account", "namespace", namespace, "name", name)
		case apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// the cache was behind, or the namespace began terminating
		default:
			errs = append(errs, fmt.Errorf("create serviceaccount %s/%s: %w", namespace, name, err))
		}
	}
	return errors.Join(errs...)
}
