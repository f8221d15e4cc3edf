// Package cluster starts whole clusters: the quickstart control plane of
// `kubelab up` (embedded etcd + kube-apiserver in one process) now, and the
// network-namespace nodes of `kubelab cluster create` as the kubelet lands.
// It is also the harness the integration and compatibility tests use, so the
// clusters students get and the clusters tests check are the same thing.
//
// Start order, k0s-style (stop is the reverse):
//
//	PKI (CA, serving cert, admin cert) -> etcd -> kube-apiserver -> /readyz
//	  -> controllers (namespace, garbage collector) -> kubeconfig
package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EmbeddedEtcd is a single-member etcd inside this process.
type EmbeddedEtcd struct {
	etcd   *embed.Etcd
	Client *clientv3.Client
	// ClientURL is where etcdctl can reach it (`etcdctl --endpoints=...`).
	ClientURL string
}

// StartEtcd starts etcd with its data in dir, listening on 127.0.0.1
// (clientPort, or a free port when that one is taken or 0).
func StartEtcd(ctx context.Context, dir string, clientPort int) (*EmbeddedEtcd, error) {
	cp, err := freePort(clientPort)
	if err != nil {
		return nil, err
	}
	pp, err := freePort(0)
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "kubelab"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// One member: a short election timeout costs nothing and makes start
	// take ~0.1 s instead of ~1 s.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(cp))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(pp))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Keep an hour of history for watches, like a kube-apiserver's
	// compaction loop would; the watch cache serves most resumes anyway.
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = "periodic", "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready in 30s", dir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL.String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("connect to embedded etcd: %w", err)
	}
	return &EmbeddedEtcd{etcd: e, Client: client, ClientURL: clientURL.String()}, nil
}

// Stop closes the client first (else Close waits for it), then etcd.
func (e *EmbeddedEtcd) Stop() {
	if e == nil || e.etcd == nil {
		return
	}
	e.Client.Close()
	e.etcd.Close()
	e.etcd = nil
}

// freePort returns preferred if it can be listened on, else a free port.
func freePort(preferred int) (int, error) {
	if preferred > 0 {
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(preferred))); err == nil {
			ln.Close()
			return preferred, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
