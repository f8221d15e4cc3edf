package endpointslice

// The mirroring controller ("endpointslicemirroring" in
// kube-controller-manager) covers the other way a Service gets endpoints:
// a Service without a selector whose Endpoints someone wrote by hand (the
// documented way to point a Service at a database outside the cluster).
// kube-proxy reads only EndpointSlices, so those Endpoints are copied into
// slices managed by "endpointslicemirroring-controller.k8s.io":
//
//	Service (selector: none) ┐
//	Endpoints (hand-written) ─┼─▶ queue ─▶ worker ─▶ syncMirror("ns/name")
//	our mirrored slices ─────┘    ├─ selector set, Endpoints gone, skip-mirror? delete our slices
//	                              └─ each subset's addresses ─▶ reconcile ─▶ apply
//
// The API server's own "kubernetes" Endpoints carry the skip-mirror label:
// it writes that Service's slice itself.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

const (
	// MirroringControllerName is the managed-by value on mirrored slices.
	MirroringControllerName = "endpointslicemirroring-controller.k8s.io"
	// DefaultMirroringMaxEndpointsPerSubset is upstream's
	// --mirroring-max-endpoints-per-subset: one subset, one slice.
	DefaultMirroringMaxEndpointsPerSubset = 1000
	// leaderAnnotation marks the Endpoints old leader elections used as a
	// lock: not addresses, never mirrored.
	leaderAnnotation = "control-plane.alpha.kubernetes.io/leader"
)

// Mirroring copies hand-written Endpoints of selectorless Services into EndpointSlices.
type Mirroring struct {
	kube         kubernetes.Interface
	services     corelisters.ServiceLister
	endpoints    corelisters.EndpointsLister
	slices       discoverylisters.EndpointSliceLister
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string] // Endpoints keys
	recorder     record.EventRecorder
	expected     *expectations
	maxPerSubset int
}

// NewMirroring builds the mirroring controller on the given informers.
func NewMirroring(kube kubernetes.Interface, services coreinformers.ServiceInformer, endpoints coreinformers.EndpointsInformer,
	slices discoveryinformers.EndpointSliceInformer, recorder record.EventRecorder) (*Mirroring, error) {
	m := &Mirroring{
		kube:      kube,
		services:  services.Lister(),
		endpoints: endpoints.Lister(),
		slices:    slices.Lister(),
		synced:    []cache.InformerSynced{services.Informer().HasSynced, endpoints.Informer().HasSynced, slices.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice_mirroring"}),
		recorder:     recorder,
		expected:     newExpectations(),
		maxPerSubset: DefaultMirroringMaxEndpointsPerSubset,
	}
	enqueue := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			m.queue.Add(key)
		}
	}
	handlers := cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, cur interface{}) { enqueue(cur) }, DeleteFunc: enqueue}
	if _, err := services.Informer().AddEventHandler(handlers); err != nil {
		return nil, fmt.Errorf("watch services: %w", err)
	}
	if _, err := endpoints.Informer().AddEventHandler(handlers); err != nil {
		return nil, fmt.Errorf("watch endpoints: %w", err)
	}
	sliceChanged := func(obj interface{}) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelManagedBy] == MirroringControllerName {
			m.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
		}
	}
	if _, err := slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: sliceChanged, UpdateFunc: func(_, cur interface{}) { sliceChanged(cur) }, DeleteFunc: sliceChanged,
	}); err != nil {
		return nil, fmt.Errorf("watch endpointslices: %w", err)
	}
	return m, nil
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (m *Mirroring) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer m.queue.ShutDown()
	slog.Info("starting controller", "controller", "endpointslicemirroring", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), m.synced...) {
		return errors.New("endpointslicemirroring controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for m.processNextItem(ctx) {
			}
		}, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "endpointslicemirroring")
	return nil
}

func (m *Mirroring) processNextItem(ctx context.Context) bool {
	key, shutdown := m.queue.Get()
	if shutdown {
		return false
	}
	defer m.queue.Done(key)
	err := m.sync(ctx, key)
	var stale *staleCacheError
	switch {
	case err == nil:
		m.queue.Forget(key)
	case errors.As(err, &stale):
		m.queue.AddAfter(key, 100*time.Millisecond)
	case m.queue.NumRequeues(key) < maxRetries:
		slog.Debug("endpointslice mirroring failed, will retry", "endpoints", key, "err", err)
		m.queue.AddRateLimited(key)
	default:
		slog.Warn("dropping endpoints out of the mirroring queue", "endpoints", key, "err", err)
		m.queue.Forget(key)
	}
	return true
}

