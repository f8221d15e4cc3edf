// Package storage is the only place in kubelab that talks to etcd.
//
// The API server keeps every object as one etcd key:
//
//	/registry/<resource>/<namespace>/<name>     (namespaced kinds)
//	/registry/<resource>/<name>                 (cluster-scoped kinds)
//
// and the value is the object's JSON, so `etcdctl get --prefix /registry/pods`
// shows a student exactly what the cluster stores. Nothing else about
// Kubernetes lives here: this file maps the four things the API needs onto
// etcd's transactions, and cacher.go turns etcd's watch into many client
// watches.
//
//	create  = Txn If(ModRevision(key) == 0)  Then(Put)     -> AlreadyExists otherwise
//	update  = Txn If(ModRevision(key) == rv) Then(Put)     -> Conflict otherwise
//	delete  = Txn If(ModRevision(key) == rv) Then(Delete)  -> Conflict otherwise
//	list    = Get(prefix) at one revision                  -> that revision is the list's resourceVersion
//
// resourceVersion is etcd's revision: one global counter that every write
// bumps. That single fact is what makes optimistic concurrency and
// "watch from where you left off" work.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors the registry turns into HTTP statuses (404, 409, 409).
var (
	ErrNotFound = errors.New("key not found")
	ErrExists   = errors.New("key already exists")
	ErrConflict = errors.New("key was modified")
)

// KV is one stored object: its key, its JSON and the revision that last
// changed it (the object's resourceVersion).
type KV struct {
	Key         string
	Value       []byte
	ModRevision int64
}

// Store wraps an etcd client with the transactions above.
type Store struct {
	client *clientv3.Client
	leases *leaseManager
}

// New returns a Store that uses client. The caller owns the client.
func New(client *clientv3.Client) *Store {
	return &Store{client: client, leases: &leaseManager{client: client}}
}

// Client exposes the etcd client for the few callers that need raw access
// (the watch cache and allocators).
func (s *Store) Client() *clientv3.Client { return s.client }

// Create writes key only if it does not exist yet. A ttl > 0 makes the key
// expire by itself (see leases.go).
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	opts, err := s.putOptions(ctx, ttl)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value), opts...)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("create %s in etcd: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("create %s: %w", key, ErrExists)
	}
	return resp.Header.Revision, nil
}

// Get reads one key.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return KV{}, fmt.Errorf("get %s from etcd: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	kv := resp.Kvs[0]
	return KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}, nil
}

// List reads every key under prefix at one consistent revision, which it
// returns as the list's resourceVersion.
func (s *Store) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("list %s from etcd: %w", prefix, err)
	}
	out := make([]KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision})
	}
	return out, resp.Header.Revision, nil
}

// Update replaces key only if it is still at revision expect. On a conflict
// it returns ErrConflict; the caller re-reads and decides whether to retry.
// A ttl > 0 restarts the key's expiry.
func (s *Store) Update(ctx context.Context, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	opts, err := s.putOptions(ctx, ttl)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expect)).
		Then(clientv3.OpPut(key, string(value), opts...)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("update %s in etcd: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("update %s at revision %d: %w", key, expect, ErrConflict)
	}
	return resp.Header.Revision, nil
}

// Delete removes key only if it is still at revision expect.
func (s *Store) Delete(ctx context.Context, key string, expect int64) (int64, error) {
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expect)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("delete %s in etcd: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("delete %s at revision %d: %w", key, expect, ErrConflict)
	}
	return resp.Header.Revision, nil
}

// Revision returns etcd's current revision (a cheap count-only read).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("read etcd revision: %w", err)
	}
	return resp.Header.Revision, nil
}

// Count returns how many keys live under prefix.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("count %s in etcd: %w", prefix, err)
	}
	return resp.Count, nil
}

// ErrCompacted means a read asked for a revision etcd no longer has.
var ErrCompacted = errors.New("revision compacted")

// Page reads up to limit keys in [from, end) as they were at revision rev,
// and reports whether more follow: one chunk of a paginated list.
func (s *Store) Page(ctx context.Context, from, end string, rev, limit int64) ([]KV, bool, error) {
	resp, err := s.client.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(limit))
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil, false, fmt.Errorf("read %s at revision %d: %w", from, rev, ErrCompacted)
		}
		return nil, false, fmt.Errorf("read %s from etcd: %w", from, err)
	}
	out := make([]KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision})
	}
	return out, resp.More, nil
}
