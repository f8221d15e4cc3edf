package statefulset

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func (f *fixture) created(t *testing.T, resource string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == resource {
			out = append(out, a.(clienttesting.CreateAction).GetObject())
		}
	}
	return out
}

// TestCreatedObjects checks the pod and claim the controller creates, and
// the events it records, against upstream's.
func TestCreatedObjects(t *testing.T) {
	set := statefulSet(3)
	f := newFixture(t, set)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	pods, claims, revs := f.created(t, "pods"), f.created(t, "persistentvolumeclaims"), f.created(t, "controllerrevisions")
	if len(pods) != 1 || len(claims) != 1 || len(revs) != 1 {
		t.Fatalf("created %d pods, %d claims, %d revisions; want 1 each", len(pods), len(claims), len(revs))
	}
	rev := revs[0].(*appsv1.ControllerRevision)
	p := pods[0].(*corev1.Pod)
	wantLabels := map[string]string{"app": "nginx", "controller-revision-hash": rev.Name,
		"statefulset.kubernetes.io/pod-name": "web-0", "apps.kubernetes.io/pod-index": "0"}
	if !maps.Equal(p.Labels, wantLabels) {
		t.Errorf("pod labels %v, want %v", p.Labels, wantLabels)
	}
	if p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "nginx" {
		t.Errorf("pod hostname %q subdomain %q, want web-0 nginx", p.Spec.Hostname, p.Spec.Subdomain)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].Name != "www" || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "www-web-0" {
		t.Errorf("pod volumes %+v, want www → claim www-web-0", p.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "StatefulSet" || ref.Name != "web" || ref.UID != set.UID {
		t.Errorf("pod controller ref %+v", ref)
	}
	c := claims[0].(*corev1.PersistentVolumeClaim)
	if c.Name != "www-web-0" || !maps.Equal(c.Labels, map[string]string{"app": "nginx", "tier": "data"}) || len(c.OwnerReferences) != 0 {
		t.Errorf("claim %s labels %v owners %v; want www-web-0, app=nginx,tier=data, no owners (Retain)", c.Name, c.Labels, c.OwnerReferences)
	}
	if !strings.HasPrefix(rev.Name, "web-") || rev.Revision != 1 || rev.Labels[hashLabel] != strings.TrimPrefix(rev.Name, "web-") ||
		!strings.Contains(string(rev.Data.Raw), `"$patch":"replace"`) {
		t.Errorf("revision %s number %d labels %v data %s", rev.Name, rev.Revision, rev.Labels, rev.Data.Raw)
	}
	wantEvents := []string{
		"Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful",
	}
	if got := f.events(); !slices.Equal(got, wantEvents) {
		t.Errorf("events:\n got %q\nwant %q", got, wantEvents)
	}
}

// TestPartitionRecreatesAtCurrentRevision: a pod below the partition comes
// back from the old template.
func TestPartitionRecreatesAtCurrentRevision(t *testing.T) {
	v1 := statefulSet(3)
	rev1 := revision(t, v1, 1)
	v2 := statefulSet(3, image("nginx:2.0"), currentRevision(rev1.Name), partition(2))
	rev2 := revision(t, v2, 2)
	f := newFixture(t, v2, rev1, rev2, pod(v1, 0, rev1.Name), pod(v2, 2, rev2.Name), claim("www-web-1"))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	pods := f.created(t, "pods")
	if len(pods) != 1 {
		t.Fatalf("created %d pods, want 1", len(pods))
	}
	p := pods[0].(*corev1.Pod)
	if p.Name != "web-1" || p.Spec.Containers[0].Image != "nginx:1.0" || revisionOf(p) != rev1.Name {
		t.Errorf("pod %s image %s revision %s; want web-1 nginx:1.0 %s", p.Name, p.Spec.Containers[0].Image, revisionOf(p), rev1.Name)
	}
}

// TestRetentionPolicy: claims get the ownerReferences that make the garbage
// collector delete them as persistentVolumeClaimRetentionPolicy says.
func TestRetentionPolicy(t *testing.T) {
	policy := func(scaled, deleted appsv1.PersistentVolumeClaimRetentionPolicyType) setOpt {
		return func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: scaled, WhenDeleted: deleted}
		}
	}
	const del, keep = appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	tests := []struct {
		name        string
		opt         setOpt
		wantOwners0 string // owner kinds of www-web-0 (in range)
		wantOwners1 string // of www-web-1 (scaled down)
	}{
		{"retain", policy(keep, keep), "", ""},
		{"whenDeleted Delete: the set owns all claims", policy(keep, del), "StatefulSet", "StatefulSet"},
		{"whenScaled Delete: the condemned pod owns its claim", policy(del, keep), "", "Pod"},
		{"both: set for live ordinals, pod for condemned", policy(del, del), "StatefulSet", "Pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := statefulSet(1, tt.opt)
			rev := revision(t, set, 1)
			// web-1 is condemned but not Ready: deleting it waits, the owners do not.
			f := newFixture(t, set, rev, pod(set, 0, rev.Name), pod(set, 1, rev.Name, pending, terminating),
				claim("www-web-0"), claim("www-web-1"))
			if err := f.c.sync(context.Background(), "default/web"); err != nil {
				t.Fatal(err)
			}
			owners := map[string]string{}
			for _, name := range []string{"www-web-0", "www-web-1"} {
				c, err := f.kube.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var kinds []string
				for _, r := range c.OwnerReferences {
					if !ptr.Deref(r.Controller, false) {
						t.Errorf("claim %s: owner %s is not a controller ref", name, r.Kind)
					}
					kinds = append(kinds, r.Kind)
				}
				owners[name] = strings.Join(kinds, ",")
			}
			if owners["www-web-0"] != tt.wantOwners0 || owners["www-web-1"] != tt.wantOwners1 {
				t.Errorf("owners %v, want www-web-0 %q, www-web-1 %q", owners, tt.wantOwners0, tt.wantOwners1)
			}
		})
	}
}

