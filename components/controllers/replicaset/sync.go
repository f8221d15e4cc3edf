package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelab/kubelab/components/controllers/controllerref"
)

// sync brings one ReplicaSet's pods to spec.replicas and writes its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	rs, err := c.owners.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key) // deleted: its pods are the garbage collector's
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s %s from cache: %w", c.name, key, err)
	}
	needsSync := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // invalid selector: validation should have refused it; retrying will not help
	}

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", ns, err)
	}
	var active, terminating []*corev1.Pod
	for _, p := range all {
		switch {
		case isActive(p):
			active = append(active, p)
		case isTerminating(p) && isControlledBy(p, rs) && selector.Matches(labels.Set(p.Labels)):
			terminating = append(terminating, p)
		}
	}
	owned, err := c.claimPods(ctx, rs, selector, active)
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, owned, rs)
	}
	rs = rs.DeepCopy()
	status := c.calculateStatus(rs, owned, terminating, manageErr)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err // requeued; expectations keep us from redoing the pod work
	}
	// Pods become available minReadySeconds after they became ready: come
	// back then, as no pod event will remind us.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicas(updated) && updated.Status.AvailableReplicas != replicas(updated) {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func isControlledBy(p *corev1.Pod, rs *appsv1.ReplicaSet) bool {
	ref := metav1.GetControllerOfNoCopy(p)
	return ref != nil && ref.UID == rs.UID
}

// claimPods adopts matching orphans and releases owned pods that no longer
// match, returning the pods that are the ReplicaSet's.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	recheck := controllerref.Recheck(rs, func(ctx context.Context) (metav1.Object, error) {
		return c.owners.fresh(ctx, rs.Namespace, rs.Name)
	})
	m := controllerref.NewManager(rs, c.owners.kind(), selector, recheck)
	return controllerref.ClaimAll(ctx, m, pods, func(ctx context.Context, name string, patch []byte) error {
		_, err := c.kube.CoreV1().Pods(rs.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// manageReplicas creates or deletes pods to close the gap to spec.replicas,
// at most burst per sync.
func (c *Controller) manageReplicas(ctx context.Context, key string, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		// Expect them all before the first create: the informer may see a
		// new pod before Create even returns.
		c.expectations.Expect(key, n, nil)
		ref := metav1.NewControllerRef(rs, c.owners.kind())
		created, err := slowStartBatch(n, 1, func() error {
			err := c.createPod(ctx, rs, ref)
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace is going away: nothing to do about it
			}
			return err
		})
		// Creates that failed or were never tried will not show up in the
		// informer: stop waiting for them.
		for i := created; i < n; i++ {
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		victims := podsToDelete(pods, c.relatedPods(rs), n, c.now())
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = p.Namespace + "/" + p.Name
		}
		c.expectations.Expect(key, 0, podKeys)
		var wg sync.WaitGroup
		errs := make([]error, len(victims))
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.deletePodFor(ctx, rs, p); err != nil {
					c.expectations.DeletionObserved(key, podKeys[i])
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// slowStartBatch calls fn count times in batches of 1, 2, 4, … (from
// initial), in parallel within a batch, and stops after the first batch
// with an error. A ReplicaSet that cannot create pods (quota, admission)
// thus fails with one or a few API calls, not hundreds. It returns how
// many calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		failed := len(errs)
		successes += batch - failed
		if failed > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

// createPod creates one pod from the template, owned by rs, named
// "<rs-name>-<random>" by the API server (generateName).
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet, ref *metav1.OwnerReference) error {
	t := rs.Spec.Template.DeepCopy()
	if len(t.Labels) == 0 {
		return fmt.Errorf("create pod for %s/%s: the template has no labels", rs.Namespace, rs.Name)
	}
	prefix := rs.Name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"a")) > 0 {
		prefix = rs.Name // upstream drops the dash when it would make the name invalid
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix, Namespace: rs.Namespace,
			Labels: t.Labels, Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ref},
		},
		Spec: t.Spec,
	}
	created, err := c.kube.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.IsTimeout(err) { // a timeout may still have created it
			c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("create pod for %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	slog.Debug("created pod", "controller", c.name, "owner", rs.Namespace+"/"+rs.Name, "pod", created.Name)
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodFor(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	err := c.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return err // someone was faster; not an event
	}
	if err != nil {
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s of %s: %w", p.Namespace, p.Name, rs.Name, err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}

// relatedPods are the active pods of every ReplicaSet with the same
// controller (Deployment) as rs, rs included: scale-down prefers pods that
// share a node with many of their siblings.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	uids := map[types.UID]bool{rs.UID: true}
	if owner := metav1.GetControllerOfNoCopy(rs); owner != nil {
		siblings, _ := c.owners.list(rs.Namespace)
		for _, s := range siblings {
			if ref := metav1.GetControllerOfNoCopy(s); ref != nil && ref.UID == owner.UID {
				uids[s.UID] = true
			}
		}
	}
	all, _ := c.podLister.Pods(rs.Namespace).List(labels.Everything())
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && uids[ref.UID] {
			out = append(out, p)
		}
	}
	return out
}
