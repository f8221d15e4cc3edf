package membership

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TriggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation: when did the change that this write publishes happen? The
// answer is the earliest trigger (a pod's Ready condition flipping, or the
// service being created) the controller had not seen at its last sync of
// the service. Tools measure network programming latency from it: the time
// from the trigger until kube-proxy has the rule in place.
type TriggerTimes struct {
	mu    sync.Mutex
	state map[string]seen // by service key
}

type seen struct {
	pods    map[string]time.Time // pod name → last Ready transition
	service time.Time
}

// NewTriggerTimes returns an empty tracker.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{state: map[string]seen{}}
}

// Compute returns the trigger time for a sync of svc over pods (zero when
// nothing new happened) and remembers what it saw. Call it on every sync,
// even one that ends up writing nothing, so the memory stays current.
func (t *TriggerTimes) Compute(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := svc.Namespace + "/" + svc.Name
	t.mu.Lock()
	last, known := t.state[key]
	t.mu.Unlock()

	var earliest time.Time
	consider := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	now := seen{pods: make(map[string]time.Time, len(pods)), service: svc.CreationTimestamp.Time}
	for _, pod := range pods {
		at := readyTransition(pod)
		if at.IsZero() {
			continue
		}
		now.pods[pod.Name] = at
		if at.After(last.pods[pod.Name]) {
			consider(at)
		}
	}
	if now.service.After(last.service) {
		consider(now.service)
	}

	t.mu.Lock()
	t.state[key] = now
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time // a service we never saw: its creation started it all
	}
	return earliest
}

// Forget drops a deleted service.
func (t *TriggerTimes) Forget(namespace, name string) {
	t.mu.Lock()
	delete(t.state, namespace+"/"+name)
	t.mu.Unlock()
}

func readyTransition(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
