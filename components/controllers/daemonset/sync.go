package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelab/kubelab/components/controllers/controllerref"
)

// sync brings one DaemonSet's pods in line with its nodes and template,
// in upstream's order: history, manage (per node), rolling update, history
// cleanup, status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key) // its pods are the garbage collector's
		return nil
	}
	if err != nil {
		return fmt.Errorf("read daemonset %s from cache: %w", key, err)
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil // validation should have refused it; retrying will not help
	}
	if selector.Empty() {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	if ds.DeletionTimestamp != nil {
		return nil // being deleted: the garbage collector removes the pods
	}
	cur, old, err := c.constructHistory(ctx, ds, selector)
	if err != nil {
		return fmt.Errorf("construct history of daemonset %s: %w", key, err)
	}
	hash := cur.Labels[hashLabel]

	byNode, all, err := c.podsByNode(ctx, ds, selector)
	if err != nil {
		return err
	}
	if !c.expectations.Satisfied(key) {
		return c.updateStatus(ctx, ds, nodes, byNode, hash)
	}
	var errs []error
	errs = append(errs, c.manage(ctx, key, ds, nodes, byNode, hash))
	if c.expectations.Satisfied(key) && ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		errs = append(errs, c.rollingUpdate(ctx, key, ds, nodes, byNode, hash))
	}
	errs = append(errs, c.cleanupHistory(ctx, ds, old, all))
	errs = append(errs, c.updateStatus(ctx, ds, nodes, byNode, hash))
	return errors.Join(errs...)
}

// podsByNode claims the DaemonSet's pods and groups them by target node.
// Finished pods already being deleted are left out: they are history.
func (c *Controller) podsByNode(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) (map[string][]*corev1.Pod, []*corev1.Pod, error) {
	pods, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, fmt.Errorf("list pods in %s: %w", ds.Namespace, err)
	}
	m := controllerref.NewManager(ds, controllerKind, selector, c.recheck(ds))
	owned, err := controllerref.ClaimAll(ctx, m, pods, func(ctx context.Context, name string, patch []byte) error {
		_, err := c.kube.CoreV1().Pods(ds.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range owned {
		if isTerminal(p) && p.DeletionTimestamp != nil {
			continue
		}
		node, err := targetNode(p)
		if err != nil {
			continue // not a pod we made; nothing to place it by
		}
		byNode[node] = append(byNode[node], p)
	}
	return byNode, owned, nil
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// manage makes every node have exactly the daemon pods it should: one on
// each eligible node, none elsewhere. Failed pods are deleted to be
// replaced, but at most once per back-off period per node.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	var create []string
	var remove []*corev1.Pod
	known := map[string]bool{}
	for _, node := range nodes {
		known[node.Name] = true
		run, keep := shouldRun(node, ds)
		pods := byNode[node.Name]
		switch {
		case !keep && len(pods) > 0:
			for _, p := range pods {
				if p.DeletionTimestamp == nil {
					remove = append(remove, p)
				}
			}
		case run && len(pods) == 0:
			create = append(create, node.Name)
		case keep:
			var running []*corev1.Pod
			for _, p := range pods {
				switch {
				case p.DeletionTimestamp != nil:
				case p.Status.Phase == corev1.PodFailed:
					// The kubelet may reject the pod again at once: replace
					// it at most once per back-off period (1s doubling to 15m).
					bk := key + "/" + node.Name
					if now := c.failedBackoff.Clock.Now(); c.failedBackoff.IsInBackOffSinceUpdate(bk, now) {
						c.queue.AddAfter(key, c.failedBackoff.Get(bk))
						continue
					} else {
						c.failedBackoff.Next(bk, now)
					}
					c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod",
						"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
					remove = append(remove, p)
				case p.Status.Phase == corev1.PodSucceeded:
					remove = append(remove, p) // a daemon must not finish: replace it
				default:
					running = append(running, p)
				}
			}
			// More than one: keep the oldest scheduled one.
			sort.Slice(running, func(i, j int) bool { return olderScheduled(running[i], running[j]) })
			if len(running) > 1 {
				remove = append(remove, running[1:]...)
			}
		}
	}
	// Pods for nodes that no longer exist. (Upstream leaves bound ones to
	// the pod garbage collector; deleting them here is quicker and the same.)
	for node, pods := range byNode {
		if known[node] {
			continue
		}
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				remove = append(remove, p)
			}
		}
	}
	return c.syncNodes(ctx, key, ds, remove, create, hash)
}

