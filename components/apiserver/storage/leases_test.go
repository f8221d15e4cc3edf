package storage

import (
	"context"
	"testing"
	"time"
)

func TestTTLWritesShareALease(t *testing.T) {
	s := New(startEtcd(t))
	ctx := context.Background()
	for _, k := range []string{"/registry/events/ns/a", "/registry/events/ns/b"} {
		if _, err := s.Create(ctx, k, obj("e"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "/registry/configmaps/ns/c", obj("c"), 0); err != nil {
		t.Fatal(err)
	}
	lease := func(key string) int64 {
		resp, err := s.Client().Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("get %s: %v", key, err)
		}
		return resp.Kvs[0].Lease
	}
	a, b, c := lease("/registry/events/ns/a"), lease("/registry/events/ns/b"), lease("/registry/configmaps/ns/c")
	if a == 0 || a != b {
		t.Fatalf("events: leases %d and %d, want one shared non-zero lease", a, b)
	}
	if c != 0 {
		t.Fatalf("a key without ttl got lease %d", c)
	}
}
