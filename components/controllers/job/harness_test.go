package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness runs the controller's sync against a fake clientset. Before each
// sync it copies the fake's objects into the listers' indexers: that is
// what the informers would do, minus the lag.
type harness struct {
	t        *testing.T
	kube     *fake.Clientset
	c        *Controller
	jobs     cache.Indexer
	pods     cache.Indexer
	recorder *record.FakeRecorder
	events   []string
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	kube := fake.NewClientset(objs...)
	var seq atomic.Int32
	// The fake does not implement generateName; the API server does.
	kube.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, seq.Add(1))
			pod.UID = types.UID("uid-" + pod.Name)
			pod.CreationTimestamp = metav1.NewTime(now)
		}
		return false, nil, nil
	})
	h := &harness{
		t: t, kube: kube,
		jobs:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		pods:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		recorder: record.NewFakeRecorder(100),
	}
	h.c = &Controller{
		kube: kube, jobs: batchlisters.NewJobLister(h.jobs), pods: corelisters.NewPodLister(h.pods),
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		orphans:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		backoff:  newBackoffStore(),
		recorder: h.recorder,
		now:      func() time.Time { return now },
	}
	h.c.expect = newExpectations(h.c.now)
	t.Cleanup(func() { h.c.queue.ShutDown(); h.c.orphans.ShutDown() })
	return h
}

// sync refreshes the caches and syncs job "ns/name" once.
func (h *harness) sync(key string) error {
	h.t.Helper()
	ctx := context.Background()
	jobs, err := h.kube.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var jobObjs, podObjs []interface{}
	for i := range jobs.Items {
		jobObjs = append(jobObjs, &jobs.Items[i])
	}
	for i := range pods.Items {
		podObjs = append(podObjs, &pods.Items[i])
	}
	clustertestMust(h.t, h.jobs.Replace(jobObjs, ""))
	clustertestMust(h.t, h.pods.Replace(podObjs, ""))
	// The informer would have told the expectations about our own writes.
	h.c.expect.forget(key)
	err = h.c.sync(ctx, key)
	h.drainEvents()
	return err
}

func (h *harness) drainEvents() {
	for {
		select {
		case e := <-h.recorder.Events:
			h.events = append(h.events, e)
		default:
			return
		}
	}
}

// job reads the Job back from the fake API server.
func (h *harness) job(name string) *batchv1.Job {
	h.t.Helper()
	j, err := h.kube.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// podList returns the pods in the fake API server, sorted by name.
func (h *harness) podList() []corev1.Pod {
	h.t.Helper()
	pods, err := h.kube.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods.Items
}

// setPhase plays kubelet: it finishes the named pod.
func (h *harness) setPhase(name string, phase corev1.PodPhase) {
	h.t.Helper()
	ctx := context.Background()
	p, err := h.kube.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status.Phase = phase
	if _, err := h.kube.CoreV1().Pods("ns").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) hasEvent(prefix string) bool {
	for _, e := range h.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func clustertestMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newJob is a Job as the API server stores it: defaulted, with the
// generated selector and template labels.
func newJob(name string, completions, parallelism *int32) *batchv1.Job {
	uid := types.UID("job-uid-" + name)
	labels := map[string]string{batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name, "controller-uid": string(uid), "job-name": name}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec: batchv1.JobSpec{
			Completions: completions, Parallelism: parallelism,
			BackoffLimit:   ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion),
			Suspend:        ptr.To(false),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "work", Image: "busybox"}}},
			},
		},
	}
}

// podOf is a pod of job in the given phase, with the tracking finalizer.
func podOf(job *batchv1.Job, name string, phase corev1.PodPhase) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: job.Namespace, UID: types.UID("uid-" + name), Labels: labels,
			Finalizers:        []string{batchv1.JobTrackingFinalizer},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Minute)),
		},
		Spec:   job.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: phase},
	}
}

func withIndexAnnotation(p *corev1.Pod, i int) *corev1.Pod {
	p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: fmt.Sprint(i)}
	return p
}

// conditions lists "Type=Status/Reason" of a Job's conditions.
func conditions(j *batchv1.Job) []string {
	var out []string
	for _, c := range j.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}
