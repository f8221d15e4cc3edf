package hollownode

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// nodeNameIndex indexes the pod cache by spec.nodeName, so Revive finds a
// node's pods without scanning them all.
const nodeNameIndex = "spec.nodeName"

// startInformers starts one Node informer and one Pod informer for the
// whole set. The pod informer asks the API server only for bound pods
// (spec.nodeName!=), and the handlers keep those bound to one of our nodes.
func (s *Set) startInformers(ctx context.Context) error {
	nodes := coreinformers.NewNodeInformer(s.kube, 0, cache.Indexers{})
	pods := coreinformers.NewFilteredPodInformer(s.kube, metav1.NamespaceAll, 0,
		cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
			return []string{obj.(*corev1.Pod).Spec.NodeName}, nil
		}},
		func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })
	s.nodeLister = corelisters.NewNodeLister(nodes.GetIndexer())
	s.podLister = corelisters.NewPodLister(pods.GetIndexer())
	s.podIndex = pods.GetIndexer()

	// A kubelet whose Node object is deleted registers again. The fail
	// annotation switches a node off and on from kubectl.
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.followFailAnnotation(obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { s.followFailAnnotation(obj.(*corev1.Node)) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if n, ok := obj.(*corev1.Node); ok && s.nodes[n.Name] != nil {
				s.tasks.Add(task{n.Name, taskRegister})
			}
		},
	}); err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	// Pod handlers only queue keys of pods on our nodes.
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok || s.nodes[pod.Spec.NodeName] == nil {
			return
		}
		if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
			s.pods.Add(key)
		}
	}
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	s.wg.Go(func() { nodes.Run(ctx.Done()) })
	s.wg.Go(func() { pods.Run(ctx.Done()) })
	if !cache.WaitForCacheSync(ctx.Done(), nodes.HasSynced, pods.HasSynced) {
		return fmt.Errorf("hollow nodes: waiting for node and pod caches: %w", ctx.Err())
	}
	return nil
}

func (s *Set) startWorkers(ctx context.Context) {
	for range s.o.Workers {
		s.wg.Go(func() { s.heartbeatWorker(ctx) })
		s.wg.Go(func() { s.podWorker(ctx) })
	}
}

func (s *Set) podWorker(ctx context.Context) {
	for {
		key, shutdown := s.pods.Get()
		if shutdown {
			return
		}
		// Forget clears the key's back-off after a success; Done lets the
		// queue hand the key out again if it was added meanwhile.
		if err := s.syncPod(ctx, key); err != nil {
			s.pods.AddRateLimited(key)
		} else {
			s.pods.Forget(key)
		}
		s.pods.Done(key)
	}
}

// syncPod does what a kubelet would do next for one pod: start it (status
// Running), finish it (Succeeded/Failed), or confirm its deletion.
func (s *Set) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a key we cannot parse will not get better
	}
	pod, err := s.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.ips.release(key)
		return nil
	}
	if err != nil {
		return err
	}
	n := s.nodes[pod.Spec.NodeName]
	if n == nil {
		return nil
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.failed || ctx.Err() != nil {
		return nil // a dead kubelet does nothing; Revive looks again
	}
	now := s.now()
	if pod.DeletionTimestamp != nil {
		return s.kill(ctx, key, pod, now)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		s.ips.release(key) // the sandbox is gone; its address is free
		return nil
	}
	hostIP := nodeInternalIP(n.index).String()
	podIPs, err := s.podAddresses(key, pod, n, hostIP)
	if err != nil {
		return err
	}
	status, after := nextStatus(pod, hostIP, podIPs, timing{s.o.StartupDelay, s.o.JobDuration}, now)
	if status != nil {
		p := pod.DeepCopy()
		p.Status = *status
		if _, err := s.kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("update status of pod %s on %s: %w", key, n.name, err)
		}
	}
	if after > 0 {
		s.pods.AddAfter(key, after)
	}
	return nil
}

// podAddresses are the pod's IPs: the node's for host-network pods, the
// ones it already has, or fresh ones from the node's pod range.
func (s *Set) podAddresses(key string, pod *corev1.Pod, n *node, hostIP string) ([]string, error) {
	if pod.Spec.HostNetwork {
		return []string{hostIP}, nil
	}
	cur, _ := s.nodeLister.Get(n.name)
	cidrs := podCIDRs(cur, n.index)
	if len(pod.Status.PodIPs) > 0 {
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		if addr, err := netip.ParseAddr(ips[0]); err == nil {
			if off, ok := offsetOf(cidrs[0], addr); ok {
				s.ips.reserve(n.name, key, pod.UID, off)
			}
		}
		return ips, nil
	}
	off, err := s.ips.assign(n.name, key, pod.UID, usable(cidrs))
	if err != nil {
		return nil, err
	}
	return addrsAt(cidrs, off), nil
}

// kill plays the kubelet's side of a graceful delete: the API server set
// deletionTimestamp; the kubelet stops the containers within the grace
// period and then removes the pod with grace 0 (the UID precondition makes
// sure a new pod of the same name is not removed instead). Our containers
// stop after min(grace, KillDelay).
func (s *Set) kill(ctx context.Context, key string, pod *corev1.Pod, now time.Time) error {
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 0)) * time.Second
	requested := pod.DeletionTimestamp.Add(-grace)
	if at := requested.Add(min(grace, s.o.KillDelay)); now.Before(at) {
		s.pods.AddAfter(key, at.Sub(now))
		return nil
	}
	err := s.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s after killing it: %w", key, err)
	}
	s.ips.release(key)
	return nil
}

// FailAnnotation on a hollow node's Node object, set to "true", makes that
// node go silent as if its machine lost power; removing it (or any other
// value) brings the node back:
//
//	kubectl annotate node hollow-node-1 hollow.kubelab.dev/fail=true
//	kubectl annotate node hollow-node-1 hollow.kubelab.dev/fail-
//
// A failed node writes nothing, but it still reads: that is how it hears
// the annotation go away.
const FailAnnotation = "hollow.kubelab.dev/fail"

func (s *Set) followFailAnnotation(n *corev1.Node) {
	hn := s.nodes[n.Name]
	if hn == nil {
		return
	}
	want := n.Annotations[FailAnnotation] == "true"
	hn.mu.RLock()
	failed, byAnnotation := hn.failed, hn.byAnnotation
	hn.mu.RUnlock()
	switch {
	case want && !failed:
		_ = s.Fail(n.Name)
		hn.mu.Lock()
		hn.byAnnotation = true
		hn.mu.Unlock()
		s.notify(n.Name, "failed: heartbeats stopped ("+FailAnnotation+"=true)")
	case !want && failed && byAnnotation:
		hn.mu.Lock()
		hn.byAnnotation = false
		hn.mu.Unlock()
		_ = s.Revive(n.Name)
		s.notify(n.Name, "revived ("+FailAnnotation+" removed)")
	}
}
