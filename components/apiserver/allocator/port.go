package allocator

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// PortAllocator reserves NodePorts from one range (--service-node-port-range,
// default 30000-32767). Like IPAllocator it keeps no state of its own: one
// etcd key per reserved port, under keyRoot+"/servicenodeports/".
type PortAllocator struct {
	store  keyStore
	r      utilnet.PortRange
	static uint64 // offsets 0..static-1 (ports Base..Base+static-1) are kept for requests
}

// NewPort makes an allocator for the ports in r ("" keyRoot means "/registry").
func NewPort(client *clientv3.Client, r utilnet.PortRange, keyRoot string) (*PortAllocator, error) {
	if r.Size <= 0 || r.Base <= 0 || r.Base+r.Size-1 > 65535 {
		return nil, fmt.Errorf("node port range %q: must be a non-empty range within 1-65535", r.String())
	}
	store, err := newKeyStore(client, keyRoot, portKeyDir)
	if err != nil {
		return nil, err
	}
	return &PortAllocator{store: store, r: r, static: staticBandSize(uint64(r.Size), 16, 128, 32)}, nil
}

// Range returns the configured range.
func (a *PortAllocator) Range() utilnet.PortRange { return a.r }

// Allocate reserves port for owner ("namespace/name"). It fails with
// ErrNotInRange or ErrAllocated (see AllocationError).
func (a *PortAllocator) Allocate(ctx context.Context, port int, owner string) error {
	if !a.r.Contains(port) {
		return a.fail(port, ErrNotInRange)
	}
	if owner == "" {
		return fmt.Errorf("allocate port %d: owner is empty", port)
	}
	created, err := a.store.create(ctx, strconv.Itoa(port), owner)
	if err != nil {
		return err
	}
	if !created {
		return a.fail(port, ErrAllocated)
	}
	return nil
}

// AllocateNext reserves some free port for owner, trying above the static
// band first, or fails with ErrFull.
func (a *PortAllocator) AllocateNext(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, errors.New("allocate next port: owner is empty")
	}
	taken, err := a.store.names(ctx)
	if err != nil {
		return 0, err
	}
	size := uint64(a.r.Size)
	bands := []band{{lo: 0, hi: size - 1}}
	if a.static > 0 {
		bands = []band{{lo: a.static, hi: size - 1}, {lo: 0, hi: a.static - 1}}
	}
	port := func(off uint64) int { return a.r.Base + int(off) }
	off, err := scan(bands,
		func(off uint64) bool { return taken[strconv.Itoa(port(off))] },
		func(off uint64) (bool, error) { return a.store.create(ctx, strconv.Itoa(port(off)), owner) })
	if errors.Is(err, ErrFull) {
		return 0, &AllocationError{What: "port", Range: a.r.String(), Err: ErrFull}
	}
	if err != nil {
		return 0, err
	}
	return port(off), nil
}

// Release frees port; a free or out-of-range port is a no-op.
func (a *PortAllocator) Release(ctx context.Context, port int) error {
	if !a.r.Contains(port) {
		return nil
	}
	return a.store.delete(ctx, strconv.Itoa(port))
}

// releaseOwned frees port only if owner still holds it.
func (a *PortAllocator) releaseOwned(ctx context.Context, port int, owner string) error {
	if !a.r.Contains(port) {
		return nil
	}
	_, err := a.store.deleteOwned(ctx, strconv.Itoa(port), owner)
	return err
}

// Owner says who holds port ("namespace/name"), or "" when it is free.
func (a *PortAllocator) Owner(ctx context.Context, port int) (string, error) {
	if !a.r.Contains(port) {
		return "", a.fail(port, ErrNotInRange)
	}
	e, found, err := a.store.get(ctx, strconv.Itoa(port))
	if err != nil || !found {
		return "", err
	}
	return e.owner(), nil
}

func (a *PortAllocator) fail(port int, err error) *AllocationError {
	return &AllocationError{What: "port", Value: strconv.Itoa(port), Range: a.r.String(), Err: err}
}
