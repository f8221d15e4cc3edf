package allocator

import (
	"context"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// releaseTimeout bounds the etcd calls made by undo and commit.
const releaseTimeout = 10 * time.Second

// reservations is one Create or Update in flight: what it reserved (to undo
// if the Service write fails) and what the old object held that the new one
// no longer needs (to free once the write has succeeded). Freeing old values
// only after the write is what keeps a failed update harmless: the stored
// Service still holds them.
type reservations struct {
	s     *Services
	ctx   context.Context // values only: see begin
	owner string

	newIPs   []net.IP
	newPorts []int
	oldIPs   []net.IP
	oldPorts []int

	once sync.Once // undo and commit run at most once, whichever comes first
}

// begin starts the bookkeeping for svc. The funcs handed back to the caller
// run after the request may have ended (a write that failed because the
// request timed out is exactly when undo matters), so they must not inherit
// its cancellation: context.WithoutCancel keeps the values (trace IDs)
// without the deadline.
func (s *Services) begin(ctx context.Context, svc *corev1.Service) *reservations {
	return &reservations{s: s, ctx: context.WithoutCancel(ctx), owner: ownerOf(svc)}
}

// undo frees what this operation reserved.
func (r *reservations) undo() {
	r.once.Do(func() { r.release("undo", r.newIPs, r.newPorts) })
}

// commit frees what the old object held and the new one does not.
func (r *reservations) commit() {
	r.once.Do(func() { r.release("commit", r.oldIPs, r.oldPorts) })
}

// release frees ips and ports if this Service still holds them. Errors are
// only logged: the Service write already happened (or failed) and cannot be
// taken back; Repair at the next apiserver start cleans up what is left.
func (r *reservations) release(step string, ips []net.IP, ports []int) {
	if len(ips) == 0 && len(ports) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, releaseTimeout)
	defer cancel()
	log := r.s.logger().With("service", r.owner, "step", step)
	for _, ip := range ips {
		a := r.s.ipAllocatorFor(ip)
		if a == nil {
			continue // its family is no longer configured
		}
		if err := a.releaseOwned(ctx, ip, r.owner); err != nil {
			log.Warn("could not release cluster IP; Repair will free it", "ip", ip.String(), "err", err)
		}
	}
	for _, port := range ports {
		if r.s.Ports == nil {
			break
		}
		if err := r.s.Ports.releaseOwned(ctx, port, r.owner); err != nil {
			log.Warn("could not release node port; Repair will free it", "port", port, "err", err)
		}
	}
}
