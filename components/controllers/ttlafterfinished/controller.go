// Package ttlafterfinished is the TTL-after-finished controller of
// kube-controller-manager: it deletes finished Jobs whose
// spec.ttlSecondsAfterFinished has run out, so completed work does not pile
// up (a CronJob's history limits do the same for its own Jobs).
//
//	Job informer ─▶ queue ─▶ sync(key)
//	                           ├─ not finished, or no TTL: nothing to do
//	                           ├─ expires later: requeue at exactly that time
//	                           └─ expired: GET the Job fresh (the user may have
//	                              changed the TTL), check again, then DELETE
//	                              with propagationPolicy Background (the garbage
//	                              collector removes its pods)
//
// A Job finishes when it gets a Complete or Failed condition; its finish
// time is that condition's lastTransitionTime.
package ttlafterfinished

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// Controller deletes expired finished Jobs.
type Controller struct {
	// kube re-reads a Job before deleting it, and deletes it.
	kube   kubernetes.Interface
	jobs   batchlisters.JobLister
	synced cache.InformerSynced
	// queue holds "namespace/name" of Jobs that may have a TTL to watch.
	queue workqueue.TypedRateLimitingInterface[string]
	now   func() time.Time
}

// New builds the controller fed by the Job informer.
func New(kube kubernetes.Interface, jobs batchinformers.JobInformer) (*Controller, error) {
	c := &Controller{
		kube: kube, jobs: jobs.Lister(), synced: jobs.Informer().HasSynced, now: time.Now,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttl_jobs_to_delete"}),
	}
	_, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watch jobs: %w", err)
	}
	return c, nil
}

// enqueue queues only Jobs that have a TTL and may need cleaning up.
func (c *Controller) enqueue(obj interface{}) {
	job, ok := obj.(*batchv1.Job)
	if !ok || !needsCleanup(job) {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(job); err == nil {
		c.queue.Add(key)
	}
}

// Run waits for the cache, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "ttl-after-finished", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return errors.New("ttl-after-finished controller: cache did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "ttl-after-finished")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

func (c *Controller) processNextItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		slog.Warn("ttl-after-finished sync failed, will retry", "job", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync deletes the Job if its TTL ran out, else comes back when it will.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s from cache: %w", key, err)
	}
	if expired, err := c.checkExpired(key, job); err != nil || !expired {
		return err
	}
	// The cache may be stale and the user may just have raised the TTL:
	// decide on the stored Job, not the cached one.
	fresh, err := c.kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s: %w", key, err)
	}
	if expired, err := c.checkExpired(key, fresh); err != nil || !expired {
		return err
	}
	// Background: the Job goes now, the garbage collector deletes its pods.
	// The UID precondition makes sure we delete this Job, not a new one of
	// the same name.
	err = c.kube.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete expired job %s: %w", key, err)
	}
	slog.Info("deleted finished job after its TTL", "job", key)
	return nil
}

// checkExpired reports whether the Job's TTL ran out; if it runs out
// later, it requeues the Job for exactly then.
func (c *Controller) checkExpired(key string, job *batchv1.Job) (bool, error) {
	if !needsCleanup(job) {
		return false, nil
	}
	left, err := timeLeft(job, c.now())
	if err != nil {
		return false, err
	}
	if left > 0 {
		c.queue.AddAfter(key, left)
		return false, nil
	}
	return true, nil
}

// needsCleanup: a TTL is set, the Job finished, and is not being deleted.
func needsCleanup(job *batchv1.Job) bool {
	return job.Spec.TTLSecondsAfterFinished != nil && job.DeletionTimestamp == nil && finishTime(job) != nil
}

// timeLeft until the Job expires (zero or less: expired).
func timeLeft(job *batchv1.Job, now time.Time) (time.Duration, error) {
	finished := finishTime(job)
	if finished == nil {
		return 0, fmt.Errorf("job %s/%s has no finish time", job.Namespace, job.Name)
	}
	if finished.After(now) {
		slog.Warn("job finish time is in the future: clock skew?", "job", job.Namespace+"/"+job.Name)
	}
	return finished.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), nil
}

// finishTime is when the Complete or Failed condition became True.
func finishTime(job *batchv1.Job) *time.Time {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			t := c.LastTransitionTime.Time
			return &t
		}
	}
	return nil
}
