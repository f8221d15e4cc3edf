package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
)

// pool is host-local IPAM: it hands each pod one address from every pod CIDR
// of the node and remembers the answer in a JSON file, so a restarted kubelet
// finds the same pods on the same addresses and never hands one out twice.
//
// The search starts after the last address handed out (like CNI host-local),
// so a freed address is not reused at once, and it looks at no more than
// (addresses in use + 1) candidates: one of them must be free. That keeps an
// IPv6 /64 as cheap as an IPv4 /24. pool is not safe for concurrent use; the
// Manager serialises calls.
type pool struct {
	cidrs []netip.Prefix
	path  string
	pods  map[string][]netip.Addr     // owner (pod UID) -> addresses
	used  map[netip.Addr]string       // address -> owner
	last  map[netip.Prefix]netip.Addr // cidr -> last address handed out
}

// poolFile is the on-disk form, readable with cat and jq.
type poolFile struct {
	Pods map[string][]netip.Addr `json:"pods"`
	Last map[string]netip.Addr   `json:"last,omitempty"`
}

// openPool loads the allocations saved at path, if any. Allocations outside
// cidrs (the node's pod CIDR changed) are kept so Allocated reports them and
// the kubelet can release them.
func openPool(path string, cidrs []netip.Prefix) (*pool, error) {
	p := &pool{
		cidrs: cidrs,
		path:  path,
		pods:  map[string][]netip.Addr{},
		used:  map[netip.Addr]string{},
		last:  map[netip.Prefix]netip.Addr{},
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ipam state %s: %w", path, err)
	}
	var f poolFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse ipam state %s: %w", path, err)
	}
	for owner, addrs := range f.Pods {
		for _, a := range addrs {
			if prev, dup := p.used[a]; dup {
				return nil, fmt.Errorf("ipam state %s: %s held by both %s and %s", path, a, prev, owner)
			}
			p.used[a] = owner
		}
		p.pods[owner] = addrs
	}
	for s, a := range f.Last {
		if c, err := netip.ParsePrefix(s); err == nil {
			p.last[c] = a
		}
	}
	return p, nil
}

// allocate returns owner's addresses, one per pod CIDR in CIDR order, handing
// out new ones only for CIDRs where owner has none yet. fresh reports whether
// anything new was handed out (and saved).
func (p *pool) allocate(owner string) (addrs []netip.Addr, fresh bool, err error) {
	have := p.pods[owner]
	var added []netip.Addr
	for _, c := range p.cidrs {
		if i := slices.IndexFunc(have, c.Contains); i >= 0 {
			addrs = append(addrs, have[i])
			continue
		}
		a, err := p.next(c)
		if err != nil {
			for _, a := range added { // all or nothing
				delete(p.used, a)
			}
			return nil, false, err
		}
		p.used[a] = owner
		p.last[c] = a
		added = append(added, a)
		addrs = append(addrs, a)
	}
	if len(added) == 0 {
		return addrs, false, nil
	}
	p.pods[owner] = append(slices.Clone(have), added...)
	if err := p.save(); err != nil {
		return nil, false, err
	}
	return addrs, true, nil
}

// next finds a free address in c, starting after the last one handed out.
func (p *pool) next(c netip.Prefix) (netip.Addr, error) {
	first, last := usableRange(c)
	inUse := 0
	for a := range p.used {
		if c.Contains(a) {
			inUse++
		}
	}
	cand := first
	if prev, ok := p.last[c]; ok && c.Contains(prev) && prev.Compare(first) >= 0 && prev.Compare(last) < 0 {
		cand = prev.Next()
	}
	for range min(inUse+1, usableCount(c)) {
		if _, taken := p.used[cand]; !taken {
			return cand, nil
		}
		if cand == last {
			cand = first
		} else {
			cand = cand.Next()
		}
	}
	return netip.Addr{}, fmt.Errorf("pod CIDR %s: no free addresses (%d in use)", c, inUse)
}

// release frees owner's addresses. Releasing an unknown owner is not an error.
func (p *pool) release(owner string) error {
	addrs, ok := p.pods[owner]
	if !ok {
		return nil
	}
	for _, a := range addrs {
		delete(p.used, a)
	}
	delete(p.pods, owner)
	return p.save()
}

// cursor is a copy of where each CIDR's search resumes, for rewind.
func (p *pool) cursor() map[netip.Prefix]netip.Addr { return maps.Clone(p.last) }

// rewind undoes a fresh allocation whose pod never came up: its addresses
// are released and the search cursor goes back to c, so failed attempts
// (say, Attach retried before Setup) do not use up addresses.
func (p *pool) rewind(owner string, c map[netip.Prefix]netip.Addr) error {
	p.last = c
	if _, ok := p.pods[owner]; !ok {
		return p.save()
	}
	return p.release(owner)
}

// allocated is a copy of every owner's addresses.
func (p *pool) allocated() map[string][]netip.Addr {
	out := make(map[string][]netip.Addr, len(p.pods))
	for o, a := range p.pods {
		out[o] = slices.Clone(a)
	}
	return out
}

// remove forgets everything and deletes the state file.
func (p *pool) remove() error {
	clear(p.pods)
	clear(p.used)
	clear(p.last)
	if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove ipam state: %w", err)
	}
	return nil
}

// save writes the state atomically: a temporary file in the same directory,
// fsync, rename over the old one. A crash leaves either the old or the new
// file, never half of one.
func (p *pool) save() error {
	f := poolFile{Pods: p.pods, Last: map[string]netip.Addr{}}
	for c, a := range p.last {
		f.Last[c.String()] = a
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ipam state: %w", err)
	}
	dir := filepath.Dir(p.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ipam state dir %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".ipam-*.json")
	if err != nil {
		return fmt.Errorf("write ipam state in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write ipam state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync ipam state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close ipam state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("replace ipam state %s: %w", p.path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename itself durable
		d.Sync()
		d.Close()
	}
	return nil
}
