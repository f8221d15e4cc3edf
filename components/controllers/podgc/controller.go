// Package podgc is the pod garbage collector of kube-controller-manager:
// a periodic sweep (every 20s, no queue) that force-deletes pods nobody
// else will ever clean up.
//
//	every 20s, from the informer caches:
//	  terminated pods (Succeeded/Failed) > --terminated-pod-gc-threshold ─▶ delete the oldest
//	  terminating pods on a not-ready node tainted out-of-service       ─▶ force delete
//	  pods bound to a node that does not exist (40s quarantine + GET)    ─▶ Failed, force delete
//	  terminating pods that were never scheduled                        ─▶ force delete
//
// "Force" means grace period 0: normally the kubelet confirms a pod's
// deletion once its containers stopped, but these pods have no kubelet
// left to do so. Before deleting a pod that has not finished, podgc marks
// it Failed (with a DisruptionTarget condition when its node is gone), so
// a Job counts it as failed rather than vanished.
package podgc

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Options configure the collector; zero values are upstream's.
type Options struct {
	// TerminatedPodThreshold: terminated pods kept before the oldest are
	// deleted (--terminated-pod-gc-threshold, 12500; negative: keep all).
	TerminatedPodThreshold int
	// Period: how often the sweep runs (upstream gcCheckPeriod, 20s).
	Period time.Duration
	// Quarantine: how long a node must be missing from the cache before
	// we ask the API server whether it is really gone (upstream
	// quarantineTime, 40s): a new node's pods can reach our cache before
	// the node does.
	Quarantine time.Duration
}

// Controller is the pod garbage collector.
type Controller struct {
	// kube marks pods Failed, deletes them, and confirms missing nodes.
	kube   kubernetes.Interface
	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
	o      Options
	clock  clock.Clock

	mu sync.Mutex
	// missingSince: nodes that pods name but the cache lacks, and when we
	// first noticed.
	missingSince map[string]time.Time
}

// New builds the collector.
func New(kube kubernetes.Interface, pods coreinformers.PodInformer, nodes coreinformers.NodeInformer, o Options) *Controller {
	if o.TerminatedPodThreshold == 0 {
		o.TerminatedPodThreshold = 12500
	}
	if o.Period == 0 {
		o.Period = 20 * time.Second
	}
	if o.Quarantine == 0 {
		o.Quarantine = 40 * time.Second
	}
	return &Controller{
		kube: kube, pods: pods.Lister(), nodes: nodes.Lister(),
		synced: []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		o:      o, clock: clock.RealClock{}, missingSince: map[string]time.Time{},
	}
}

// Run sweeps every Period until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	slog.Info("starting controller", "controller", "podgc", "terminatedPodThreshold", c.o.TerminatedPodThreshold)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("pod gc controller: caches did not sync")
	}
	wait.UntilWithContext(ctx, c.gc, c.o.Period)
	slog.Info("stopping controller", "controller", "podgc")
	return nil
}
