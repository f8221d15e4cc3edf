package allocator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultKeyRoot is where kubelab keeps everything in etcd, like Kubernetes.
const DefaultKeyRoot = "/registry"

// Key folders under the root, one key per reserved value:
//
//	/registry/ipaddresses/10.32.0.17
//	/registry/ipaddresses/fd00:10:32::2a
//	/registry/servicenodeports/31234
const (
	ipKeyDir   = "ipaddresses"
	portKeyDir = "servicenodeports"
)

// record is the JSON stored under each key: who holds the value, and since
// when. The time lets Repair tell a leaked key (old, no Service) from one an
// apiserver replica reserved a moment ago and is about to write a Service for.
type record struct {
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name"`
	AllocatedAt time.Time `json:"allocatedAt"`
}

func newRecord(owner string, now time.Time) record {
	ns, name, found := strings.Cut(owner, "/")
	if !found {
		return record{Name: owner, AllocatedAt: now.UTC()}
	}
	return record{Namespace: ns, Name: name, AllocatedAt: now.UTC()}
}

// owner gives back the "namespace/name" string the record was made from.
func (r record) owner() string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// entry is one stored key as read back: its record and the etcd revision
// that last wrote it (for compare-and-delete).
type entry struct {
	record
	modRevision int64
}

// keyStore is a folder of etcd keys, one per reserved value. Both
// allocators use it; it knows nothing about IPs or ports, only names.
type keyStore struct {
	client *clientv3.Client
	prefix string // ends with "/"
}

func newKeyStore(client *clientv3.Client, keyRoot, dir string) (keyStore, error) {
	if client == nil {
		return keyStore{}, fmt.Errorf("etcd client for %s is nil", dir)
	}
	if keyRoot == "" {
		keyRoot = DefaultKeyRoot
	}
	return keyStore{client: client, prefix: strings.TrimSuffix(keyRoot, "/") + "/" + dir + "/"}, nil
}

func (s keyStore) key(name string) string { return s.prefix + name }

// create reserves name for owner. It reports false, and changes nothing, when
// the key already exists. This single transaction is the whole concurrency
// story: etcd serialises transactions, so of N replicas racing for one key
// exactly one sees CreateRevision == 0.
func (s keyStore) create(ctx context.Context, name, owner string) (bool, error) {
	value, err := json.Marshal(newRecord(owner, time.Now()))
	if err != nil {
		return false, fmt.Errorf("encode owner of %s: %w", s.key(name), err)
	}
	key := s.key(name)
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("reserve %s in etcd: %w", key, err)
	}
	return resp.Succeeded, nil
}

// put writes the key whether or not it exists (Repair fixing an owner).
func (s keyStore) put(ctx context.Context, name, owner string) error {
	value, err := json.Marshal(newRecord(owner, time.Now()))
	if err != nil {
		return fmt.Errorf("encode owner of %s: %w", s.key(name), err)
	}
	if _, err := s.client.Put(ctx, s.key(name), string(value)); err != nil {
		return fmt.Errorf("write %s to etcd: %w", s.key(name), err)
	}
	return nil
}

// delete removes the key; a missing key is not an error (releasing twice is
// harmless, like upstream).
func (s keyStore) delete(ctx context.Context, name string) error {
	if _, err := s.client.Delete(ctx, s.key(name)); err != nil {
		return fmt.Errorf("release %s in etcd: %w", s.key(name), err)
	}
	return nil
}

// deleteOwned removes the key only if owner still holds it. Why: a release
// can arrive late (a retried delete, a slow rollback) after the value was
// freed and handed to another Service; an unconditional delete would then
// steal that Service's reservation. Reading the owner and deleting with
// If(ModRevision == what we read) makes "check, then delete" one atomic step.
func (s keyStore) deleteOwned(ctx context.Context, name, owner string) (bool, error) {
	e, found, err := s.get(ctx, name)
	if err != nil || !found {
		return false, err
	}
	if e.owner() != owner {
		return false, nil
	}
	return s.deleteAt(ctx, name, e.modRevision)
}

// deleteAt removes the key only if nobody wrote it since revision rev.
func (s keyStore) deleteAt(ctx context.Context, name string, rev int64) (bool, error) {
	key := s.key(name)
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("release %s in etcd: %w", key, err)
	}
	return resp.Succeeded, nil
}

func (s keyStore) get(ctx context.Context, name string) (entry, bool, error) {
	resp, err := s.client.Get(ctx, s.key(name))
	if err != nil {
		return entry{}, false, fmt.Errorf("read %s from etcd: %w", s.key(name), err)
	}
	if len(resp.Kvs) == 0 {
		return entry{}, false, nil
	}
	return decodeEntry(resp.Kvs[0].Value, resp.Kvs[0].ModRevision), true, nil
}

// names lists the reserved names only (keys, no values): what AllocateNext
// needs to skip taken values without a round trip per candidate.
func (s keyStore) names(ctx context.Context) (map[string]bool, error) {
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list %s in etcd: %w", s.prefix, err)
	}
	out := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), s.prefix)] = true
	}
	return out, nil
}

// list returns every reserved name with its record (for Repair).
func (s keyStore) list(ctx context.Context) (map[string]entry, error) {
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list %s in etcd: %w", s.prefix, err)
	}
	out := make(map[string]entry, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), s.prefix)] = decodeEntry(kv.Value, kv.ModRevision)
	}
	return out, nil
}

// decodeEntry never fails: a value somebody mangled by hand becomes a record
// with no owner, which Repair then treats as not owned by any Service.
func decodeEntry(value []byte, modRevision int64) entry {
	var r record
	_ = json.Unmarshal(value, &r)
	return entry{record: r, modRevision: modRevision}
}
