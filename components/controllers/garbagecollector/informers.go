package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// The collector watches every resource type it could ever have to delete,
// found by discovery: any type supporting list, watch and delete, custom
// resources included. It watches metadata only (names, owners, finalizers)
// through the metadata client, never whole objects: ownership is all in
// metadata, and it keeps a cluster's worth of informers cheap.
//
//	discovery (every 30s) ─▶ one metadata informer per resource type
//	   informer events ─▶ graphChanges queue ─▶ graph builder (one goroutine)
//	                                               ├─ updates the graph
//	                                               └─ queues work for the workers

// monitor is one resource type being watched.
type monitor struct {
	informer     cache.SharedIndexInformer
	registration cache.ResourceEventHandlerRegistration
	stop         context.CancelFunc
}

// ignoredResources are never watched: events churn, and own nothing.
var ignoredResources = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// deletableResources asks discovery for every resource type the collector
// can handle, with its kind. A partial discovery failure (one API group
// down) still returns the rest.
func deletableResources(dc discovery.DiscoveryInterface) (map[schema.GroupVersionResource]string, error) {
	lists, err := discovery.ServerPreferredResources(dc)
	lists = discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete", "list", "watch"}}, lists)
	out := map[schema.GroupVersionResource]string{}
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			gvr := gv.WithResource(r.Name)
			if !ignoredResources[gvr.GroupResource()] {
				out[gvr] = r.Kind
			}
		}
	}
	if err != nil {
		return out, fmt.Errorf("discover deletable resources: %w", err)
	}
	return out, nil
}

// syncMonitors starts an informer for each new resource type and stops the
// ones for types that went away (a deleted CRD). The graph keeps their
// nodes: they just stop changing.
func (gc *Controller) syncMonitors(ctx context.Context) error {
	resources, discoveryErr := deletableResources(gc.discovery)
	if len(resources) == 0 && discoveryErr != nil {
		return discoveryErr
	}
	gc.monitorsMu.Lock()
	defer gc.monitorsMu.Unlock()
	for gvr, kind := range resources {
		if gc.monitors[gvr] != nil {
			continue
		}
		m, err := gc.startMonitor(ctx, gvr, kind)
		if err != nil {
			return err
		}
		gc.monitors[gvr] = m
		slog.Debug("garbage collector watching", "resource", gvr.String())
	}
	for gvr, m := range gc.monitors {
		if _, ok := resources[gvr]; !ok {
			m.stop()
			delete(gc.monitors, gvr)
			slog.Debug("garbage collector stopped watching", "resource", gvr.String())
		}
	}
	return discoveryErr
}

func (gc *Controller) startMonitor(ctx context.Context, gvr schema.GroupVersionResource, kind string) (*monitor, error) {
	informer := metadatainformer.NewFilteredMetadataInformer(gc.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	apiVersion := gvr.GroupVersion().String()
	// Like every handler in a controller, these only queue: the graph
	// builder applies changes one at a time, in order, on one goroutine.
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { gc.queueChange(changeObserved, obj, apiVersion, kind) },
		UpdateFunc: func(_, obj interface{}) { gc.queueChange(changeObserved, obj, apiVersion, kind) },
		DeleteFunc: func(obj interface{}) { gc.queueChange(changeDeleted, obj, apiVersion, kind) },
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", gvr.String(), err)
	}
	mctx, stop := context.WithCancel(ctx)
	go informer.RunWithContext(mctx)
	return &monitor{informer: informer, registration: reg, stop: stop}, nil
}

// monitorsSynced reports whether every informer has delivered its initial
// list to our handlers, and the graph builder has caught up with it.
func (gc *Controller) monitorsSynced() bool {
	gc.monitorsMu.Lock()
	defer gc.monitorsMu.Unlock()
	for _, m := range gc.monitors {
		if !m.registration.HasSynced() {
			return false
		}
	}
	return gc.graphChanges.Len() == 0
}

func (gc *Controller) stopMonitors() {
	gc.monitorsMu.Lock()
	defer gc.monitorsMu.Unlock()
	for gvr, m := range gc.monitors {
		m.stop()
		delete(gc.monitors, gvr)
	}
}

// changeKind says what an informer saw.
type changeKind int

const (
	changeObserved changeKind = iota // added or updated
	changeDeleted                    // deleted
)

// change is one entry of the graphChanges queue.
type change struct {
	kind changeKind
	ref  objectRef
	// meta is the object's metadata as observed (nil for virtual deletes).
	meta *metav1.PartialObjectMetadata
	// virtual: not from an informer but from a worker, whose live GET found
	// that a virtual node (known only from ownerReferences) does not exist.
	virtual bool
}

func (gc *Controller) queueChange(kind changeKind, obj interface{}, apiVersion, objKind string) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj // we missed the delete event itself; the last state will do
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	ref := objectRef{apiVersion: apiVersion, kind: objKind, namespace: m.Namespace, name: m.Name, uid: m.UID}
	gc.graphChanges.Add(&change{kind: kind, ref: ref, meta: m})
}

// runGraphBuilder applies changes to the graph, one at a time, until the
// queue shuts down.
func (gc *Controller) runGraphBuilder() {
	for {
		ch, shutdown := gc.graphChanges.Get()
		if shutdown {
			return
		}
		gc.processChange(ch)
		gc.graphChanges.Done(ch)
	}
}

// processChange updates the graph with one change, and queues for the
// workers every object whose fate it may have changed. Queuing is cheap and
// idempotent: workers decide from the live state, so a spare look is
// harmless, while a missed one would leave garbage behind.
func (gc *Controller) processChange(ch *change) {
	uid := ch.ref.uid
	if ch.kind == changeDeleted {
		if ch.virtual && !gc.graph.isVirtual(uid) {
			return // an informer has shown us the object since: it exists
		}
		gc.queueDeleteChecks(gc.graph.remove(uid))
		return
	}

	m := ch.meta
	deleting := m.DeletionTimestamp != nil
	foreground := deleting && slices.Contains(m.Finalizers, metav1.FinalizerDeleteDependents)
	gc.queueDeleteChecks(gc.graph.observe(ch.ref, m.OwnerReferences, foreground))

	switch {
	case deleting && slices.Contains(m.Finalizers, metav1.FinalizerOrphanDependents):
		// Deleted with propagationPolicy Orphan: free the dependents.
		gc.attempts.Add(task{action: actionOrphan, uid: uid})
	case foreground:
		// Deleted with propagationPolicy Foreground: dependents first.
		gc.attempts.Add(task{action: actionDelete, uid: uid})
		gc.queueDeleteChecks(gc.graph.dependentUIDs(uid))
	}
}

func (gc *Controller) queueDeleteChecks(uids []types.UID) {
	for _, uid := range uids {
		gc.attempts.Add(task{action: actionDelete, uid: uid})
	}
}
