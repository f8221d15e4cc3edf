// Package leader is leader election for the control plane's clients: the
// scheduler and the controller manager run one copy per control-plane node
// for availability, but only one copy may act at a time, or two schedulers
// would bind the same pod twice and two ReplicaSet controllers would each
// create the missing pods.
//
// The lock is a coordination.k8s.io/v1 Lease (kube-system/kube-scheduler,
// kube-system/kube-controller-manager), like upstream, so a student can see
// who leads with
//
//	kubectl -n kube-system get lease kube-controller-manager -o yaml
//
// and watch spec.holderIdentity change hands when the leader is killed.
// The holder renews the lease every RetryPeriod; the others try to take it
// once it is LeaseDuration old. A leader that cannot renew within
// RenewDeadline stops acting (Run returns an error, and the process exits,
// to be restarted by its supervisor as an honest follower).
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Config is upstream's --leader-elect-* flags.
type Config struct {
	// Enabled: without it, Run calls fn at once (a single control plane).
	Enabled bool
	// Namespace and Name locate the Lease.
	Namespace, Name string
	// Identity is this candidate's name in the Lease (default: hostname_uuid).
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod as upstream (15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Defaults returns upstream's defaults for a component's lease.
func Defaults(name string) Config {
	return Config{Enabled: true, Namespace: "kube-system", Name: name,
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// AddFlags adds upstream's --leader-elect flags, writing into c.
func AddFlags(fs *pflag.FlagSet, c *Config) {
	fs.BoolVar(&c.Enabled, "leader-elect", c.Enabled, "take a Lease before acting, so only one copy of this component works at a time")
	fs.DurationVar(&c.LeaseDuration, "leader-elect-lease-duration", c.LeaseDuration, "how long followers wait after the last renewal before taking the lease")
	fs.DurationVar(&c.RenewDeadline, "leader-elect-renew-deadline", c.RenewDeadline, "how long the leader keeps trying to renew before it stops acting")
	fs.DurationVar(&c.RetryPeriod, "leader-elect-retry-period", c.RetryPeriod, "how often candidates try to take or renew the lease")
	fs.StringVar(&c.Namespace, "leader-elect-resource-namespace", c.Namespace, "namespace of the lease")
	fs.StringVar(&c.Name, "leader-elect-resource-name", c.Name, "name of the lease")
}

// ErrLostLease is returned by Run when this process stops being the leader.
var ErrLostLease = errors.New("lost the leader lease")

// Run calls fn once this process holds the lease, and cancels fn's context
// if the lease is lost. It returns fn's error, ErrLostLease, or nil when ctx
// ends.
func Run(ctx context.Context, cfg *rest.Config, c Config, fn func(context.Context) error) error {
	if !c.Enabled {
		return fn(ctx)
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = host + "_" + uuid.NewString()
	}
	kube, err := kubernetes.NewForConfig(rest.AddUserAgent(rest.CopyConfig(cfg), c.Name+"/leader-election"))
	if err != nil {
		return fmt.Errorf("leader election client: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, c.Namespace, c.Name,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: c.Identity})
	if err != nil {
		return fmt.Errorf("leader lock %s/%s: %w", c.Namespace, c.Name, err)
	}

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	var led atomic.Bool
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: c.LeaseDuration, RenewDeadline: c.RenewDeadline, RetryPeriod: c.RetryPeriod,
		ReleaseOnCancel: true, // a clean stop hands over at once instead of after LeaseDuration
		Name:            c.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				led.Store(true)
				slog.Info("became leader", "lease", c.Namespace+"/"+c.Name, "identity", c.Identity)
				err := fn(ctx)
				if err == nil && ctx.Err() != nil && outer.Err() == nil {
					err = ErrLostLease // fn stopped because the elector cancelled it
				}
				result <- err
				cancel() // fn ended: give the lease back
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != c.Identity {
					slog.Info("following", "lease", c.Namespace+"/"+c.Name, "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election %s/%s: %w", c.Namespace, c.Name, err)
	}
	le.Run(ctx) // returns when ctx ends or the lease is lost; fn's context is cancelled then
	if !led.Load() {
		return nil // stopped while following
	}
	return <-result // let fn finish stopping before we return
}
