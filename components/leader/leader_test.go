package leader_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/leader"
)

// TestOneLeader runs two candidates for one Lease: only one acts at a time,
// the Lease names it, and when it stops the other takes over.
func TestOneLeader(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c := leader.Defaults("test-component")
	// Short, but with room for a write that stalls a second or two on a
	// busy CI disk: a 1 s renew deadline lost the lease to such stalls.
	c.LeaseDuration, c.RenewDeadline, c.RetryPeriod = 4*time.Second, 3*time.Second, 200*time.Millisecond

	var acting atomic.Int32
	type candidate struct {
		cancel  context.CancelFunc
		done    chan error
		leading chan struct{}
	}
	start := func(id string) *candidate {
		cctx, ccancel := context.WithCancel(ctx)
		cand := &candidate{cancel: ccancel, done: make(chan error, 1), leading: make(chan struct{})}
		cc := c
		cc.Identity = id
		go func() {
			cand.done <- leader.Run(cctx, cfg, cc, func(ctx context.Context) error {
				if acting.Add(1) != 1 {
					t.Errorf("%s leads while another candidate acts", id)
				}
				close(cand.leading)
				<-ctx.Done()
				acting.Add(-1)
				return nil
			})
		}()
		return cand
	}

	a := start("a")
	select {
	case <-a.leading:
	case <-ctx.Done():
		t.Fatal("the first candidate never led")
	}
	b := start("b")
	select {
	case <-b.leading:
		t.Fatal("the second candidate led while the first held the lease")
	case <-time.After(3 * c.LeaseDuration / 2):
	}
	lease, err := kube.CoordinationV1().Leases("kube-system").Get(ctx, "test-component", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *lease.Spec.HolderIdentity; got != "a" {
		t.Errorf("lease holder = %q, want a", got)
	}

	// A clean stop releases the lease, so the follower takes over at once.
	a.cancel()
	if err := <-a.done; err != nil {
		t.Errorf("leader stopped with %v", err)
	}
	select {
	case <-b.leading:
	case <-time.After(c.LeaseDuration + 2*time.Second):
		t.Fatal("the follower did not take over")
	}
	b.cancel()
	if err := <-b.done; err != nil && !errors.Is(err, leader.ErrLostLease) {
		t.Errorf("second leader stopped with %v", err)
	}
}
