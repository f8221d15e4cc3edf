package controllerref

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var rsKind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}

func TestClaim(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "owner"}
	deleting := &metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "owner", DeletionTimestamp: ptr.To(metav1.Now())}
	ours := []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web", UID: "owner", Controller: ptr.To(true)}}
	theirs := []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x", UID: "other", Controller: ptr.To(true)}}
	match, nomatch := map[string]string{"app": "web"}, map[string]string{"app": "db"}
	tests := []struct {
		name       string
		owner      *metav1.ObjectMeta
		obj        *corev1.Pod
		recheckErr error
		patchErr   error
		want       bool
		wantPatch  string // substring; "" means no patch
		wantErr    bool
	}{
		{name: "ours and matching", owner: owner, obj: pod(match, ours), want: true},
		{name: "someone else's", owner: owner, obj: pod(match, theirs)},
		{name: "ours, not matching: released", owner: owner, obj: pod(nomatch, ours), wantPatch: `"$patch":"delete"`},
		{name: "ours, not matching, owner deleting: kept as is", owner: deleting, obj: pod(nomatch, ours)},
		{name: "orphan matching: adopted", owner: owner, obj: pod(match, nil), want: true, wantPatch: `"blockOwnerDeletion":true`},
		{name: "orphan, owner deleting", owner: deleting, obj: pod(match, nil)},
		{name: "orphan, recheck fails", owner: owner, obj: pod(match, nil), recheckErr: errors.New("has just been deleted"), wantErr: true},
		{name: "orphan gone meanwhile", owner: owner, obj: pod(match, nil), patchErr: apierrors.NewNotFound(corev1.Resource("pods"), "p"), wantPatch: "uid"},
		{name: "release of a pod gone meanwhile", owner: owner, obj: pod(nomatch, ours), patchErr: apierrors.NewNotFound(corev1.Resource("pods"), "p"), wantPatch: "delete"},
		{name: "orphan not matching", owner: owner, obj: pod(nomatch, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewManager(tt.owner, rsKind, labels.SelectorFromSet(match), func(context.Context) error { return tt.recheckErr })
			var patched string
			got, err := m.Claim(context.Background(), tt.obj, func(_ context.Context, name string, p []byte) error {
				patched = string(p)
				return tt.patchErr
			})
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Claim = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if (tt.wantPatch == "") != (patched == "") || !strings.Contains(patched, tt.wantPatch) {
				t.Errorf("patch %q, want one containing %q", patched, tt.wantPatch)
			}
		})
	}
}

func TestRecheck(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "a"}
	for _, tt := range []struct {
		fresh   *metav1.ObjectMeta
		wantErr string
	}{
		{&metav1.ObjectMeta{UID: "a"}, ""},
		{&metav1.ObjectMeta{UID: "b"}, "is gone"},
		{&metav1.ObjectMeta{UID: "a", DeletionTimestamp: ptr.To(metav1.Now())}, "has just been deleted"},
	} {
		err := Recheck(owner, func(context.Context) (metav1.Object, error) { return tt.fresh, nil })(context.Background())
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("fresh %+v: error %v, want %q", tt.fresh, err, tt.wantErr)
		}
	}
}

func pod(l map[string]string, refs []metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: types.UID("p-uid"), Labels: l, OwnerReferences: refs}}
}
