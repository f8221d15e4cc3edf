package scheduler

import (
	"sort"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Snapshot is a frozen copy of the cache that one scheduling cycle reads
// while informers keep changing the cache. It is brought up to date at the
// start of every cycle by copying only the nodes that changed.
type Snapshot struct {
	infos        map[string]*framework.NodeInfo
	list         []*framework.NodeInfo
	index        map[string]int // node name -> position in list
	withAffinity []*framework.NodeInfo
	withAnti     []*framework.NodeInfo
}

// NewSnapshot makes an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{infos: map[string]*framework.NodeInfo{}, index: map[string]int{}}
}

// List implements framework.NodeLister.
func (s *Snapshot) List() []*framework.NodeInfo { return s.list }

// HavePodsWithAffinity implements framework.NodeLister.
func (s *Snapshot) HavePodsWithAffinity() []*framework.NodeInfo { return s.withAffinity }

// HavePodsWithRequiredAntiAffinity implements framework.NodeLister.
func (s *Snapshot) HavePodsWithRequiredAntiAffinity() []*framework.NodeInfo { return s.withAnti }

// Get implements framework.NodeLister.
func (s *Snapshot) Get(name string) *framework.NodeInfo { return s.infos[name] }

// UpdateSnapshot brings s up to date with the cache. A cache feeds one
// snapshot: it tracks what changed since that snapshot's last update.
func (c *Cache) UpdateSnapshot(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	affinityChanged := false
	for name := range c.dirty {
		old := s.infos[name]
		ni, ok := c.nodes[name]
		if !ok || ni.Node == nil {
			delete(s.infos, name)
		} else {
			clone := ni.Clone()
			s.infos[name] = clone
			if i, ok := s.index[name]; ok && !c.nodeSetChanged {
				s.list[i] = clone
			}
			affinityChanged = affinityChanged || len(clone.PodsWithAffinity) > 0
		}
		affinityChanged = affinityChanged || old != nil && len(old.PodsWithAffinity) > 0
	}
	clear(c.dirty)
	if c.nodeSetChanged {
		c.nodeSetChanged = false
		affinityChanged = true
		s.list = s.list[:0]
		clear(s.index)
		for _, ni := range s.infos {
			s.list = append(s.list, ni)
		}
		// By name, so explanations and tests read in a stable order.
		sort.Slice(s.list, func(i, j int) bool { return s.list[i].Node.Name < s.list[j].Node.Name })
		for i, ni := range s.list {
			s.index[ni.Node.Name] = i
		}
	}
	if affinityChanged {
		s.withAffinity, s.withAnti = s.withAffinity[:0], s.withAnti[:0]
		for _, ni := range s.list {
			if len(ni.PodsWithAffinity) > 0 {
				s.withAffinity = append(s.withAffinity, ni)
			}
			if len(ni.PodsWithRequiredAntiAffinity) > 0 {
				s.withAnti = append(s.withAnti, ni)
			}
		}
	}
}
