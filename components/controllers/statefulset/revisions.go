package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Revisions: every pod template the set has had is kept as a
// ControllerRevision "<set>-<hash>" whose data is a strategic merge patch
// {"spec":{"template":{…,"$patch":"replace"}}}. Applying the patch to the
// set gives back the set at that revision, which is how pods below the
// partition are still created from the old template, and how
// `kubectl rollout undo statefulset/web` rolls back (it applies the patch).
//
// status.updateRevision names the revision of the current template;
// status.currentRevision the one the pods had before the update began. A
// finished rolling update makes them equal.

// hashLabel is the hash part of the revision's name (upstream's
// ControllerRevisionHashLabel).
const hashLabel = "controller.kubernetes.io/hash"

// templatePatch is the revision data for the set's current template.
func templatePatch(set *appsv1.StatefulSet) ([]byte, error) {
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	template := raw["spec"].(map[string]any)["template"].(map[string]any)
	template["$patch"] = "replace" // replace the whole template, do not merge into it
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// hashRevision is upstream's HashControllerRevision: FNV-32 of the data,
// plus the collision count when there was a name collision, made DNS-safe.
func hashRevision(data []byte, collisionCount int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != 0 {
		h.Write([]byte(strconv.FormatInt(int64(collisionCount), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// newRevision builds (without creating) the revision for set's template.
func newRevision(set *appsv1.StatefulSet, number int64, collisionCount int32) (*appsv1.ControllerRevision, error) {
	patch, err := templatePatch(set)
	if err != nil {
		return nil, err
	}
	hash := hashRevision(patch, collisionCount)
	lbls := maps.Clone(set.Spec.Template.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[hashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: set.Name + "-" + hash, Namespace: set.Namespace, Labels: lbls,
			// kubectl rollout history shows the set's change-cause from here.
			Annotations:     maps.Clone(set.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: number,
	}, nil
}

// sameData compares revision data as JSON values: the API server may hand
// back the bytes re-encoded.
func sameData(a, b *appsv1.ControllerRevision) bool {
	var x, y any
	if json.Unmarshal(a.Data.Raw, &x) != nil || json.Unmarshal(b.Data.Raw, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sortRevisions orders by revision number, then age, then name.
func sortRevisions(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		switch {
		case a.Revision != b.Revision:
			return int(a.Revision - b.Revision)
		case !a.CreationTimestamp.Equal(&b.CreationTimestamp):
			if a.CreationTimestamp.Before(&b.CreationTimestamp) {
				return -1
			}
			return 1
		}
		return compareStrings(a.Name, b.Name)
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// revisions finds (or creates) the current and update revisions among the
// set's revisions (sorted). It returns the collision count to store.
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisions int32, err error) {
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	next := int64(1)
	if len(revs) > 0 {
		next = revs[len(revs)-1].Revision + 1
	}
	update, err = newRevision(set, next, collisions)
	if err != nil {
		return nil, nil, collisions, err
	}
	var equal *appsv1.ControllerRevision // the newest revision with the same template
	for _, r := range revs {
		if sameData(r, update) {
			equal = r
		}
	}
	switch {
	case equal != nil && equal == revs[len(revs)-1]:
		update = equal // the template has not changed
	case equal != nil:
		// Back to an older template (a rollback): renumber that revision
		// rather than creating a duplicate.
		fresh := equal.DeepCopy()
		fresh.Revision = next
		update, err = c.kube.AppsV1().ControllerRevisions(set.Namespace).Update(ctx, fresh, metav1.UpdateOptions{})
		if err != nil {
			return nil, nil, collisions, fmt.Errorf("renumber revision %s/%s to %d: %w", set.Namespace, equal.Name, next, err)
		}
	default:
		update, collisions, err = c.createRevision(ctx, set, update, collisions)
		if err != nil {
			return nil, nil, collisions, err
		}
	}
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	if current == nil {
		current = update // the first revision: nothing to update from
	}
	return current, update, collisions, nil
}

// createRevision creates rev; on a name taken by different data (a hash
// collision) it bumps the collision count, which changes the hash.
func (c *Controller) createRevision(ctx context.Context, set *appsv1.StatefulSet, rev *appsv1.ControllerRevision, collisions int32) (*appsv1.ControllerRevision, int32, error) {
	for {
		created, err := c.kube.AppsV1().ControllerRevisions(set.Namespace).Create(ctx, rev, metav1.CreateOptions{})
		if err == nil {
			return created, collisions, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, collisions, fmt.Errorf("create revision %s/%s: %w", set.Namespace, rev.Name, err)
		}
		existing, gerr := c.kube.AppsV1().ControllerRevisions(set.Namespace).Get(ctx, rev.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, collisions, fmt.Errorf("read revision %s/%s: %w", set.Namespace, rev.Name, gerr)
		}
		if sameData(existing, rev) {
			return existing, collisions, nil // our own, seen late by the cache
		}
		collisions++
		if rev, err = newRevision(set, rev.Revision, collisions); err != nil {
			return nil, collisions, err
		}
	}
}

// applyRevision returns set as it was at rev (its template replaced).
func applyRevision(set *appsv1.StatefulSet, rev *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	orig, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, rev.Data.Raw, &appsv1.StatefulSet{})
	if err != nil {
		return nil, fmt.Errorf("apply revision %s to statefulset %s/%s: %w", rev.Name, set.Namespace, set.Name, err)
	}
	out := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, fmt.Errorf("decode statefulset %s/%s at revision %s: %w", set.Namespace, set.Name, rev.Name, err)
	}
	return out, nil
}

// truncateHistory deletes the oldest revisions beyond revisionHistoryLimit
// (default 10), never one a pod still runs, nor current or update.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	for i := 0; i < len(old)-limit; i++ {
		err := c.kube.AppsV1().ControllerRevisions(set.Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old revision %s/%s: %w", set.Namespace, old[i].Name, err)
		}
	}
	return nil
}
