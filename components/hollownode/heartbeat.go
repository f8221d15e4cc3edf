package hollownode

import (
	"github.com/kubelab/kubelab/components/nodestatus"

	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// taskKind is one of the three things a kubelet writes about its node.
type taskKind int

const (
	taskRegister taskKind = iota // create (or adopt) the Node
	taskLease                    // renew the Lease in kube-node-lease
	taskStatus                   // report node status (conditions' lastHeartbeatTime)
)

// task is one heartbeat work item. A (node, kind) pair is in the queue at
// most once, and the queue's delays replace per-node tickers.
type task struct {
	node string
	kind taskKind
}

// jitter spreads a period: d plus up to factor·d, like wait.Jitter.
func jitter(d time.Duration, factor float64) time.Duration {
	return d + time.Duration(rand.Float64()*factor*float64(d))
}

func (s *Set) heartbeatWorker(ctx context.Context) {
	for {
		t, shutdown := s.tasks.Get()
		if shutdown {
			return
		}
		s.doTask(ctx, t)
		s.tasks.Done(t)
	}
}

// doTask runs one heartbeat task and schedules the next one. A failed node
// drops its tasks; Revive adds them back.
func (s *Set) doTask(ctx context.Context, t task) {
	n := s.nodes[t.node]
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.failed || ctx.Err() != nil {
		s.tasks.Forget(t)
		return
	}
	var err error
	var next time.Duration
	switch t.kind {
	case taskRegister:
		if err = s.register(ctx, n); err == nil {
			s.notify(n.name, "re-registered (its Node object had been deleted)")
			s.tasks.Add(task{n.name, taskLease})
		}
	case taskLease:
		// The kubelet's lease controller jitters its period by 4%.
		err, next = s.renewLease(ctx, n), jitter(s.o.RenewInterval, 0.04)
		if err == nil && s.statusDrifted(n.name) {
			// Someone else (the node lifecycle controller, after we were
			// silent) changed our conditions: like the kubelet, which
			// compares what it would post with the server's copy, report
			// now instead of at the next StatusInterval.
			s.tasks.Add(task{n.name, taskStatus})
		}
	case taskStatus:
		err, next = s.reportStatus(ctx, n), jitter(s.o.StatusInterval, 0.04)
		if err == errNodeGone {
			s.tasks.Add(task{n.name, taskRegister})
			err = nil
		}
	}
	if err != nil {
		slog.Debug("hollow node heartbeat failed, retrying", "node", n.name, "task", t.kind, "err", err)
		s.tasks.AddRateLimited(t)
		return
	}
	s.tasks.Forget(t)
	if next > 0 {
		s.tasks.AddAfter(t, next)
	}
}

func (s *Set) notify(name, msg string) {
	if s.o.Notify != nil {
		s.o.Notify(name, msg)
		return
	}
	slog.Info("hollow node "+msg, "node", name)
}

// register creates the Node, or adopts an existing one of the same name.
func (s *Set) register(ctx context.Context, n *node) error {
	now := metav1.NewTime(s.now()).Rfc3339Copy()
	want := buildNode(&s.o, n.name, n.index, now)
	created, err := s.kube.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = s.adoptNode(ctx, n, want, now)
	}
	if err != nil {
		return fmt.Errorf("register hollow node %s: %w", n.name, err)
	}
	n.state.Lock()
	n.uid = string(created.UID)
	n.state.Unlock()
	return nil
}

func (s *Set) adoptNode(ctx context.Context, n *node, want *corev1.Node, now metav1.Time) (*corev1.Node, error) {
	existing, err := s.kube.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	updated, err := s.kube.CoreV1().Nodes().Update(ctx, nodestatus.Adopt(existing, want), metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	updated.Status = nodeStatus(&s.o, n.name, n.index, now, existing.Status.Conditions)
	return s.kube.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
}

// renewLease writes renewTime=now on the node's Lease: one Update with the
// lease we wrote last (the kubelet keeps it too), or a Get/Create when we
// have none or it changed under us.
func (s *Set) renewLease(ctx context.Context, n *node) error {
	leases := s.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(s.now())
	n.state.Lock()
	defer n.state.Unlock()
	if n.lease == nil {
		got, err := leases.Get(ctx, n.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(ctx, nodestatus.Lease(n.name, n.uid, s.o.LeaseDuration, now), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create lease %s/%s: %w", corev1.NamespaceNodeLease, n.name, err)
			}
			n.lease = created
			return nil
		case err != nil:
			return fmt.Errorf("get lease %s/%s: %w", corev1.NamespaceNodeLease, n.name, err)
		}
		n.lease = got
	}
	l := n.lease.DeepCopy()
	l.Spec.HolderIdentity = &n.name
	l.Spec.LeaseDurationSeconds = &s.o.LeaseDuration
	l.Spec.RenewTime = &now
	nodestatus.SetLeaseOwner(l, n.name, n.uid)
	updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		n.lease = nil // read it afresh next time
		return fmt.Errorf("renew lease %s/%s: %w", corev1.NamespaceNodeLease, n.name, err)
	}
	n.lease = updated
	return nil
}

// statusDrifted reports whether the server's copy of the node (from the
// informer) has a condition other than what a healthy hollow kubelet posts:
// Ready True, the pressure conditions False.
func (s *Set) statusDrifted(name string) bool {
	cur, err := s.nodeLister.Get(name)
	if err != nil {
		return false
	}
	for _, c := range cur.Status.Conditions {
		want := corev1.ConditionFalse
		if c.Type == corev1.NodeReady {
			want = corev1.ConditionTrue
		}
		if c.Status != want {
			return true
		}
	}
	return false
}

// reportStatus patches the node's conditions with a fresh heartbeat. It
// returns errNodeGone when the Node was deleted, so the caller registers it
// again (as a kubelet does).
func (s *Set) reportStatus(ctx context.Context, n *node) error {
	var prev []corev1.NodeCondition
	if cur, err := s.nodeLister.Get(n.name); err == nil {
		prev = cur.Status.Conditions
	}
	patch, err := nodestatus.Patch(nodestatus.Conditions(metav1.NewTime(s.now()).Rfc3339Copy(), prev, nodestatus.Health{}), nil)
	if err != nil {
		return err
	}
	_, err = s.kube.CoreV1().Nodes().Patch(ctx, n.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return errNodeGone
	}
	if err != nil {
		return fmt.Errorf("report status of hollow node %s: %w", n.name, err)
	}
	return nil
}

// deleteAll removes the set's leases and nodes, Workers at a time.
func (s *Set) deleteAll(ctx context.Context) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, s.o.Workers)
	)
	for _, name := range s.names {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := s.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, name, metav1.DeleteOptions{})
			if err == nil || apierrors.IsNotFound(err) {
				err = s.kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
			}
			if err != nil && !apierrors.IsNotFound(err) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("delete hollow node %s: %w", name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
