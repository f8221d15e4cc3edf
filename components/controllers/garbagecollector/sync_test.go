package garbagecollector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakemetadata "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/workqueue"
)

// The cast of every test: a Deployment owning a ReplicaSet owning a Pod.
var (
	deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	rsGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	podGVR    = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

func TestSync(t *testing.T) {
	deploy := obj("apps/v1", "Deployment", "web", "d1")
	rs := obj("apps/v1", "ReplicaSet", "web-1", "r1", ownedBy(deploy, true))
	pod := obj("v1", "Pod", "web-1-a", "p1", ownedBy(rs, true))

	tests := []struct {
		name     string
		cluster  []*metav1.PartialObjectMetadata // in the API server
		informed []*metav1.PartialObjectMetadata // seen by the informers (the graph)
		task     task
		want     []string // API calls, in order
		queued   []types.UID
	}{{
		name:     "a dependent whose owner is gone is deleted in the background",
		cluster:  list(rs),
		informed: list(rs),
		task:     task{actionDelete, "r1"},
		want:     []string{"get replicasets/web-1", "get deployments/web", "delete replicasets/web-1 Background uid=r1"},
	}, {
		name:     "a dependent whose owner exists stays",
		cluster:  list(deploy, rs),
		informed: list(deploy, rs),
		task:     task{actionDelete, "r1"},
		want:     []string{"get replicasets/web-1", "get deployments/web"},
	}, {
		name:     "an owner replaced by a new object of the same name counts as gone",
		cluster:  list(obj("apps/v1", "Deployment", "web", "d2"), rs),
		informed: list(rs),
		task:     task{actionDelete, "r1"},
		want:     []string{"get replicasets/web-1", "get deployments/web", "delete replicasets/web-1 Background uid=r1"},
	}, {
		name: "with one owner alive, only the reference to the gone one is dropped",
		cluster: list(obj("apps/v1", "Deployment", "api", "d9"),
			obj("apps/v1", "ReplicaSet", "web-1", "r1", ownedBy(deploy, true), ownedBy(obj("apps/v1", "Deployment", "api", "d9"), false))),
		informed: list(obj("apps/v1", "ReplicaSet", "web-1", "r1", ownedBy(deploy, true), ownedBy(obj("apps/v1", "Deployment", "api", "d9"), false))),
		task:     task{actionDelete, "r1"},
		want: []string{"get replicasets/web-1", "get deployments/web", "get deployments/api",
			`patch replicasets/web-1 {"metadata":{"resourceVersion":"","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"api","uid":"d9"}]}}`},
	}, {
		name:     "an object without owners is left alone",
		cluster:  list(deploy),
		informed: list(deploy),
		task:     task{actionDelete, "d1"},
		want:     []string{"get deployments/web"},
	}, {
		name:     "orphan: the dependents lose their reference, then the owner its finalizer",
		cluster:  list(deleting(deploy, metav1.FinalizerOrphanDependents), rs),
		informed: list(deleting(deploy, metav1.FinalizerOrphanDependents), rs),
		task:     task{actionOrphan, "d1"},
		want: []string{"get deployments/web", "get replicasets/web-1",
			`patch replicasets/web-1 {"metadata":{"resourceVersion":"","ownerReferences":[]}}`,
			`patch deployments/web {"metadata":{"resourceVersion":"","finalizers":[]}}`},
	}, {
		name:     "foreground: a dependent with dependents of its own goes in the foreground",
		cluster:  list(deleting(deploy, metav1.FinalizerDeleteDependents), rs, pod),
		informed: list(deleting(deploy, metav1.FinalizerDeleteDependents), rs, pod),
		task:     task{actionDelete, "r1"},
		want:     []string{"get replicasets/web-1", "get deployments/web", "delete replicasets/web-1 Foreground uid=r1"},
	}, {
		name:     "foreground: a dependent without dependents goes in the background",
		cluster:  list(deleting(rs, metav1.FinalizerDeleteDependents), pod),
		informed: list(deleting(rs, metav1.FinalizerDeleteDependents), pod),
		task:     task{actionDelete, "p1"},
		want:     []string{"get pods/web-1-a", "get replicasets/web-1", "delete pods/web-1-a Background uid=p1"},
	}, {
		name:     "foreground: an owner with blocking dependents waits for them",
		cluster:  list(deleting(deploy, metav1.FinalizerDeleteDependents), rs),
		informed: list(deleting(deploy, metav1.FinalizerDeleteDependents), rs),
		task:     task{actionDelete, "d1"},
		want:     []string{"get deployments/web"},
		queued:   []types.UID{"r1"}, // the blocker gets a look
	}, {
		name:     "foreground: an owner whose dependents are gone loses its finalizer",
		cluster:  list(deleting(deploy, metav1.FinalizerDeleteDependents)),
		informed: list(deleting(deploy, metav1.FinalizerDeleteDependents)),
		task:     task{actionDelete, "d1"},
		want:     []string{"get deployments/web", `patch deployments/web {"metadata":{"resourceVersion":"","finalizers":[]}}`},
	}, {
		name:     "a virtual owner that does not exist leaves the graph, and its dependents get a look",
		cluster:  list(rs),
		informed: list(rs),
		task:     task{actionDelete, "d1"},
		want:     []string{"get deployments/web"},
		queued:   []types.UID{"r1"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gc, md := newTestCollector(t, tt.cluster...)
			for _, m := range tt.informed {
				gc.processChange(observed(m))
			}
			drain(gc.attempts) // what the graph builder queued is not under test here

			if err := gc.sync(context.Background(), tt.task); err != nil {
				t.Fatalf("sync: %v", err)
			}
			for gc.graphChanges.Len() > 0 { // virtual deletes a worker reported
				ch, _ := gc.graphChanges.Get()
				gc.processChange(ch)
				gc.graphChanges.Done(ch)
			}
			if got := calls(md); !slices.Equal(got, tt.want) {
				t.Errorf("API calls:\n got %q\nwant %q", got, tt.want)
			}
			if got := drain(gc.attempts); !slices.Equal(got, tt.queued) {
				t.Errorf("queued for a look: got %q, want %q", got, tt.queued)
			}
		})
	}
}

// newTestCollector builds a collector over a fake metadata client holding
// objs, with a static REST mapper for the three kinds.
func newTestCollector(t *testing.T, objs ...*metav1.PartialObjectMetadata) (*Controller, *fakemetadata.FakeMetadataClient) {
	t.Helper()
	scheme := fakemetadata.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objects []runtime.Object
	for _, o := range objs {
		objects = append(objects, o.DeepCopy())
	}
	md := fakemetadata.NewSimpleMetadataClient(scheme, objects...)

	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvr := range []schema.GroupVersionResource{deployGVR, rsGVR, podGVR} {
		kind := map[string]string{"deployments": "Deployment", "replicasets": "ReplicaSet", "pods": "Pod"}[gvr.Resource]
		mapper.Add(gvr.GroupVersion().WithKind(kind), meta.RESTScopeNamespace)
	}
	gc := New(md, nil)
	gc.mapper = staticMapper{mapper}
	t.Cleanup(func() { gc.attempts.ShutDown(); gc.graphChanges.ShutDown() })
	return gc, md
}

type staticMapper struct{ meta.RESTMapper }

func (staticMapper) Reset() {}

func obj(apiVersion, kind, name string, uid types.UID, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, UID: uid, OwnerReferences: owners},
	}
}

