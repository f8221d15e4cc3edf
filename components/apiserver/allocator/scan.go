package allocator

import "math/rand/v2"

// band is an inclusive range [lo, hi] of offsets into an allocator's range.
type band struct{ lo, hi uint64 }

// staticBandSize says how many values at the bottom of a range are kept for
// people who ask for a specific value (KEP-3070 for IPs, KEP-3668 for
// ports): min(max(floor, size/step), ceiling), or 0 for tiny ranges.
// Dynamic allocation takes from above that band first, so a Service created
// later with a well-known address (the DNS service at 10.32.0.10) rarely
// finds it taken by a random pick.
func staticBandSize(size, floor, ceiling, step uint64) uint64 {
	if size <= floor {
		return 0
	}
	return min(max(size/step, floor), ceiling)
}

// scan is AllocateNext for both allocators. For each band in order it starts
// at a random offset (so replicas starting at the same moment rarely collide,
// and freed values are not reused at once) and walks upwards, wrapping around,
// until take succeeds. taken is the snapshot of reserved values read before
// the scan; it only saves round trips: a value reserved after the snapshot
// makes take report false (lost the etcd race), and the scan goes on.
func scan(bands []band, taken func(uint64) bool, take func(uint64) (bool, error)) (uint64, error) {
	for _, b := range bands {
		if b.hi < b.lo {
			continue
		}
		span := b.hi - b.lo // size-1, so a 2^64-wide IPv6 band cannot overflow
		pos := rand.Uint64()
		if span < ^uint64(0) {
			pos = rand.Uint64N(span + 1)
		}
		for i := uint64(0); ; i++ {
			if off := b.lo + pos; !taken(off) {
				ok, err := take(off)
				if err != nil {
					return 0, err
				}
				if ok {
					return off, nil
				}
			}
			if i == span {
				break // every offset of the band tried once
			}
			if pos == span {
				pos = 0
			} else {
				pos++
			}
		}
	}
	return 0, ErrFull
}