// olderScheduled is upstream's podByCreationTimestampAndPhase: bound pods
// first, then the oldest, then by name.
func olderScheduled(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName != ""
	}
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.Name < b.Name
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}

// rollingUpdate (maxSurge 0) deletes old pods on up to maxUnavailable nodes;
// manage creates their replacements on the next sync. Nodes whose pod is
// missing or not yet available use up the budget; an old pod that is not
// available anyway is always replaced, as it costs nothing.
func (c *Controller) rollingUpdate(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	desired := 0
	var names []string
	for _, node := range nodes {
		if run, _ := shouldRun(node, ds); run {
			desired++
			names = append(names, node.Name)
		} else if len(byNode[node.Name]) > 0 {
			names = append(names, node.Name)
		}
	}
	maxUnavailable := maxUnavailable(ds, desired)
	sort.Strings(names)
	unavailable := 0
	var replace, candidates []*corev1.Pod
	now := c.now()
	for _, name := range names {
		newPod, oldPod, ok := splitOnNode(ds, byNode[name], hash)
		switch {
		case !ok, oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
			unavailable++ // manage sorts this node out; meanwhile it is down
		case newPod != nil:
			if !isAvailable(newPod, ds.Spec.MinReadySeconds, now) {
				unavailable++
			}
		case !isAvailable(oldPod, ds.Spec.MinReadySeconds, now):
			replace = append(replace, oldPod)
		default:
			candidates = append(candidates, oldPod)
		}
	}
	n := min(max(maxUnavailable-unavailable, 0), len(candidates))
	return c.syncNodes(ctx, key, ds, append(replace, candidates[:n]...), nil, hash)
}

// splitOnNode finds the node's up-to-date and old pod; ok is false when
// there are two of either (manage will delete the extra).
func splitOnNode(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(p, hash, ds.Generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// isUpdated: the pod has the current revision's hash (or, for pods made
// before hashes, the current template generation).
func isUpdated(p *corev1.Pod, hash string, generation int64) bool {
	return (hash != "" && p.Labels[hashLabel] == hash) || p.Labels[generationLabel] == fmt.Sprint(generation)
}

// syncNodes deletes the given pods and creates one pod per node, at most
// burst of each; creations go in slow-start batches.
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, remove []*corev1.Pod, create []string, hash string) error {
	if len(remove) == 0 && len(create) == 0 {
		return nil
	}
	create = create[:min(len(create), c.burst)]
	remove = remove[:min(len(remove), c.burst)]
	podKeys := make([]string, len(remove))
	for i, p := range remove {
		podKeys[i] = p.Namespace + "/" + p.Name
	}
	c.expectations.Expect(key, len(create), podKeys)

	var errs []error
	next := make(chan string, len(create))
	for _, n := range create {
		next <- n
	}
	created, err := slowStartBatch(len(create), 1, func() error {
		err := c.createPod(ctx, ds, <-next, hash)
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	})
	for i := created; i < len(create); i++ {
		c.expectations.CreationObserved(key) // failed or never tried: not coming
	}
	errs = append(errs, err)

	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, p := range remove {
		wg.Go(func() {
			if err := c.deletePodFor(ctx, ds, p); err != nil {
				c.expectations.DeletionObserved(key, podKeys[i])
				if !apierrors.IsNotFound(err) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
