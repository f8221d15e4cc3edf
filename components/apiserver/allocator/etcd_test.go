package allocator

import (
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// testEtcd is a single-member etcd started in-process for one test, with its
// data in t.TempDir(). Each test gets its own, so tests never see each
// other's keys.
type testEtcd struct {
	endpoint string
}

// startEtcd starts etcd and stops it when the test ends. Clients made with
// client() are closed first (t.Cleanup runs last-registered first): an etcd
// server with open clients takes ~7s to close.
func startEtcd(t *testing.T) *testEtcd {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "allocator-test"
	cfg.Dir = t.TempDir()
	cfg.TickMs, cfg.ElectionMs = 10, 100 // a single member elects itself in ~100ms
	// etcd logs its own shutdown at error level; keep that out of test
	// output but on disk, in case a test needs it.
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(t.TempDir(), "etcd.log")}
	clientURL, peerURL := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close) // exactly once: Close panics when called twice
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("embedded etcd failed: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("embedded etcd not ready after 20s")
	}
	return &testEtcd{endpoint: clientURL.String()}
}

// client returns a new client; two clients stand for two apiserver replicas.
func (e *testEtcd) client(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("etcd client for %s: %v", e.endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// freeURL finds a free localhost port. The port is free when we look; the
// small window before etcd binds it is fine for tests.
func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
