package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// maxPodChangesPerSync caps creations/deletions in one sync so one huge Job
// cannot starve the others (upstream's MaxPodCreateDeletePerSync).
const maxPodChangesPerSync = 500

// manage creates or deletes pods so that the right number runs, and
// returns the new number of active pods. Like upstream it either deletes or
// creates in one sync, never both.
func (c *Controller) manage(ctx context.Context, s *state) (int32, error) {
	job := s.job
	active := int32(len(s.active))
	if suspended(job) {
		// A suspended Job runs nothing; its pods are not failures, so their
		// finalizers go before the delete.
		deleted, ready, err := c.deletePods(ctx, s.key, job, s.active)
		s.terminating += deleted
		s.ready -= ready
		return active - deleted, err
	}

	want := *job.Spec.Parallelism
	if job.Spec.Completions == nil {
		if s.succeeded > 0 {
			want = active // one success: let what runs finish, start nothing new
		}
	} else {
		want = min(max(*job.Spec.Completions-s.succeeded, 0), want)
	}

	var rm []*corev1.Pod
	left := s.active
	if isIndexed(job) {
		rm, left = surplusIndexedPods(job, s.succeededIndexes, s.active)
	}
	if extra := int(active-want) - len(rm); extra > 0 {
		sortForRemoval(left)
		rm = append(rm, left[:min(extra, len(left))]...)
	}
	if len(rm) > 0 {
		rm = rm[:min(len(rm), maxPodChangesPerSync)]
		deleted, ready, err := c.deletePods(ctx, s.key, job, rm)
		s.terminating += deleted
		s.ready -= ready
		return active - deleted, err
	}

	terminating := int32(0)
	if onlyReplaceFailed(job) {
		terminating = s.terminating // wait for deleted pods to be really gone
	}
	diff := min(want-terminating-active, maxPodChangesPerSync)
	if diff <= 0 {
		return active, nil
	}
	if wait := s.backoff.remaining(c.now()); wait > 0 {
		// Pods have been failing: the next one waits (10s, 20s, 40s, …).
		c.queue.AddAfter(s.key, wait)
		return active, nil
	}
	indexes := []int(nil)
	if isIndexed(job) {
		indexes = pendingIndexes(job, s.succeededIndexes, s.active, int(diff))
		diff = int32(len(indexes))
	}
	created, err := c.createPods(ctx, s.key, job, int(diff), indexes)
	return active + created, err
}

// createPods creates n pods (or one per index) in growing batches (1, 2, 4,
// …): if the first creation fails, say over quota, we stop early instead of
// sending n doomed requests and n warning events.
func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, n int, indexes []int) (int32, error) {
	c.expect.expect(key, n, 0)
	template := job.Spec.Template.DeepCopy()
	if isIndexed(job) {
		addIndexEnv(template)
	}
	created := int32(0)
	var errs []error
	for batch, next := min(1, n), 0; next < n; batch = min(2*batch, n-next) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := false
		for i := next; i < next+batch; i++ {
			index := noIndex
			if indexes != nil {
				index = indexes[i]
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.createPod(ctx, job, template, index)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					c.expect.created(key) // the informer will never see it
					failed = true
					errs = append(errs, err)
					return
				}
				created++
			}()
		}
		wg.Wait()
		next += batch
		if failed {
			for ; next < n; next++ {
				c.expect.created(key) // skipped: not expected either
			}
		}
	}
	return created, errors.Join(errs...)
}

func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, template *corev1.PodTemplateSpec, index int) error {
	t := template.DeepCopy()
	generateName := job.Name + "-"
	if index != noIndex {
		withIndex(job, t, index)
		generateName = indexedGenerateName(job.Name, index)
	}
	if !hasString(t.Finalizers, batchv1.JobTrackingFinalizer) {
		t.Finalizers = append(t.Finalizers, batchv1.JobTrackingFinalizer)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName, Namespace: job.Namespace,
			Labels: t.Labels, Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: t.Spec,
	}
	got, err := c.kube.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away, and this Job with it
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("create pod for job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", got.Name)
	return nil
}

