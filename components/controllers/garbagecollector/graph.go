package garbagecollector

import (
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef names an object the way an ownerReference does (apiVersion,
// kind, name, uid), plus the namespace: owners live in their dependents'
// namespace, or are cluster-scoped.
type objectRef struct {
	apiVersion, kind string
	namespace, name  string
	uid              types.UID
}

func (r objectRef) String() string {
	if r.namespace == "" {
		return fmt.Sprintf("%s %s %s (uid %s)", r.apiVersion, r.kind, r.name, r.uid)
	}
	return fmt.Sprintf("%s %s %s/%s (uid %s)", r.apiVersion, r.kind, r.namespace, r.name, r.uid)
}

// node is one object in the graph.
type node struct {
	ref objectRef
	// owners are the object's ownerReferences as last observed.
	owners []metav1.OwnerReference
	// dependents are the nodes that name this one as an owner.
	dependents map[types.UID]*node
	// virtual: no informer has shown us this object; we only know of it
	// because a dependent names it. It may exist (not watched yet) or be
	// long gone (its dependents were orphaned by a crash, say). A worker
	// checks with the API server.
	virtual bool
	// deletingDependents: the object is being deleted in the foreground
	// (deletionTimestamp + the "foregroundDeletion" finalizer); it waits
	// for its blocking dependents to go first.
	deletingDependents bool
}

// graph is the collector's picture of ownership: every object it watches,
// keyed by UID, linked owner → dependents. Only the graph builder (one
// goroutine fed by the informers) writes it; workers read copies.
//
//	Deployment web ──▶ ReplicaSet web-5d8f ──▶ Pod web-5d8f-abcde
//	 (owner)            (dependent, and owner)   (dependent)
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

// observe records an object an informer showed us: it creates or updates
// the node and links it under each owner (creating virtual owners the graph
// has never seen). It returns the UIDs worth a look by a worker:
//   - virtual owners just created: do they exist at all?
//   - owners this object no longer names that wait for their dependents:
//     this one may have been the last to block them;
//   - the object itself when an owner waits for its dependents: it is one.
func (g *graph) observe(ref objectRef, owners []metav1.OwnerReference, deletingDependents bool) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	var check []types.UID

	n := g.nodes[ref.uid]
	if n == nil {
		n = &node{dependents: map[types.UID]*node{}}
		g.nodes[ref.uid] = n
	}
	n.ref, n.virtual, n.deletingDependents = ref, false, deletingDependents

	// Unlink from owners it no longer names.
	named := map[types.UID]bool{}
	for _, o := range owners {
		named[o.UID] = true
	}
	for _, old := range n.owners {
		if owner := g.nodes[old.UID]; owner != nil && !named[old.UID] {
			delete(owner.dependents, ref.uid)
			if owner.deletingDependents {
				check = append(check, owner.ref.uid)
			}
		}
	}
	// Link under the owners it names.
	n.owners = owners
	for _, o := range owners {
		owner := g.nodes[o.UID]
		if owner == nil {
			owner = &node{virtual: true, dependents: map[types.UID]*node{},
				ref: objectRef{apiVersion: o.APIVersion, kind: o.Kind, namespace: ref.namespace, name: o.Name, uid: o.UID}}
			g.nodes[o.UID] = owner
			check = append(check, o.UID)
		}
		owner.dependents[ref.uid] = n
		if owner.deletingDependents {
			check = append(check, ref.uid)
		}
	}
	return check
}

// remove forgets an object that was deleted, or a virtual node that proved
// not to exist. It returns the UIDs worth a look: the object's dependents
// (their owner is gone: delete them?) and its owners that wait for their
// dependents (this one no longer blocks them).
func (g *graph) remove(uid types.UID) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil {
		return nil
	}
	delete(g.nodes, uid)
	var check []types.UID
	for depUID := range n.dependents {
		check = append(check, depUID)
	}
	for _, o := range n.owners {
		if owner := g.nodes[o.UID]; owner != nil {
			delete(owner.dependents, uid)
			if owner.deletingDependents {
				check = append(check, o.UID)
			}
		}
	}
	return check
}

// isVirtual reports whether the node exists and is still virtual.
func (g *graph) isVirtual(uid types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	return n != nil && n.virtual
}

// snapshot is a copy of a node that a worker can use without the lock.
type snapshot struct {
	ref                         objectRef
	virtual, deletingDependents bool
	dependents                  []objectRef // everything that names this node as owner
	blocking                    []objectRef // those whose reference says blockOwnerDeletion: true
}

// get returns a snapshot of the node with this UID.
func (g *graph) get(uid types.UID) (snapshot, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	if n == nil {
		return snapshot{}, false
	}
	s := snapshot{ref: n.ref, virtual: n.virtual, deletingDependents: n.deletingDependents}
	for _, dep := range n.dependents {
		s.dependents = append(s.dependents, dep.ref)
		for _, o := range dep.owners {
			if o.UID == uid && o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion {
				s.blocking = append(s.blocking, dep.ref)
			}
		}
	}
	return s, true
}

// dependentUIDs returns the UIDs of the node's dependents.
func (g *graph) dependentUIDs(uid types.UID) []types.UID {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []types.UID
	if n := g.nodes[uid]; n != nil {
		for depUID := range n.dependents {
			out = append(out, depUID)
		}
	}
	return out
}
