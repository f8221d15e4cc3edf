package job

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Pod failure back-off, like upstream: after n consecutive failures the next
// pod waits 10s·2^(n-1), never more than six minutes (the documented cap).
const (
	defaultBackoff = 10 * time.Second
	maxBackoff     = 6 * time.Minute
)

// backoffRecord: how many pods failed since the last success, and when the
// last of them finished.
type backoffRecord struct {
	failuresAfterLastSuccess int32
	lastFailureTime          *time.Time
}

// backoffStore keeps one record per Job key, in memory: after a restart the
// controller starts counting afresh, like upstream.
type backoffStore struct {
	mu      sync.Mutex
	records map[string]backoffRecord
}

func newBackoffStore() *backoffStore { return &backoffStore{records: map[string]backoffRecord{}} }

func (s *backoffStore) get(key string) backoffRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[key]
}

func (s *backoffStore) set(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key)
}

// next folds the pods that finished since the last sync into the record:
// a success resets the count, failures after the last success add to it.
func (r backoffRecord) next(succeeded, failed []*corev1.Pod) backoffRecord {
	sortByFinishTime(succeeded)
	sortByFinishTime(failed)
	if len(succeeded) == 0 {
		if len(failed) == 0 {
			return r
		}
		last := finishTime(failed[len(failed)-1])
		return backoffRecord{failuresAfterLastSuccess: r.failuresAfterLastSuccess + int32(len(failed)), lastFailureTime: &last}
	}
	out := backoffRecord{}
	lastSuccess := finishTime(succeeded[len(succeeded)-1])
	for i := len(failed) - 1; i >= 0; i-- {
		t := finishTime(failed[i])
		if !t.After(lastSuccess) {
			break
		}
		if out.lastFailureTime == nil {
			out.lastFailureTime = &t
		}
		out.failuresAfterLastSuccess++
	}
	return out
}

// remaining is how long the next pod must still wait.
func (r backoffRecord) remaining(now time.Time) time.Duration {
	if r.failuresAfterLastSuccess == 0 || r.lastFailureTime == nil {
		return 0
	}
	d := defaultBackoff
	for i := int32(1); i < r.failuresAfterLastSuccess; i++ {
		d *= 2
		if d >= maxBackoff {
			d = maxBackoff
			break
		}
	}
	if elapsed := now.Sub(*r.lastFailureTime); elapsed < d {
		return d - elapsed
	}
	return 0
}

func sortByFinishTime(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return finishTime(pods[i]).Before(finishTime(pods[j])) })
}

// finishTime: when the last container terminated; else when the pod turned
// not ready; else when it was deleted; else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var latest *time.Time
	for i := range p.Status.ContainerStatuses {
		term := p.Status.ContainerStatuses[i].State.Terminated
		if term == nil || term.FinishedAt.IsZero() {
			latest = nil
			break
		}
		if latest == nil || latest.Before(term.FinishedAt.Time) {
			latest = &term.FinishedAt.Time
		}
	}
	if latest != nil {
		return *latest
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Add(-time.Duration(ptr.Deref(p.DeletionGracePeriodSeconds, 0)) * time.Second)
	}
	return p.CreationTimestamp.Time
}
