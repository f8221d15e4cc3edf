package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podKind is what a claim's ownerReference to its pod says.
var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

// The writes of one sync: pods and their claims, each with upstream's
// event ("create Pod web-0 in StatefulSet web successful").

func (c *Controller) podEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	reason := strings.ToUpper(verb[:1]) + verb[1:]
	if err == nil {
		c.recorder.Eventf(set, corev1.EventTypeNormal, "Successful"+reason, "%s Pod %s in StatefulSet %s successful", verb, pod.Name, set.Name)
		return
	}
	c.recorder.Eventf(set, corev1.EventTypeWarning, "Failed"+reason, "%s Pod %s in StatefulSet %s failed error: %s", verb, pod.Name, set.Name, err)
}

func (c *Controller) claimEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim, err error) {
	reason := strings.ToUpper(verb[:1]) + verb[1:]
	if err == nil {
		c.recorder.Eventf(set, corev1.EventTypeNormal, "Successful"+reason, "%s Claim %s Pod %s in StatefulSet %s success", verb, claim.Name, pod.Name, set.Name)
		return
	}
	c.recorder.Eventf(set, corev1.EventTypeWarning, "Failed"+reason, "%s Claim %s for Pod %s in StatefulSet %s failed error: %s", verb, claim.Name, pod.Name, set.Name, err)
}

// createPod creates the pod's missing claims, then the pod, then points
// the claims at their owners as the retention policy says (the pod's UID is
// known only now).
func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if err := c.createClaims(ctx, set, pod); err != nil {
		return err
	}
	created, err := c.kube.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err) // a stale cache: retry later
	}
	c.podEvent("create", set, pod, err)
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return c.fixClaimOwners(ctx, set, created)
}

// createClaims creates the pod's claims that do not exist yet. A claim
// being deleted blocks the pod: it would start on a volume about to vanish.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	var errs []error
	for _, t := range set.Spec.VolumeClaimTemplates {
		claim := claimsFor(set, ordinalOf(pod))[t.Name]
		existing, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			_, err := c.kube.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, &claim, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // created by an earlier sync, not yet in the cache
			}
			c.claimEvent("create", set, pod, &claim, err)
			if err != nil {
				errs = append(errs, fmt.Errorf("create claim %s/%s for pod %s: %w", set.Namespace, claim.Name, pod.Name, err))
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("read claim %s/%s: %w", set.Namespace, claim.Name, err))
		case existing.DeletionTimestamp != nil:
			errs = append(errs, fmt.Errorf("claim %s/%s for pod %s is being deleted", set.Namespace, claim.Name, pod.Name))
		}
	}
	return errors.Join(errs...)
}

// claimIsStale: a claim of a pod about to be created still points to an
// earlier pod of that name, so the garbage collector is about to delete it
// (whenScaled: Delete). Wait for it to go rather than use it.
func (c *Controller) claimIsStale(set *appsv1.StatefulSet, ordinal int) bool {
	for _, claim := range claimsFor(set, ordinal) {
		existing, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(claim.Name)
		if err != nil {
			continue
		}
		for _, ref := range existing.OwnerReferences {
			if ref.Kind == podKind.Kind && ref.Name == podName(set, ordinal) {
				return true
			}
		}
	}
	return false
}

// removePod deletes the pod, only if it still is the one we looked at.
func (c *Controller) removePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	opts := metav1.DeleteOptions{}
	if pod.UID != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &pod.UID}
	}
	err := c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if apierrors.IsNotFound(err) {
		return nil // gone already
	}
	c.podEvent("delete", set, pod, err)
	if err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// repairPod puts back identity labels someone removed.
func (c *Controller) repairPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if identityMatches(set, pod) {
		return nil
	}
	fixed := pod.DeepCopy()
	if fixed.Labels == nil {
		fixed.Labels = map[string]string{}
	}
	setIdentityLabels(fixed, ordinalOf(fixed))
	_, err := c.kube.CoreV1().Pods(pod.Namespace).Update(ctx, fixed, metav1.UpdateOptions{})
	c.podEvent("update", set, pod, err)
	if err != nil {
		return fmt.Errorf("update pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// wantedClaimOwners says which of set and pod should own the pod's claims
// under persistentVolumeClaimRetentionPolicy, as upstream:
//
//	whenDeleted Delete → the set (claims go with the set)
//	whenScaled  Delete → the pod, once its ordinal is out of range (the
//	                     claim goes with the scaled-down pod); then not the set
func wantedClaimOwners(set *appsv1.StatefulSet, pod *corev1.Pod) (bySet, byPod bool) {
	p := set.Spec.PersistentVolumeClaimRetentionPolicy
	if p == nil {
		return false, false
	}
	scaledDown := !inRange(set, ordinalOf(pod))
	byPod = p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && scaledDown
	bySet = p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && !byPod
	return bySet, byPod
}

// fixClaimOwners rewrites the ownerReferences of the pod's claims that do
// not match wantedClaimOwners. Claims another controller owns are left be.
func (c *Controller) fixClaimOwners(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	bySet, byPod := wantedClaimOwners(set, pod)
	var errs []error
	for _, want := range claimsFor(set, ordinalOf(pod)) {
		claim, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(want.Name)
		if apierrors.IsNotFound(err) {
			continue // not created yet, or just deleted
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read claim %s/%s: %w", set.Namespace, want.Name, err))
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(claim); ref != nil && ref.UID != set.UID && ref.UID != pod.UID {
			continue
		}
		var refs []metav1.OwnerReference
		for _, r := range claim.OwnerReferences { // drop ours (also stale ones: same name, old UID)
			ours := (r.Kind == controllerKind.Kind && r.Name == set.Name) || (r.Kind == podKind.Kind && r.Name == pod.Name)
			if !ours {
				refs = append(refs, r)
			}
		}
		if bySet {
			refs = append(refs, *metav1.NewControllerRef(set, controllerKind))
		}
		if byPod {
			refs = append(refs, *metav1.NewControllerRef(pod, podKind))
		}
		if sameRefs(refs, claim.OwnerReferences) {
			continue
		}
		fixed := claim.DeepCopy()
		fixed.OwnerReferences = refs
		_, err = c.kube.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, fixed, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.claimEvent("update", set, pod, claim, err)
			errs = append(errs, fmt.Errorf("update owners of claim %s/%s: %w", set.Namespace, claim.Name, err))
		}
	}
	return errors.Join(errs...)
}

func sameRefs(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, r := range a {
		seen[string(r.UID)+"/"+r.Kind] = true
	}
	for _, r := range b {
		if !seen[string(r.UID)+"/"+r.Kind] {
			return false
		}
	}
	return true
}
