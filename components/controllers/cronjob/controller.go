// Package cronjob is the CronJob controller of kube-controller-manager: it
// creates a Job at each start time of a CronJob's schedule.
//
//	CronJob informer ─┐
//	Job informer ─────┴▶ queue ─▶ sync(key)
//	 (a Job's events go to      ├─ status.active: drop finished Jobs (SawCompletedJob),
//	  its owning CronJob)       │  lastSuccessfulTime
//	                            ├─ most recent missed start time, if any
//	                            │  (too late for startingDeadlineSeconds → MissSchedule)
//	                            ├─ concurrencyPolicy: Allow / Forbid (skip) / Replace (delete active)
//	                            ├─ create Job "<cronjob>-<minutes since epoch>" (SuccessfulCreate)
//	                            ├─ delete Jobs beyond the history limits
//	                            └─ requeue at the next start time (no polling)
//
// The controller keeps no timers of its own: the workqueue's AddAfter is the
// alarm clock, and every wake-up recomputes everything from the CronJob's
// status, so a restart loses nothing.
package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Controller runs CronJobs.
type Controller struct {
	// kube creates and deletes Jobs and writes CronJob status.
	kube     kubernetes.Interface
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	synced   []cache.InformerSynced
	// queue holds "namespace/name" of CronJobs.
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New builds a CronJob controller.
func New(kube kubernetes.Interface, cronJobs batchinformers.CronJobInformer, jobs batchinformers.JobInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube: kube, cronJobs: cronJobs.Lister(), jobs: jobs.Lister(), recorder: recorder, now: time.Now,
		synced: []cache.InformerSynced{cronJobs.Informer().HasSynced, jobs.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob"}),
	}
	if _, err := cronJobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch cronjobs: %w", err)
	}
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueOwner,
		UpdateFunc: func(_, obj interface{}) { c.enqueueOwner(obj) },
		DeleteFunc: c.enqueueOwner,
	}); err != nil {
		return nil, fmt.Errorf("watch jobs: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueOwner queues the CronJob that controls a Job.
func (c *Controller) enqueueOwner(obj interface{}) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(job); ref != nil && ref.Kind == "CronJob" && ref.APIVersion == batchv1.SchemeGroupVersion.String() {
		c.queue.Add(job.Namespace + "/" + ref.Name)
	}
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "cronjob", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("cronjob controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "cronjob")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

// processNextItem syncs one CronJob and, if it has a next start time,
// schedules the wake-up for it.
func (c *Controller) processNextItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	next, err := c.sync(ctx, key)
	if err != nil {
		slog.Warn("cronjob sync failed, will retry", "cronjob", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	if next != nil {
		c.queue.AddAfter(key, *next)
	}
	return true
}
