package rest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// maxDisruptedPods caps status.disruptedPods: more entries mean the
// disruption controller is not confirming evictions (upstream 2000).
const maxDisruptedPods = 2000

var pdbGVR = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")

// evict serves POST pods/{name}/eviction (kubectl drain): a graceful delete
// that first asks the pod's PodDisruptionBudget, like upstream's
// EvictionREST:
//
//	pod terminal, Pending or already deleting ──────────────────▶ delete
//	no PDB selects it ──────────────────────────────────────────▶ delete
//	two or more PDBs ─────────────────────────────────────────────▶ 500
//	pod not Ready and (AlwaysAllow, or the PDB is healthy anyway) ▶ delete
//	                                             (if the pod is unchanged)
//	PDB not yet synced, or disruptionsAllowed 0 ──────────────────▶ 429
//	otherwise: disruptionsAllowed-1, pod into status.disruptedPods ▶ delete
//
// Before the delete the pod gets the DisruptionTarget condition, which
// tells its controllers (Job pod failure policy) why it went.
func (h *Handler) evict(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, _, err := decodeObject(r, data, st.Info, policyv1.SchemeGroupVersion.WithKind("Eviction"))
	if err != nil {
		writeError(w, err)
		return
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != ri.Name {
		writeError(w, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	dryRun := len(opts.DryRun) > 0 || r.URL.Query().Get("dryRun") == "All"
	status, err := h.evictPod(r.Context(), st, ri.Namespace, ri.Name, opts, dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, int(status.Code), status)
}

func (h *Handler) evictPod(ctx context.Context, pods *registry.Store, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (*metav1.Status, error) {
	success := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
	// A pod that is done, not yet running, or already going does not count
	// against any budget. If it changes while we delete it (a Pending pod
	// starting), look again, unless the client pinned a resourceVersion.
	var pod *corev1.Pod
	for attempt := 0; ; attempt++ {
		obj, err := pods.Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		pod = obj.(*corev1.Pod)
		if !canIgnorePDB(pod) {
			break
		}
		o := opts
		if enforceResourceVersion(pod) && !hasResourceVersion(opts) {
			o = withResourceVersion(opts, pod.ResourceVersion)
		}
		err = markAndDelete(ctx, pods, ns, name, o, dryRun)
		if err == nil {
			return success, nil
		}
		if !apierrors.IsConflict(err) || hasResourceVersion(opts) || attempt == 4 {
			return nil, err
		}
	}

	pdbs, err := h.pdbsFor(ctx, pod)
	if err != nil {
		return nil, err
	}
	if len(pdbs) > 1 {
		return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
			Code:    http.StatusInternalServerError}, nil
	}
	unhealthyDelete := false
	if len(pdbs) == 1 {
		pdb := pdbs[0]
		// An unready pod is not what the budget protects: it may go when the
		// policy says so, or when the application is healthy without it.
		if !isPodReady(pod) {
			policy := pdb.Spec.UnhealthyPodEvictionPolicy
			unhealthyDelete = policy != nil && *policy == policyv1.AlwaysAllow ||
				pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
		}
		if !unhealthyDelete {
			if err := h.spendDisruption(ctx, pdb, pod.Name, dryRun); err != nil {
				return nil, err
			}
		}
	}

	o := opts
	if unhealthyDelete {
		// Only if the pod has not become Ready since we looked.
		o = withResourceVersion(opts, pod.ResourceVersion)
	}
	if err := markAndDelete(ctx, pods, ns, name, o, dryRun); err != nil {
		if apierrors.IsConflict(err) && unhealthyDelete && !hasResourceVersion(opts) {
			return nil, tooManyRequests(pdbs[0].Name) // the client retries and we look again
		}
		return nil, err
	}
	return success, nil
}

// pdbsFor lists the PDBs of the pod's namespace that select it. A nil or
// empty selector selects nothing here (unlike in the disruption controller).
func (h *Handler) pdbsFor(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	st, ok := h.Registry.Lookup(pdbGVR)
	if !ok {
		return nil, nil
	}
	objs, _, err := st.List(ctx, pod.Namespace, registry.Selectors{})
	if err != nil {
		return nil, fmt.Errorf("list poddisruptionbudgets in %s: %w", pod.Namespace, err)
	}
	var out []*policyv1.PodDisruptionBudget
	for _, o := range objs {
		pdb := o.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out, nil
}

// spendDisruption checks the budget and takes one disruption from it in
// one write of the PDB's status: the store re-runs the check on the fresh
// PDB if another eviction (or the controller) wrote first, so two
// concurrent evictions cannot both spend the last disruption.
func (h *Handler) spendDisruption(ctx context.Context, pdb *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	st := h.Registry.MustLookup(pdbGVR)
	_, _, err := st.Update(ctx, pdb.Namespace, pdb.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(st.Info.GroupResource(), pdb.Name)
		}
		p := cur.(*policyv1.PodDisruptionBudget)
		if err := checkBudget(p); err != nil {
			return nil, err
		}
		p.Status.DisruptionsAllowed--
		if p.Status.DisruptionsAllowed == 0 {
			apimeta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition,
				Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason, ObservedGeneration: p.Status.ObservedGeneration})
		}
		// Tell the controller the pod is about to go, so it does not count
		// it healthy again before the delete reaches its cache.
		if p.Status.DisruptedPods == nil {
			p.Status.DisruptedPods = map[string]metav1.Time{}
		}
		p.Status.DisruptedPods[podName] = metav1.NewTime(time.Now())
		p.ResourceVersion = "" // let the store retry on conflicts, re-checking
		return p, nil
	}, registry.WriteOptions{Subresource: "status", DryRun: dryRun, FieldManager: "kube-apiserver"})
	return err
}

