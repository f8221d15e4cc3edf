package garbagecollector

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestProcessChange checks what the graph builder makes of informer events:
// the graph it builds and the tasks it queues for the workers.
func TestProcessChange(t *testing.T) {
	deploy := obj("apps/v1", "Deployment", "web", "d1")
	rs := obj("apps/v1", "ReplicaSet", "web-1", "r1", ownedBy(deploy, true))
	pod := obj("v1", "Pod", "web-1-a", "p1", ownedBy(rs, false))
	deleted := func(m *metav1.PartialObjectMetadata) *change {
		ch := observed(m)
		ch.kind = changeDeleted
		return ch
	}

	tests := []struct {
		name     string
		before   []*change // applied first, their tasks dropped
		change   *change
		want     []task
		virtual  []types.UID // nodes that must be virtual afterwards
		absent   []types.UID // nodes that must not be in the graph
		blocking map[types.UID][]types.UID
	}{{
		name:     "a dependent of an unknown owner creates a virtual owner to verify",
		change:   observed(rs),
		want:     []task{{actionDelete, "d1"}},
		virtual:  []types.UID{"d1"},
		blocking: map[types.UID][]types.UID{"d1": {"r1"}},
	}, {
		name:     "seeing the owner makes it real",
		before:   []*change{observed(rs)},
		change:   observed(deploy),
		blocking: map[types.UID][]types.UID{"d1": {"r1"}},
	}, {
		name:   "a deleted owner's dependents get a look",
		before: []*change{observed(deploy), observed(rs), observed(pod)},
		change: deleted(deploy),
		want:   []task{{actionDelete, "r1"}},
		absent: []types.UID{"d1"},
	}, {
		name:   "an owner deleted with Orphan queues an orphan task",
		before: []*change{observed(deploy), observed(rs)},
		change: observed(deleting(deploy, metav1.FinalizerOrphanDependents)),
		want:   []task{{actionOrphan, "d1"}},
	}, {
		name:   "an owner deleted in the foreground gets a look, and so do its dependents",
		before: []*change{observed(deploy), observed(rs)},
		change: observed(deleting(deploy, metav1.FinalizerDeleteDependents)),
		want:   []task{{actionDelete, "d1"}, {actionDelete, "r1"}},
	}, {
		name:   "a dependent that goes lets its foreground owner look again",
		before: []*change{observed(deleting(deploy, metav1.FinalizerDeleteDependents)), observed(rs)},
		change: deleted(rs),
		want:   []task{{actionDelete, "d1"}},
		absent: []types.UID{"r1"},
	}, {
		name:     "a dependent that drops its reference unblocks its foreground owner",
		before:   []*change{observed(deleting(deploy, metav1.FinalizerDeleteDependents)), observed(rs)},
		change:   observed(obj("apps/v1", "ReplicaSet", "web-1", "r1")),
		want:     []task{{actionDelete, "d1"}},
		blocking: map[types.UID][]types.UID{"d1": nil},
	}, {
		name:   "a virtual delete is ignored once the object has been seen",
		before: []*change{observed(rs), observed(deploy)},
		change: &change{kind: changeDeleted, virtual: true, ref: objectRef{uid: "d1"}},
	}, {
		name:   "a virtual delete of a virtual node removes it",
		before: []*change{observed(rs)},
		change: &change{kind: changeDeleted, virtual: true, ref: objectRef{uid: "d1"}},
		want:   []task{{actionDelete, "r1"}},
		absent: []types.UID{"d1"},
	}, {
		name:     "a non-blocking dependent does not block",
		before:   []*change{observed(rs)},
		change:   observed(pod),
		blocking: map[types.UID][]types.UID{"r1": nil},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gc, _ := newTestCollector(t)
			for _, ch := range tt.before {
				gc.processChange(ch)
			}
			drainTasks(gc)
			gc.processChange(tt.change)

			if got := drainTasks(gc); !slices.Equal(got, tt.want) {
				t.Errorf("tasks: got %v, want %v", got, tt.want)
			}
			for _, uid := range tt.virtual {
				if !gc.graph.isVirtual(uid) {
					t.Errorf("node %s should be virtual", uid)
				}
			}
			for _, uid := range tt.absent {
				if _, ok := gc.graph.get(uid); ok {
					t.Errorf("node %s should be gone", uid)
				}
			}
			for owner, want := range tt.blocking {
				n, _ := gc.graph.get(owner)
				var got []types.UID
				for _, b := range n.blocking {
					got = append(got, b.uid)
				}
				if !slices.Equal(got, want) {
					t.Errorf("blocking dependents of %s: got %v, want %v", owner, got, want)
				}
			}
		})
	}
}

// drainTasks empties the attempts queue, sorted by action then UID.
func drainTasks(gc *Controller) []task {
	var out []task
	for gc.attempts.Len() > 0 {
		t, _ := gc.attempts.Get()
		gc.attempts.Done(t)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b task) int {
		if a.action != b.action {
			return int(a.action) - int(b.action)
		}
		if a.uid < b.uid {
			return -1
		}
		if a.uid > b.uid {
			return 1
		}
		return 0
	})
	return out
}