func ownedBy(owner *metav1.PartialObjectMetadata, block bool) metav1.OwnerReference {
	ref := metav1.OwnerReference{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID}
	if block {
		ref.BlockOwnerDeletion = &block
	}
	return ref
}

func deleting(m *metav1.PartialObjectMetadata, finalizers ...string) *metav1.PartialObjectMetadata {
	out := m.DeepCopy()
	out.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	out.Finalizers = finalizers
	return out
}

func list(objs ...*metav1.PartialObjectMetadata) []*metav1.PartialObjectMetadata { return objs }

// observed is the change an informer would queue for m.
func observed(m *metav1.PartialObjectMetadata) *change {
	return &change{kind: changeObserved, meta: m,
		ref: objectRef{apiVersion: m.APIVersion, kind: m.Kind, namespace: m.Namespace, name: m.Name, uid: m.UID}}
}

// calls renders the fake's recorded actions: "verb resource/name [details]".
func calls(md *fakemetadata.FakeMetadataClient) []string {
	var out []string
	for _, a := range md.Actions() {
		var name, detail string
		switch a := a.(type) {
		case clienttesting.DeleteAction:
			o := a.GetDeleteOptions()
			name, detail = a.GetName(), fmt.Sprintf(" %s uid=%s", *o.PropagationPolicy, *o.Preconditions.UID)
		case clienttesting.PatchAction:
			name, detail = a.GetName(), " "+string(a.GetPatch())
		case clienttesting.GetAction:
			name = a.GetName()
		}
		out = append(out, fmt.Sprintf("%s %s/%s%s", a.GetVerb(), a.GetResource().Resource, name, detail))
	}
	return out
}

// drain empties a queue and returns the UIDs it held, sorted.
func drain(q workqueue.TypedRateLimitingInterface[task]) []types.UID {
	var out []types.UID
	for q.Len() > 0 {
		t, _ := q.Get()
		q.Done(t)
		q.Forget(t)
		out = append(out, t.uid)
	}
	slices.SortFunc(out, func(a, b types.UID) int { return strings.Compare(string(a), string(b)) })
	return out
}
