package nodeipam

import (
	"errors"
	"fmt"
	"net"
	"strings"

	netutils "k8s.io/utils/net"
)

// Allocator is upstream's range allocator: one CIDR set per cluster CIDR
// (two for dual-stack), and every node gets one block from each, in the
// order of --cluster-cidr.
type Allocator struct {
	sets []*cidrSet
}

// NewAllocator checks the cluster CIDRs and mask sizes like
// kube-controller-manager does at start, and keeps the service range out.
func NewAllocator(clusterCIDRs []string, maskV4, maskV6 int, serviceCIDRs []string) (*Allocator, error) {
	if len(trimAll(clusterCIDRs)) == 0 {
		return nil, errors.New("must specify --cluster-cidr if --allocate-node-cidrs is set")
	}
	cidrs, err := netutils.ParseCIDRs(trimAll(clusterCIDRs))
	if err != nil {
		return nil, fmt.Errorf("--cluster-cidr %q: %w", strings.Join(clusterCIDRs, ","), err)
	}
	if len(cidrs) > 2 {
		return nil, fmt.Errorf("len of clusters cidrs is:%d > more than max allowed of 2", len(cidrs))
	}
	if len(cidrs) == 2 {
		if dual, _ := netutils.IsDualStackCIDRs(cidrs); !dual {
			return nil, fmt.Errorf("len of ClusterCIDRs==%d and they are not configured as dual stack (at least one from each IPFamily)", len(cidrs))
		}
	}
	a := &Allocator{}
	for _, c := range cidrs {
		mask := maskV4
		if netutils.IsIPv6CIDR(c) {
			mask = maskV6
		}
		set, err := newCIDRSet(c, mask)
		if err != nil {
			return nil, err
		}
		a.sets = append(a.sets, set)
	}
	for _, s := range trimAll(serviceCIDRs) {
		if s == "" {
			continue
		}
		_, svc, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("service CIDR %q: %w", s, err)
		}
		// Pods and Services must not share addresses: a pod IP inside the
		// service range would be shadowed by kube-proxy's rules.
		for _, set := range a.sets {
			set.occupy(svc)
		}
	}
	return a, nil
}

// Allocate takes one block from each cluster CIDR; all or nothing.
func (a *Allocator) Allocate() ([]string, error) {
	var out []*net.IPNet
	for i, set := range a.sets {
		c, err := set.allocateNext()
		if err != nil {
			for j, got := range out {
				a.sets[j].release(got)
			}
			return nil, fmt.Errorf("failed to allocate cidr from cluster cidr at idx:%d: %w", i, err)
		}
		out = append(out, c)
	}
	strs := make([]string, len(out))
	for i, c := range out {
		strs[i] = c.String()
	}
	return strs, nil
}

// Occupy marks a node's existing pod CIDRs as taken (at start, and for
// nodes whose podCIDR someone else set).
func (a *Allocator) Occupy(cidrs []string) error { return a.each(cidrs, (*cidrSet).occupy) }

// Release frees a deleted node's pod CIDRs.
func (a *Allocator) Release(cidrs []string) error { return a.each(cidrs, (*cidrSet).release) }

func (a *Allocator) each(cidrs []string, f func(*cidrSet, *net.IPNet) bool) error {
	var errs []error
	for _, s := range cidrs {
		_, c, err := net.ParseCIDR(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("pod CIDR %q: %w", s, err))
			continue
		}
		found := false
		for _, set := range a.sets {
			if set.bits == bitsOf(c) {
				found = f(set, c) || found
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("pod CIDR %s is outside the cluster CIDRs", s))
		}
	}
	return errors.Join(errs...)
}

func bitsOf(c *net.IPNet) int {
	_, bits := c.Mask.Size()
	return bits
}

func trimAll(list []string) []string {
	var out []string
	for _, s := range list {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
