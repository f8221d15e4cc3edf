package storage

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// startEtcd runs a single-member etcd for one test.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an embedded etcd")
	}
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.TickMs, cfg.ElectionMs = 10, 100
	c, p := url.URL{Scheme: "http", Host: "127.0.0.1:0"}, url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{c}, []url.URL{c}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{p}, []url.URL{p}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-e.Server.ReadyNotify()
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Clients[0].Addr().String()}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); e.Close() })
	return client
}

func decodeU(value []byte, rev int64) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(value); err != nil {
		return nil, err
	}
	u.SetResourceVersion(strconv.FormatInt(rev, 10))
	return u, nil
}

func obj(name string) []byte {
	b, _ := json.Marshal(map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]interface{}{"name": name}})
	return b
}

func startCacher(t *testing.T, s *Store, capacity int) *Cacher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := NewCacher(s, "/registry/things/", decodeU, capacity, nil, "")
	go c.Run(ctx)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func recv(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case e, ok := <-w.Events():
		if !ok {
			t.Fatal("watcher closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event in 5s")
	}
	return Event{}
}

func TestCacherReplayAndLive(t *testing.T) {
	s := New(startEtcd(t))
	ctx := context.Background()
	c := startCacher(t, s, 0)
	r1, err := s.Create(ctx, "/registry/things/a", obj("a"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/registry/things/a", obj("a"), 0); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	r2, _ := s.Update(ctx, "/registry/things/a", obj("a"), r1, 0)
	if _, err := s.Update(ctx, "/registry/things/a", obj("a"), r1, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	r3, err := s.Delete(ctx, "/registry/things/a", r2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForRev(ctx, r3); err != nil {
		t.Fatal(err)
	}
	events, _, w, err := c.Watch(ctx, "/registry/things/", r1-1, false, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted}
	if len(events) != 3 {
		t.Fatalf("replayed %d events, want 3", len(events))
	}
	for i, e := range events {
		if e.Type != want[i] {
			t.Fatalf("event %d is %s, want %s", i, e.Type, want[i])
		}
	}
	if _, err := s.Create(ctx, "/registry/things/b", obj("b"), 0); err != nil {
		t.Fatal(err)
	}
	if e := recv(t, w); e.Type != watch.Added || e.Key != "/registry/things/b" {
		t.Fatalf("live event %s %s", e.Type, e.Key)
	}
}

func TestCacherTooOld(t *testing.T) {
	s := New(startEtcd(t))
	ctx := context.Background()
	c := startCacher(t, s, 8)
	first, _ := s.Create(ctx, "/registry/things/0", obj("0"), 0)
	for i := 1; i < 20; i++ {
		if _, err := s.Create(ctx, "/registry/things/"+strconv.Itoa(i), obj("x"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitForRev(ctx, first+19); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Watch(ctx, "/registry/things/", first, false, ""); !errors.Is(err, ErrTooOld) {
		t.Fatalf("watch from an evicted revision: want ErrTooOld, got %v", err)
	}
	objs, rev := c.Snapshot("/registry/things/")
	if len(objs) != 20 || rev < first+19 {
		t.Fatalf("snapshot: %d objects at %d", len(objs), rev)
	}
}

func TestCacherProgressOnOtherPrefix(t *testing.T) {
	s := New(startEtcd(t))
	ctx := context.Background()
	c := startCacher(t, s, 0)
	// A write elsewhere moves the global revision; this cache sees no event
	// for it and must learn the revision from a progress notification.
	rev, err := s.Create(ctx, "/registry/other/x", obj("x"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForRev(ctx, rev); err != nil {
		t.Fatalf("cache never reached revision %d: %v", rev, err)
	}
	if err := c.WaitForRev(ctx, rev+1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("future revision: want ErrTooLarge, got %v", err)
	}
}

func TestCacherDropsSlowWatcher(t *testing.T) {
	s := New(startEtcd(t))
	ctx := context.Background()
	c := startCacher(t, s, 0)
	_, _, w, err := c.Watch(ctx, "/registry/things/", c.Rev(), false, "")
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]clientv3.Op, 0, 128)
	for i := 0; i < watcherBuffer+10; i++ {
		ops = append(ops, clientv3.OpPut("/registry/things/k"+strconv.Itoa(i), string(obj("k"))))
		if len(ops) == 128 {
			if _, err := s.Client().Txn(ctx).Then(ops...).Commit(); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	resp, err := s.Client().Txn(ctx).Then(ops...).Commit()
	if err != nil {
		t.Fatal(err)
	}
	// Only now read: by the time the cache has applied every write, the
	// watcher that never read must have been dropped.
	if err := c.WaitForRev(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-w.Events():
			if !ok {
				if n > watcherBuffer {
					t.Fatalf("closed after %d events, buffer is %d", n, watcherBuffer)
				}
				return // dropped: the client would resume from its last revision
			}
		case <-deadline:
			t.Fatal("a watcher that never read was not disconnected")
		}
	}
}

func TestCacherTriggerIndex(t *testing.T) {
	s := New(startEtcd(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attrs := func(o runtime.Object) (labels.Set, fields.Set) {
		node, _, _ := unstructured.NestedString(o.(*unstructured.Unstructured).Object, "spec", "nodeName")
		return nil, fields.Set{"spec.nodeName": node}
	}
	c := NewCacher(s, "/registry/pods/", decodeU, 0, attrs, "spec.nodeName")
	go c.Run(ctx)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	watch := func(value string) *Watcher {
		_, _, w, err := c.Watch(ctx, "/registry/pods/", c.Rev(), false, value)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		return w
	}
	n1, n2, all := watch("n1"), watch("n2"), watch("")
	pod := func(node string) []byte {
		b, _ := json.Marshal(map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]interface{}{"name": "p"},
			"spec": map[string]interface{}{"nodeName": node}})
		return b
	}
	rev, err := s.Create(ctx, "/registry/pods/p", pod("n1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "/registry/pods/p", pod("n2"), rev, 0); err != nil {
		t.Fatal(err)
	}
	count := func(w *Watcher) int {
		n := 0
		for {
			select {
			case <-w.Events():
				n++
			case <-time.After(300 * time.Millisecond):
				return n
			}
		}
	}
	// n1 sees the create and the move away; n2 sees only the move in; the
	// unindexed watcher sees both.
	if got := []int{count(n1), count(n2), count(all)}; got[0] != 2 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("events seen by n1, n2, all = %v, want [2 1 2]", got)
	}
}