// sync mirrors the Endpoints "namespace/name" into slices, or removes our
// slices when there is nothing (any more) to mirror.
func (m *Mirroring) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	cached, err := m.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: MirroringControllerName}))
	if err != nil {
		return fmt.Errorf("list mirrored endpointslices of %s: %w", key, err)
	}
	if !m.expected.satisfied(key, cached) {
		return &staleCacheError{service: key}
	}
	client := m.kube.DiscoveryV1().EndpointSlices(namespace)

	svc, err := m.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		m.expected.forget(key)
		return nil // no Service, nothing routes here; the slices go with their Endpoints
	}
	if err != nil {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	ep, err := m.endpoints.Endpoints(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get endpoints %s: %w", key, err)
	}
	if svc.Spec.Selector != nil || ep == nil || ep.Labels[discoveryv1.LabelSkipMirror] == "true" || ep.Annotations[leaderAnnotation] != "" {
		// The EndpointSlice controller serves a selector; otherwise there
		// is nothing (any more) to mirror.
		return apply(ctx, client, m.expected, key, plan{delete: cached}, time.Time{})
	}

	want, invalid, skipped := mirrorDesired(ep, m.maxPerSubset)
	if invalid > 0 {
		m.recorder.Eventf(ep, corev1.EventTypeWarning, "InvalidIPAddress",
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", invalid)
	}
	if skipped > 0 {
		m.recorder.Eventf(ep, corev1.EventTypeWarning, "TooManyAddressesToMirror",
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped", m.maxPerSubset, skipped)
	}
	var existing []*discoveryv1.EndpointSlice
	for _, s := range cached {
		if s.DeletionTimestamp == nil {
			existing = append(existing, s)
		}
	}
	p := reconcile(mirrorTarget(ep, m.maxPerSubset), existing, want)
	if p.empty() {
		return nil
	}
	return apply(ctx, client, m.expected, key, p, time.Time{})
}

// mirrorTarget is the slices of a hand-written Endpoints: its labels and
// annotations, owned by it.
func mirrorTarget(ep *corev1.Endpoints, maxPerSlice int) target {
	yes := true
	labels := map[string]string{}
	for k, v := range ep.Labels {
		labels[k] = v
	}
	labels[discoveryv1.LabelServiceName] = ep.Name
	labels[discoveryv1.LabelManagedBy] = MirroringControllerName
	annotations := map[string]string{}
	for k, v := range ep.Annotations {
		if k != corev1.EndpointsLastChangeTriggerTime && k != corev1.LastAppliedConfigAnnotation {
			annotations[k] = v
		}
	}
	return target{
		namespace: ep.Namespace, name: ep.Name, labels: labels, annotations: annotations,
		owner: metav1.OwnerReference{APIVersion: "v1", Kind: "Endpoints", Name: ep.Name, UID: ep.UID,
			Controller: &yes, BlockOwnerDeletion: &yes},
		addressTypes: []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6},
		maxPerSlice:  maxPerSlice,
	}
}

// mirrorDesired turns each subset's addresses into endpoints, by address
// type and port set, at most maxPerSubset per subset. It counts the
// addresses that are no IP (an Endpoints may hold anything) and those
// over the limit.
func mirrorDesired(ep *corev1.Endpoints, maxPerSubset int) (want desiredState, invalid, skipped int) {
	want = desiredState{discoveryv1.AddressTypeIPv4: {}, discoveryv1.AddressTypeIPv6: {}}
	for _, subset := range ep.Subsets {
		var ports []discoveryv1.EndpointPort
		for _, p := range subset.Ports {
			name, port, proto := p.Name, p.Port, p.Protocol
			ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: p.AppProtocol})
		}
		pk := portsKey(ports)
		added := 0
		add := func(a corev1.EndpointAddress, ready bool) {
			if added >= maxPerSubset {
				skipped++
				return
			}
			ip, err := netip.ParseAddr(a.IP)
			if err != nil {
				invalid++
				return
			}
			at := discoveryv1.AddressTypeIPv6
			if ip.Is4() || ip.Is4In6() {
				at, ip = discoveryv1.AddressTypeIPv4, ip.Unmap()
			}
			e := discoveryv1.Endpoint{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: a.TargetRef, NodeName: a.NodeName}
			if a.Hostname != "" {
				h := a.Hostname
				e.Hostname = &h
			}
			ps := want[at][pk]
			if ps == nil {
				ps = &portSet{ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				want[at][pk] = ps
			}
			ps.endpoints[endpointKey(e)] = e
			added++
		}
		for _, a := range subset.Addresses {
			add(a, true)
		}
		for _, a := range subset.NotReadyAddresses {
			add(a, false)
		}
	}
	return want, invalid, skipped
}
