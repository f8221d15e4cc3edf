package allocator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Why repair: reserving a value and writing the Service are two etcd
// writes, not one. An apiserver that dies between them leaves a reservation
// nobody owns (a leak: that IP is never handed out again), and a restored
// etcd backup or a hand edit can leave a Service whose IP has no reservation
// (a hole: the IP could be handed out twice). Upstream runs repair loops for
// this (ipallocator/controller/repairip.go, portallocator/controller); kubelab
// runs one pass at apiserver start, with the list of Services it just read.

// Repair makes the reservations in etcd match services (all Services in the
// cluster): it frees reservations no Service holds once they are older than
// LeakGracePeriod (younger ones may belong to a Create in flight on another
// replica), re-creates missing ones, and fixes reservations recorded under
// the wrong owner. It logs every change. Values no configured range contains
// are logged and left alone.
func (s *Services) Repair(ctx context.Context, services []corev1.Service) error {
	log := s.logger().With("component", "service-allocation-repair")
	type target struct {
		kind  string // "ip" or "port", the log attribute
		store keyStore
		want  map[string][]string // key name -> owners ("namespace/name")
	}
	var targets []*target
	byPrefix := map[string]*target{}
	add := func(kind string, store keyStore) *target {
		if t := byPrefix[store.prefix]; t != nil {
			return t
		}
		t := &target{kind: kind, store: store, want: map[string][]string{}}
		byPrefix[store.prefix] = t
		targets = append(targets, t)
		return t
	}
	for _, a := range s.IPs { // both families usually share one folder
		if a != nil {
			add("ip", a.store)
		}
	}
	var ports *target
	if s.Ports != nil {
		ports = add("port", s.Ports.store)
	}

	for i := range services {
		svc := &services[i]
		owner := ownerOf(svc)
		for _, ip := range heldIPs(svc) {
			a := s.ipAllocatorFor(ip)
			if a == nil {
				log.Warn("cluster IP is not within any service CIDR; recreate the service", "service", owner, "ip", ip.String())
				continue
			}
			addr, _ := a.addrOf(ip)
			t := add("ip", a.store)
			t.want[addr.String()] = append(t.want[addr.String()], owner)
		}
		for _, port := range heldPorts(svc) {
			if ports == nil || !s.Ports.r.Contains(port) {
				log.Warn("node port is not within the node port range; recreate the service", "service", owner, "port", port)
				continue
			}
			name := strconv.Itoa(port)
			ports.want[name] = append(ports.want[name], owner)
		}
	}

	var errs []error
	for _, t := range targets {
		errs = append(errs, s.reconcile(ctx, log.With("kind", t.kind), t.kind, t.store, t.want))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("repair service IP and node port reservations: %w", err)
	}
	return nil
}

// reconcile brings one folder of keys in line with want.
func (s *Services) reconcile(ctx context.Context, log *slog.Logger, kind string, store keyStore, want map[string][]string) error {
	grace := s.LeakGracePeriod
	if grace == 0 {
		grace = DefaultLeakGracePeriod
	}
	have, err := store.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for name, e := range have {
		owners := want[name]
		switch {
		case len(owners) == 0:
			age := time.Since(e.AllocatedAt)
			if !e.AllocatedAt.IsZero() && age < grace {
				log.Info("reservation has no service yet; leaving it for now", kind, name, "owner", e.owner(), "age", age.Round(time.Second))
				continue
			}
			deleted, err := store.deleteAt(ctx, name, e.modRevision)
			if err != nil {
				errs = append(errs, err)
			} else if deleted {
				log.Info("released leaked reservation", kind, name, "owner", e.owner())
			}
		case !slices.Contains(owners, e.owner()):
			if err := store.put(ctx, name, owners[0]); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Warn("reservation named the wrong owner; fixed", kind, name, "was", e.owner(), "now", owners[0])
		}
	}
	for name, owners := range want {
		if len(owners) > 1 {
			log.Warn("assigned to more than one service; recreate all but one of them", kind, name, "services", owners)
		}
		if _, ok := have[name]; ok {
			continue
		}
		created, err := store.create(ctx, name, owners[0])
		switch {
		case err != nil:
			errs = append(errs, err)
		case created:
			log.Info("re-created missing reservation", kind, name, "owner", owners[0])
		default:
			log.Warn("missing reservation was taken meanwhile by another request", kind, name, "service", owners[0])
		}
	}
	return errors.Join(errs...)
}