// TestRevisions: a rollback to an earlier template renumbers its revision
// instead of duplicating it, and old revisions beyond the limit go.
func TestRevisions(t *testing.T) {
	v1 := statefulSet(1)
	rev1 := revision(t, v1, 1)
	rev2 := revision(t, statefulSet(1, image("nginx:2.0")), 2)
	back := statefulSet(1, currentRevision(rev2.Name))
	f := newFixture(t, back, rev1, rev2, pod(statefulSet(1, image("nginx:2.0")), 0, rev2.Name))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got, err := f.kube.AppsV1().ControllerRevisions("default").Get(context.Background(), rev1.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 3 {
		t.Errorf("rolled-back revision %s has number %d, want 3", got.Name, got.Revision)
	}
	if s := f.status(t); s.UpdateRevision != rev1.Name || s.CurrentRevision != rev2.Name {
		t.Errorf("status revisions current %s update %s, want %s %s", s.CurrentRevision, s.UpdateRevision, rev2.Name, rev1.Name)
	}

	// History: 4 unused revisions with a limit of 2 keeps the 2 newest.
	limited := statefulSet(1, image("nginx:9"), func(s *appsv1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To[int32](2) })
	objs := []runtime.Object{limited}
	for i, img := range []string{"nginx:1", "nginx:2", "nginx:3", "nginx:4"} {
		objs = append(objs, revision(t, statefulSet(1, image(img)), int64(i+1)))
	}
	f = newFixture(t, objs...)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "controllerrevisions" {
			deleted = append(deleted, a.(clienttesting.DeleteAction).GetName())
		}
	}
	want := []string{objs[1].(*appsv1.ControllerRevision).Name, objs[2].(*appsv1.ControllerRevision).Name}
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted revisions %v, want the two oldest %v", deleted, want)
	}
}

func TestFailedPodEvent(t *testing.T) {
	set := statefulSet(1)
	rev := revision(t, set, 1)
	f := newFixture(t, set, rev, pod(set, 0, rev.Name, failed))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Warning RecreatingFailedPod StatefulSet default/web is recreating failed Pod web-0",
		"Normal SuccessfulDelete delete Pod web-0 in StatefulSet web successful",
	}
	if got := f.events(); !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
}