// indexedGenerateName is "<job>-<index>-", shortened so the generated name
// still fits in 63 characters.
func indexedGenerateName(job string, index int) string {
	suffix := fmt.Sprintf("-%d-", index)
	const maxGenerated = 63 - 5
	if len(job)+len(suffix) > maxGenerated {
		job = job[:maxGenerated-len(suffix)]
	}
	return job + suffix
}

// deletePods removes pods that should not run (surplus, suspended Job).
// Their finalizer goes first: they neither succeeded nor failed.
func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (deleted, ready int32, err error) {
	c.expect.expect(key, 0, len(pods))
	return c.forEachPod(pods, func(p *corev1.Pod) error {
		if err := c.removeFinalizer(ctx, p); err != nil {
			c.expect.deleted(key)
			return err
		}
		if err := c.removePod(ctx, job, p); err != nil {
			c.expect.deleted(key)
			return err
		}
		return nil
	})
}

// deleteActive stops the pods of a Job that is ending. They keep their
// finalizer: trackStatus counts them as failed as they go.
func (c *Controller) deleteActive(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (deleted, ready int32, err error) {
	return c.forEachPod(pods, func(p *corev1.Pod) error { return c.removePod(ctx, job, p) })
}

func (c *Controller) removePod(ctx context.Context, job *batchv1.Job, p *corev1.Pod) error {
	err := c.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	return nil
}

// forEachPod runs fn on each pod in parallel and counts successes (and
// how many of those were ready).
func (c *Controller) forEachPod(pods []*corev1.Pod, fn func(*corev1.Pod) error) (done, ready int32, err error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := fn(p)
			mu.Lock()
			defer mu.Unlock()
			if e != nil {
				errs = append(errs, e)
				return
			}
			done++
			if isReady(p) {
				ready++
			}
		}()
	}
	wg.Wait()
	return done, ready, errors.Join(errs...)
}

// removeFinalizer patches our finalizer away (a strategic-merge directive,
// so other finalizers and concurrent writers are untouched).
func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	if !hasFinalizer(p) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
	}})
	_, err := c.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer from pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// releaseOrphan removes our finalizer from a pod whose Job is gone. It asks
// the API server, not the cache, whether the Job is really gone.
func (c *Controller) releaseOrphan(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !hasFinalizer(pod)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s from cache: %w", key, err)
	}
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "Job" {
		job, err := c.kube.BatchV1().Jobs(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case err == nil && job.UID == ref.UID:
			return nil // the Job exists after all: its sync handles the pod
		case err != nil && !apierrors.IsNotFound(err):
			return fmt.Errorf("get job %s/%s of pod %s: %w", ns, ref.Name, key, err)
		}
	}
	slog.Debug("removing job tracking finalizer from orphan pod", "pod", key)
	return c.removeFinalizer(ctx, pod)
}

// sortForRemoval puts the cheapest pods to lose first: unscheduled before
// scheduled, pending before running, not ready before ready, newer first.
func sortForRemoval(pods []*corev1.Pod) {
	rank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
			return a.Spec.NodeName == ""
		}
		if rank[a.Status.Phase] != rank[b.Status.Phase] {
			return rank[a.Status.Phase] < rank[b.Status.Phase]
		}
		if isReady(a) != isReady(b) {
			return !isReady(a)
		}
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	})
}

func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func countReady(pods []*corev1.Pod) int32 {
	n := int32(0)
	for _, p := range pods {
		if isReady(p) {
			n++
		}
	}
	return n
}

// countTerminating: pods being deleted that have not finished.
func countTerminating(pods []*corev1.Pod) int32 {
	n := int32(0)
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// isPodFailed: Failed, or (unless only failed pods are replaced) deleted
// before it could succeed — an orphan may never reach Failed.
func isPodFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailed(job) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// onlyReplaceFailed: podReplacementPolicy Failed (the default with a pod
// failure policy) waits for a deleted pod to be gone before replacing it.
func onlyReplaceFailed(job *batchv1.Job) bool {
	return ptr.Deref(job.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed || job.Spec.PodFailurePolicy != nil
}

func hasFinalizer(p *corev1.Pod) bool { return hasString(p.Finalizers, batchv1.JobTrackingFinalizer) }

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func uidSet(uids []types.UID) sets.Set[string] {
	s := sets.New[string]()
	for _, u := range uids {
		s.Insert(string(u))
	}
	return s
}
