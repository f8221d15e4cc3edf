// Package job is the Job controller of kube-controller-manager: it runs
// pods from a Job's template until enough of them succeed, or gives up.
//
//	Job informer ─┐                        ┌─▶ create pods (finalizer batch.kubernetes.io/job-tracking)
//	Pod informer ─┴─▶ queue ─▶ sync(key) ──┼─▶ delete pods (too many, suspended, failed Job)
//	 (pod events map to its Job through    ├─▶ status: active, ready, terminating, uncounted pods
//	  the controller ownerReference)       ├─▶ remove finalizers of counted pods
//	                                       └─▶ conditions: SuccessCriteriaMet→Complete,
//	                                           FailureTarget→Failed, Suspended
//
// Why a finalizer on every pod: pods may vanish at any time (the pod garbage
// collector, a user, node loss). If a finished pod were gone before the
// controller counted it, status.succeeded would be wrong forever. So each
// pod carries batch.kubernetes.io/job-tracking; the controller first records
// a finished pod's UID in status.uncountedTerminatedPods, then removes the
// finalizer, then moves the UID into the succeeded/failed counters. Each
// step is written to the API before the next, so a crash in between never
// loses or double-counts a pod.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Controller runs Jobs.
type Controller struct {
	// kube creates and deletes pods, patches their finalizers, and writes
	// Job status.
	kube kubernetes.Interface
	// jobs and pods read from the informer caches.
	jobs batchlisters.JobLister
	pods corelisters.PodLister
	// synced: workers wait until both caches were filled once.
	synced []cache.InformerSynced
	// queue holds "namespace/name" of Jobs to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// orphans holds "namespace/name" of pods that carry our finalizer but
	// whose Job is gone: nobody else would ever remove it.
	orphans workqueue.TypedRateLimitingInterface[string]
	// expect avoids acting twice on a stale cache.
	expect *expectations
	// backoff remembers consecutive pod failures per Job.
	backoff *backoffStore
	// recorder writes the Events `kubectl describe job` shows.
	recorder record.EventRecorder
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New builds a Job controller fed by the given informers.
func New(kube kubernetes.Interface, jobs batchinformers.JobInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube:     kube,
		jobs:     jobs.Lister(),
		pods:     pods.Lister(),
		synced:   []cache.InformerSynced{jobs.Informer().HasSynced, pods.Informer().HasSynced},
		recorder: recorder,
		now:      time.Now,
		// Like upstream: a failing Job is retried from 1s up to 60s.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job"}),
		orphans: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod"}),
	}
	c.expect = newExpectations(func() time.Time { return c.now() })
	c.backoff = newBackoffStore()
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueJob,
		UpdateFunc: func(_, obj interface{}) { c.enqueueJob(obj) },
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("watch jobs: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueJob(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// deleteJob: the Job is gone, but its pods may still hold our finalizer.
func (c *Controller) deleteJob(obj interface{}) {
	c.enqueueJob(obj) // sync forgets the Job's expectations and backoff
	job, ok := obj.(*batchv1.Job)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if job, ok = tomb.Obj.(*batchv1.Job); !ok {
			return
		}
	}
	pods, err := c.pods.Pods(job.Namespace).List(everything)
	if err != nil {
		return
	}
	for _, pod := range pods {
		if ref := metav1.GetControllerOf(pod); ref != nil && ref.UID == job.UID && hasFinalizer(pod) {
			c.orphans.Add(pod.Namespace + "/" + pod.Name)
		}
	}
}

// jobKeyOf maps a pod to its Job's key through the controller
// ownerReference. A pod that carries our finalizer but belongs to no Job we
// know is queued as an orphan.
func (c *Controller) jobKeyOf(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		if hasFinalizer(pod) {
			c.orphans.Add(pod.Namespace + "/" + pod.Name)
		}
		return "", false
	}
	job, err := c.jobs.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		if hasFinalizer(pod) {
			c.orphans.Add(pod.Namespace + "/" + pod.Name)
		}
		return "", false
	}
	return pod.Namespace + "/" + job.Name, true
}

func (c *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if key, ok := c.jobKeyOf(pod); ok {
		if pod.DeletionTimestamp == nil {
			c.expect.created(key)
		}
		c.queue.Add(key)
	}
}

func (c *Controller) updatePod(oldObj, newObj interface{}) {
	old, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == pod.ResourceVersion {
		return // a periodic resync, nothing changed
	}
	key, ok := c.jobKeyOf(pod)
	if !ok {
		return
	}
	if !hasFinalizer(pod) {
		c.expect.finalizerRemoved(key, string(pod.UID))
	}
	if old.DeletionTimestamp == nil && pod.DeletionTimestamp != nil {
		c.expect.deleted(key) // a graceful deletion started: that is the delete we asked for
	}
	c.queue.Add(key)
}

func (c *Controller) deletePod(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	key, ok := c.jobKeyOf(pod)
	if !ok {
		return
	}
	c.expect.finalizerRemoved(key, string(pod.UID))
	if pod.DeletionTimestamp == nil {
		c.expect.deleted(key) // removed at once (never graceful): count it now
	}
	c.queue.Add(key)
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.orphans.ShutDown()

	slog.Info("starting controller", "controller", "job", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("job controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	go wait.UntilWithContext(ctx, c.runOrphanWorker, time.Second)
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "job")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNext(ctx, c.queue, c.sync) {
	}
}

func (c *Controller) runOrphanWorker(ctx context.Context) {
	for c.processNext(ctx, c.orphans, c.releaseOrphan) {
	}
}

// processNext takes one key off q and handles it. Done lets another worker
// take the key later; Forget resets its back-off after a success.
func (c *Controller) processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], handle func(context.Context, string) error) bool {
	key, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(key)
	if err := handle(ctx, key); err != nil {
		slog.Warn("job sync failed, will retry", "key", key, "err", err)
		q.AddRateLimited(key)
		return true
	}
	q.Forget(key)
	return true
}
