package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubelab/kubelab/components/controllers/controllerref"
	"github.com/kubelab/kubelab/components/controllers/deployment"
)

// Upstream's label keys on daemon pods and revisions.
const (
	hashLabel       = appsv1.DefaultDaemonSetUniqueLabelKey // "controller-revision-hash"
	generationLabel = "pod-template-generation"             // deprecated upstream, still set
)

// templatePatch is what a ControllerRevision stores (upstream's getPatch):
// {"spec":{"template":{…,"$patch":"replace"}}}. `kubectl rollout undo`
// applies it to the DaemonSet as a strategic merge patch, which puts the
// old template back whole.
func templatePatch(ds *appsv1.DaemonSet) ([]byte, error) {
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("marshal daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("unmarshal daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	template := raw["spec"].(map[string]any)["template"].(map[string]any)
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// matches reports whether a revision holds ds's current template.
func matches(ds *appsv1.DaemonSet, rev *appsv1.ControllerRevision) (bool, error) {
	patch, err := templatePatch(ds)
	if err != nil {
		return false, err
	}
	return bytes.Equal(patch, rev.Data.Raw), nil
}

// constructHistory claims the DaemonSet's ControllerRevisions and returns
// the one for the current template (creating it, or renumbering it to the
// newest revision when the user rolled back to it) and the old ones.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	revs, err := c.claimRevisions(ctx, ds, selector)
	if err != nil {
		return nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, rev := range revs {
		if _, ok := rev.Labels[hashLabel]; !ok {
			// Older revisions may lack the label: the name is as unique.
			rev = rev.DeepCopy()
			if rev.Labels == nil {
				rev.Labels = map[string]string{}
			}
			rev.Labels[hashLabel] = rev.Name
			if rev, err = c.kube.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, rev, metav1.UpdateOptions{}); err != nil {
				return nil, nil, fmt.Errorf("label controllerrevision %s/%s: %w", ds.Namespace, rev.Name, err)
			}
		}
		ok, err := matches(ds, rev)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			current = append(current, rev)
		} else {
			old = append(old, rev)
		}
	}
	next := maxRevision(old) + 1
	if len(current) == 0 {
		cur, err = c.snapshot(ctx, ds, next)
		return cur, old, err
	}
	// Several revisions with the current template (a hash collision was
	// resolved by hand, or a race): keep the newest, drop the others.
	sort.Slice(current, func(i, j int) bool { return current[i].Revision > current[j].Revision })
	cur = current[0]
	for _, dup := range current[1:] {
		if err := c.kube.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, dup.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("delete duplicate controllerrevision %s/%s: %w", ds.Namespace, dup.Name, err)
		}
	}
	if cur.Revision < next {
		// A rollback to an old template: it becomes the newest revision.
		upd := cur.DeepCopy()
		upd.Revision = next
		if cur, err = c.kube.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return nil, nil, fmt.Errorf("renumber controllerrevision %s/%s to %d: %w", ds.Namespace, upd.Name, next, err)
		}
	}
	return cur, old, nil
}

func maxRevision(revs []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revs {
		m = max(m, r.Revision)
	}
	return m
}

// claimRevisions adopts and releases ControllerRevisions like pods.
func (c *Controller) claimRevisions(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list controllerrevisions in %s: %w", ds.Namespace, err)
	}
	m := controllerref.NewManager(ds, controllerKind, selector, c.recheck(ds))
	return controllerref.ClaimAll(ctx, m, all, func(ctx context.Context, name string, patch []byte) error {
		_, err := c.kube.AppsV1().ControllerRevisions(ds.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

func (c *Controller) recheck(ds *appsv1.DaemonSet) func(context.Context) error {
	return controllerref.Recheck(ds, func(ctx context.Context) (metav1.Object, error) {
		return c.kube.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	})
}

// snapshot creates the ControllerRevision "<ds>-<hash>" for the current
// template. If that name is taken by another template (a hash collision),
// it bumps status.collisionCount, which changes the hash, and fails so the
// next sync tries the new name.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	patch, err := templatePatch(ds)
	if err != nil {
		return nil, err
	}
	hash := deployment.ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: ds.Name + "-" + hash, Namespace: ds.Namespace,
			Labels:          withLabel(ds.Spec.Template.Labels, hashLabel, hash),
			Annotations:     ds.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	created, err := c.kube.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, rev, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return nil, fmt.Errorf("create controllerrevision %s/%s: %w", ds.Namespace, rev.Name, err)
		}
		return created, nil
	}
	existing, getErr := c.kube.AppsV1().ControllerRevisions(ds.Namespace).Get(ctx, rev.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("read existing controllerrevision %s/%s: %w", ds.Namespace, rev.Name, getErr)
	}
	if ok, _ := matches(ds, existing); ok {
		return existing, nil // ours already (the cache was behind)
	}
	fresh, getErr := c.kube.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("read daemonset %s/%s after a hash collision: %w", ds.Namespace, ds.Name, getErr)
	}
	if !reflect.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("daemonset %s/%s: stale collision count, will retry", ds.Namespace, ds.Name)
	}
	n := int32(0)
	if fresh.Status.CollisionCount != nil {
		n = *fresh.Status.CollisionCount
	}
	n++
	fresh.Status.CollisionCount = &n
	if _, err := c.kube.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("bump collision count of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil, fmt.Errorf("controllerrevision %s/%s exists with another template: collision count now %d", ds.Namespace, rev.Name, n)
}

func withLabel(in map[string]string, k, v string) map[string]string {
	out := maps.Clone(in)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// cleanupHistory deletes the oldest revisions beyond revisionHistoryLimit,
// never one whose hash a live pod still carries (OnDelete keeps old pods).
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, pods []*corev1.Pod) error {
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	toKill := len(old) - limit
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[hashLabel]; h != "" {
			live[h] = true
		}
	}
	old = append([]*appsv1.ControllerRevision(nil), old...)
	sort.Slice(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, rev := range old {
		if toKill <= 0 {
			break
		}
		if live[rev.Labels[hashLabel]] {
			continue
		}
		if err := c.kube.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, rev.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old controllerrevision %s/%s: %w", ds.Namespace, rev.Name, err)
		}
		toKill--
	}
	return nil
}