func checkBudget(p *policyv1.PodDisruptionBudget) error {
	gr := policyv1.Resource("poddisruptionbudget")
	switch {
	case p.Status.ObservedGeneration < p.Generation:
		return tooManyRequests(p.Name)
	case p.Status.DisruptionsAllowed < 0:
		return apierrors.NewForbidden(gr, p.Name, fmt.Errorf("pdb disruptions allowed is negative"))
	case len(p.Status.DisruptedPods) > maxDisruptedPods:
		return apierrors.NewForbidden(gr, p.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	case p.Status.DisruptionsAllowed == 0:
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", p.Name, p.Status.DesiredHealthy, p.Status.CurrentHealthy)})
		return err
	}
	return nil
}

// tooManyRequests is the 429 for a budget the controller has not caught up
// with yet; kubectl drain retries it.
func tooManyRequests(pdbName string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdbName)})
	return err
}

// markAndDelete sets the pod's DisruptionTarget condition (reason
// EvictionByEvictionAPI) and then deletes it with the eviction's options.
func markAndDelete(ctx context.Context, pods *registry.Store, ns, name string, opts *metav1.DeleteOptions, dryRun bool) error {
	if !dryRun {
		out, _, err := pods.Update(ctx, ns, name, func(cur runtime.Object) (runtime.Object, error) {
			if cur == nil {
				return nil, apierrors.NewNotFound(pods.Info.GroupResource(), name)
			}
			pod := cur.(*corev1.Pod)
			if p := opts.Preconditions; p != nil {
				if p.UID != nil && *p.UID != "" && *p.UID != pod.UID {
					return nil, apierrors.NewConflict(pods.Info.GroupResource(), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, pod.UID))
				}
				if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != pod.ResourceVersion {
					return nil, apierrors.NewConflict(pods.Info.GroupResource(), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, pod.ResourceVersion))
				}
			}
			setCondition(&pod.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"})
			pod.ResourceVersion = ""
			return pod, nil
		}, registry.WriteOptions{Subresource: "status", FieldManager: "kube-apiserver"})
		if err != nil {
			return err
		}
		if hasResourceVersion(opts) {
			// We just changed the pod: the precondition moves with us.
			o, _ := apimeta.Accessor(out)
			opts = withResourceVersion(opts, o.GetResourceVersion())
		}
	}
	_, _, err := pods.Delete(ctx, ns, name, opts, dryRun)
	return err
}

func setCondition(s *corev1.PodStatus, c corev1.PodCondition) {
	c.LastTransitionTime = metav1.Now()
	for i := range s.Conditions {
		if s.Conditions[i].Type == c.Type {
			if s.Conditions[i].Status == c.Status {
				c.LastTransitionTime = s.Conditions[i].LastTransitionTime
			}
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}

func canIgnorePDB(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
		p.Status.Phase == corev1.PodPending || p.DeletionTimestamp != nil
}

// enforceResourceVersion: a Pending pod may start meanwhile; terminal and
// deleting pods cannot come back.
func enforceResourceVersion(p *corev1.Pod) bool {
	return !(p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil)
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasResourceVersion(o *metav1.DeleteOptions) bool {
	return o.Preconditions != nil && o.Preconditions.ResourceVersion != nil && *o.Preconditions.ResourceVersion != ""
}

func withResourceVersion(o *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	o = o.DeepCopy()
	if o.Preconditions == nil {
		o.Preconditions = &metav1.Preconditions{}
	}
	o.Preconditions.ResourceVersion = &rv
	return o
}
