package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Some objects expire by themselves: Events live for --event-ttl (1 h) and
// then vanish from etcd, so a busy cluster's history does not grow forever.
// etcd does the expiring: a key written with a lease disappears when the
// lease runs out. Granting one lease per write would cost a round trip and a
// lease each, so, like kube-apiserver, writes within one minute share a
// lease that lives a minute longer than asked.

const leaseReuse = time.Minute

type leaseManager struct {
	client *clientv3.Client
	mu     sync.Mutex
	id     clientv3.LeaseID
	ttl    time.Duration
	issued time.Time
}

func (l *leaseManager) get(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.id != 0 && l.ttl == ttl && time.Since(l.issued) < leaseReuse {
		return l.id, nil
	}
	resp, err := l.client.Grant(ctx, int64((ttl+leaseReuse)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("grant a %s etcd lease: %w", ttl, err)
	}
	l.id, l.ttl, l.issued = resp.ID, ttl, time.Now()
	return l.id, nil
}

// putOptions returns the lease option for a write that expires after ttl
// (none when ttl is 0).
func (s *Store) putOptions(ctx context.Context, ttl time.Duration) ([]clientv3.OpOption, error) {
	if ttl <= 0 {
		return nil, nil
	}
	id, err := s.leases.get(ctx, ttl)
	if err != nil {
		return nil, err
	}
	return []clientv3.OpOption{clientv3.WithLease(id)}, nil
}
