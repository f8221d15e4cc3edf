package allocator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultLeakGracePeriod is how old a reservation without a Service must be
// before Repair frees it: the apiserver's own request timeout (60s), like
// upstream, so a replica in the middle of creating a Service is left alone.
const DefaultLeakGracePeriod = 60 * time.Second

// Services is the Service registry's hook into the allocators: what
// upstream's service REST storage does around create, update and delete
// (pkg/registry/core/service/storage/alloc.go). The registry calls it before
// writing the Service to etcd, and uses the funcs it gets back to undo or
// finish once it knows whether the write worked.
type Services struct {
	// IPs has one allocator per configured family: one for a single-stack
	// cluster, two for dual-stack.
	IPs map[corev1.IPFamily]*IPAllocator
	// Ports hands out node ports; nil means NodePort and LoadBalancer
	// Services are refused.
	Ports *PortAllocator
	// DefaultFamily is what a Service that names no family gets, i.e. the
	// family of the first --service-cluster-ip-range. Empty: IPv4 if
	// configured, else IPv6.
	DefaultFamily corev1.IPFamily
	// LeakGracePeriod: see DefaultLeakGracePeriod (used when zero).
	LeakGracePeriod time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Create fills in and reserves everything svc needs: clusterIP/clusterIPs,
// ipFamilies and ipFamilyPolicy, node ports and the health check node port.
// Requested values are honoured (or refused with a 422 naming the field).
// On error nothing stays reserved. On success the returned release func
// undoes the reservations: call it if writing the Service fails.
func (s *Services) Create(ctx context.Context, svc *corev1.Service) (release func(), err error) {
	r := s.begin(ctx, svc)
	if err := s.create(ctx, svc, r); err != nil {
		r.undo()
		return func() {}, err
	}
	return r.undo, nil
}

func (s *Services) create(ctx context.Context, svc *corev1.Service, r *reservations) error {
	if el := checkTypeFields(svc); len(el) > 0 {
		return invalid(svc, el)
	}
	// An ExternalName Service is only a DNS CNAME: no virtual IP, no ports.
	if typeOf(svc) == corev1.ServiceTypeExternalName {
		return nil
	}
	if err := s.initIPFamilyFields(svc, nil); err != nil {
		return err
	}
	if err := s.allocClusterIPs(ctx, svc, 0, r); err != nil {
		return err
	}
	if err := s.allocNodePorts(ctx, svc, nil, r); err != nil {
		return err
	}
	if needsHealthCheck(svc) {
		return s.allocHealthCheckNodePort(ctx, svc, r)
	}
	return nil
}

// Delete releases everything svc held. Values another Service holds by now
// are left alone (see keyStore.deleteOwned).
func (s *Services) Delete(ctx context.Context, svc *corev1.Service) error {
	owner := ownerOf(svc)
	var errs []error
	for _, ip := range heldIPs(svc) {
		if a := s.ipAllocatorFor(ip); a != nil {
			errs = append(errs, a.releaseOwned(ctx, ip, owner))
		}
	}
	if s.Ports != nil {
		for _, port := range heldPorts(svc) {
			errs = append(errs, s.Ports.releaseOwned(ctx, port, owner))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release addresses and ports of service %s: %w", owner, err)
	}
	return nil
}

// allocClusterIPs reserves clusterIPs[from:] for the families in ipFamilies:
// from 0 on create, 1 when a single-stack Service becomes dual-stack.
func (s *Services) allocClusterIPs(ctx context.Context, svc *corev1.Service, from int, r *reservations) error {
	if isHeadless(svc) {
		return nil // "None": DNS returns the pod IPs, no virtual IP.
	}
	spec := &svc.Spec
	for i := from; i < len(spec.IPFamilies); i++ {
		if i >= len(spec.ClusterIPs) {
			spec.ClusterIPs = append(spec.ClusterIPs, "")
		}
		a := s.IPs[spec.IPFamilies[i]] // initIPFamilyFields checked it exists
		path := field.NewPath("spec", "clusterIPs").Index(i)
		if spec.ClusterIPs[i] == "" {
			ip, err := a.AllocateNext(ctx, r.owner)
			if err != nil {
				return allocFailure(svc, path, "", err)
			}
			spec.ClusterIPs[i] = ip.String()
			r.newIPs = append(r.newIPs, ip)
			continue
		}
		ip := net.ParseIP(spec.ClusterIPs[i]) // validated already
		if err := a.Allocate(ctx, ip, r.owner); err != nil {
			return allocFailure(svc, path, spec.ClusterIPs[i], err)
		}
		r.newIPs = append(r.newIPs, ip)
	}
	if len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	return nil
}

// allocFailure sorts an allocator error into the three kinds the REST layer
// returns: the user's fault (422 on the field), the range is full (500, like
// upstream: the request was fine, the cluster is out of addresses), or etcd
// trouble (a plain error).
func allocFailure(svc *corev1.Service, path *field.Path, value any, err error) error {
	var ae *AllocationError
	switch {
	case errors.Is(err, ErrFull):
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate %s for service %s: %w", path, ownerOf(svc), err))
	case errors.As(err, &ae):
		return invalid(svc, field.ErrorList{field.Invalid(path, value, ae.Detail())})
	default:
		return fmt.Errorf("allocate %s for service %s: %w", path, ownerOf(svc), err)
	}
}

func invalid(svc *corev1.Service, el field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, el)
}

func (s *Services) ipAllocatorFor(ip net.IP) *IPAllocator {
	for _, a := range s.IPs {
		if a != nil && a.Contains(ip) {
			return a
		}
	}
	return nil
}

func (s *Services) defaultFamily() corev1.IPFamily {
	switch {
	case s.DefaultFamily != "":
		return s.DefaultFamily
	case s.IPs[corev1.IPv4Protocol] == nil && s.IPs[corev1.IPv6Protocol] != nil:
		return corev1.IPv6Protocol
	default:
		return corev1.IPv4Protocol
	}
}

func (s *Services) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ownerOf is the owner string stored with every reservation.
func ownerOf(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// typeOf treats an unset type as ClusterIP, the API default.
func typeOf(svc *corev1.Service) corev1.ServiceType {
	if svc.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return svc.Spec.Type
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone ||
		(len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone)
}

func needsClusterIP(svc *corev1.Service) bool { return typeOf(svc) != corev1.ServiceTypeExternalName }

func needsNodePorts(svc *corev1.Service) bool {
	t := typeOf(svc)
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// needsHealthCheck: a LoadBalancer that keeps traffic on the node it lands
// on gets an extra node port where kube-proxy answers "do I have a local
// endpoint?" for the cloud load balancer's health checks.
func needsHealthCheck(svc *corev1.Service) bool {
	return typeOf(svc) == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// heldIPs are the cluster IPs a stored Service holds reservations for.
func heldIPs(svc *corev1.Service) []net.IP {
	if !needsClusterIP(svc) || isHeadless(svc) {
		return nil
	}
	var out []net.IP
	for _, s := range svc.Spec.ClusterIPs {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, ip)
		}
	}
	if len(out) == 0 && svc.Spec.ClusterIP != "" {
		if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// heldPorts are the node ports (and health check node port) a stored
// Service holds, each once.
func heldPorts(svc *corev1.Service) []int {
	seen := map[int]bool{}
	var out []int
	add := func(p int32) {
		if p != 0 && !seen[int(p)] {
			seen[int(p)] = true
			out = append(out, int(p))
		}
	}
	for _, p := range svc.Spec.Ports {
		add(p.NodePort)
	}
	if needsHealthCheck(svc) {
		add(svc.Spec.HealthCheckNodePort)
	}
	return out
}
