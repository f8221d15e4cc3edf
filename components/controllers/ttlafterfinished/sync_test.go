package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func job(ttl *int32, finishedAgo time.Duration, cond batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "uid-1", ResourceVersion: "7"},
		Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-finishedAgo))}}
	}
	return j
}

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		cached     *batchv1.Job
		stored     *batchv1.Job // what a live GET returns; nil: same as cached
		wantDelete bool
		wantAfter  time.Duration // requeued after this long (0: not requeued)
	}{
		{name: "a completed Job past its TTL is deleted", cached: job(ptr.To[int32](100), 101*time.Second, batchv1.JobComplete), wantDelete: true},
		{name: "a failed Job past its TTL is deleted", cached: job(ptr.To[int32](0), time.Second, batchv1.JobFailed), wantDelete: true},
		{name: "before the TTL it comes back exactly at expiry", cached: job(ptr.To[int32](100), 40*time.Second, batchv1.JobComplete), wantAfter: 60 * time.Second},
		{name: "a running Job is left alone", cached: job(ptr.To[int32](0), 0, "")},
		{name: "a Job without TTL is left alone", cached: job(nil, time.Hour, batchv1.JobComplete)},
		{name: "a TTL raised since the cache saw it is honoured", cached: job(ptr.To[int32](10), 20*time.Second, batchv1.JobComplete),
			stored: job(ptr.To[int32](50), 20*time.Second, batchv1.JobComplete), wantAfter: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := tt.stored
			if stored == nil {
				stored = tt.cached
			}
			kube := fake.NewClientset(stored)
			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if err := indexer.Add(tt.cached); err != nil {
				t.Fatal(err)
			}
			q := &recordingQueue{TypedRateLimitingInterface: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
			defer q.ShutDown()
			c := &Controller{kube: kube, jobs: batchlisters.NewJobLister(indexer), queue: q, now: func() time.Time { return now }}

			if err := c.sync(context.Background(), "ns/pi"); err != nil {
				t.Fatal(err)
			}
			deleted := false
			for _, a := range kube.Actions() {
				if d, ok := a.(clienttesting.DeleteAction); ok {
					deleted = true
					opts := d.GetDeleteOptions()
					if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground || opts.Preconditions == nil || *opts.Preconditions.UID != "uid-1" {
						t.Errorf("delete options = %+v, want Background with a UID precondition", opts)
					}
				}
			}
			if deleted != tt.wantDelete {
				t.Errorf("deleted = %v, want %v", deleted, tt.wantDelete)
			}
			if q.after != tt.wantAfter {
				t.Errorf("requeued after %s, want %s", q.after, tt.wantAfter)
			}
		})
	}
}

// recordingQueue remembers the last AddAfter delay.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[string]
	after time.Duration
}

func (q *recordingQueue) AddAfter(item string, d time.Duration) { q.after = d }
