package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
)

// Errors of a CIDR set, upstream's words.
var (
	// ErrNoCIDRsRemaining: every node-sized block of the cluster CIDR is taken.
	ErrNoCIDRsRemaining = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")
	// ErrSubNetTooBig: an IPv6 cluster CIDR cut into more than 2^16 node blocks.
	ErrSubNetTooBig = errors.New("new CIDR set failed; the node CIDR size is too big")
)

// maxSubnetBits bounds the bitmap of an IPv6 set (upstream's clusterSubnetMaxDiff).
const maxSubnetBits = 16

// cidrSet hands out the node-sized blocks of one cluster CIDR, keeping a
// bitmap of the blocks in use (upstream's cidrset.CidrSet). Block i of
// 10.200.0.0/16 with /24 nodes is 10.200.i.0/24.
type cidrSet struct {
	cluster  *net.IPNet
	base     *big.Int // the cluster CIDR's first address as a number
	bits     int      // 32 or 128
	nodeMask int      // the node block's prefix length
	max      int      // number of blocks
	used     big.Int  // bit i set: block i is taken
	count    int      // blocks taken
	next     int      // where the next search starts (round robin)
}

// newCIDRSet cuts cluster into blocks of prefix length nodeMask.
func newCIDRSet(cluster *net.IPNet, nodeMask int) (*cidrSet, error) {
	clusterMask, bits := cluster.Mask.Size()
	if nodeMask < clusterMask || nodeMask > bits {
		return nil, fmt.Errorf("invalid --cluster-cidr %s: mask size of cluster CIDR must be less than or equal to --node-cidr-mask-size (%d) configured for CIDR family", cluster, nodeMask)
	}
	if bits == 128 && nodeMask-clusterMask > maxSubnetBits {
		return nil, fmt.Errorf("cluster CIDR %s with node mask /%d: %w", cluster, nodeMask, ErrSubNetTooBig)
	}
	return &cidrSet{
		cluster: cluster, base: ipToInt(cluster.IP), bits: bits, nodeMask: nodeMask,
		max: 1 << (nodeMask - clusterMask),
	}, nil
}

// allocateNext takes the next free block after the last one handed out.
func (s *cidrSet) allocateNext() (*net.IPNet, error) {
	if s.count == s.max {
		return nil, ErrNoCIDRsRemaining
	}
	i := s.next
	for s.used.Bit(i) == 1 {
		i = (i + 1) % s.max
	}
	s.next = (i + 1) % s.max
	s.used.SetBit(&s.used, i, 1)
	s.count++
	return s.block(i), nil
}

// occupy marks the blocks cidr overlaps as taken (a node's existing
// podCIDR, or the service range). It reports false when cidr is outside
// the cluster CIDR.
func (s *cidrSet) occupy(cidr *net.IPNet) bool { return s.mark(cidr, 1) }

// release frees the blocks cidr overlaps (a deleted node's podCIDR).
func (s *cidrSet) release(cidr *net.IPNet) bool { return s.mark(cidr, 0) }

func (s *cidrSet) mark(cidr *net.IPNet, bit uint) bool {
	first, last, ok := s.indices(cidr)
	if !ok {
		return false
	}
	for i := first; i <= last; i++ {
		if s.used.Bit(i) != bit {
			s.used.SetBit(&s.used, i, bit)
			if bit == 1 {
				s.count++
			} else {
				s.count--
			}
		}
	}
	return true
}

// indices are the blocks cidr overlaps, clipped to the cluster CIDR.
func (s *cidrSet) indices(cidr *net.IPNet) (int, int, bool) {
	if _, bits := cidr.Mask.Size(); bits != s.bits {
		return 0, 0, false // other family
	}
	lo, hi := ipToInt(cidr.IP.Mask(cidr.Mask)), lastIP(cidr)
	clusterHi := lastIP(s.cluster)
	if lo.Cmp(s.base) < 0 {
		lo = s.base
	}
	if hi.Cmp(clusterHi) > 0 {
		hi = clusterHi
	}
	if lo.Cmp(hi) > 0 {
		return 0, 0, false // no overlap
	}
	shift := uint(s.bits - s.nodeMask)
	first := new(big.Int).Rsh(new(big.Int).Sub(lo, s.base), shift)
	last := new(big.Int).Rsh(new(big.Int).Sub(hi, s.base), shift)
	return int(first.Int64()), int(last.Int64()), true
}

// block is the CIDR of block i.
func (s *cidrSet) block(i int) *net.IPNet {
	ip := new(big.Int).Add(s.base, new(big.Int).Lsh(big.NewInt(int64(i)), uint(s.bits-s.nodeMask)))
	return &net.IPNet{IP: intToIP(ip, s.bits), Mask: net.CIDRMask(s.nodeMask, s.bits)}
}

func ipToInt(ip net.IP) *big.Int {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return new(big.Int).SetBytes(ip)
}

func intToIP(n *big.Int, bits int) net.IP {
	b := n.Bytes()
	out := make(net.IP, bits/8)
	copy(out[len(out)-len(b):], b)
	return out
}

// lastIP is the highest address of cidr.
func lastIP(cidr *net.IPNet) *big.Int {
	ones, bits := cidr.Mask.Size()
	last := new(big.Int).Lsh(big.NewInt(1), uint(bits-ones)) // the block size
	last.Add(last, ipToInt(cidr.IP.Mask(cidr.Mask)))
	return last.Sub(last, big.NewInt(1))
}
