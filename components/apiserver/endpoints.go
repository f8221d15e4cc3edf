package apiserver

// The `kubernetes` Service (10.32.0.1:443) is how pods reach the API. Its
// endpoints are the API servers themselves — with three controllers, all
// three. Each API server announces itself with an etcd key that expires
// unless renewed (a "master lease", like upstream's lease reconciler):
//
//	/registry/masterleases/10.240.0.10   (15 s lease, renewed every 5 s)
//	/registry/masterleases/10.240.0.11
//
// and every API server writes the live set into the Endpoints and the
// EndpointSlice named kubernetes. A server that stops deletes its key; one
// that dies drops out when its lease runs out.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

const (
	masterLeases   = "/registry/masterleases/"
	masterLeaseTTL = 15 // seconds
	renewEvery     = 5 * time.Second
)

// advertiseIP is the address pods should use to reach this server.
func advertiseIP(o Options) string {
	if o.AdvertiseAddress != "" {
		return o.AdvertiseAddress
	}
	if ip := o.BindAddress; ip != "" && ip != "0.0.0.0" && ip != "::" {
		return ip
	}
	return "127.0.0.1"
}

// announce keeps this server's master lease alive and the kubernetes
// endpoints current until ctx ends, then withdraws the lease; the returned
// channel closes once it has (the etcd client must outlive that).
func announce(ctx context.Context, reg *registry.Registry, o Options) (<-chan struct{}, error) {
	client := reg.Etcd().Client()
	key := masterLeases + advertiseIP(o)
	if err := renew(ctx, client, key); err != nil {
		return nil, err
	}
	if err := reconcileEndpoints(ctx, reg, o); err != nil {
		return nil, err
	}
	withdrawn := make(chan struct{})
	go func() {
		defer close(withdrawn)
		t := time.NewTicker(renewEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, _ = client.Delete(cctx, key)
				_ = reconcileEndpoints(cctx, reg, o)
				cancel()
				return
			case <-t.C:
				if err := renew(ctx, client, key); err != nil && ctx.Err() == nil {
					slog.Warn("renewing master lease", "key", key, "err", err)
					continue
				}
				if err := reconcileEndpoints(ctx, reg, o); err != nil && ctx.Err() == nil {
					slog.Warn("reconciling the kubernetes endpoints", "err", err)
				}
			}
		}
	}()
	return withdrawn, nil
}

func renew(ctx context.Context, client *clientv3.Client, key string) error {
	lease, err := client.Grant(ctx, masterLeaseTTL)
	if err != nil {
		return fmt.Errorf("grant master lease: %w", err)
	}
	if _, err := client.Put(ctx, key, path.Base(key), clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("write master lease %s: %w", key, err)
	}
	return nil
}

// liveServers lists the IPs of the API servers whose leases are alive.
func liveServers(ctx context.Context, client *clientv3.Client) ([]string, error) {
	resp, err := client.Get(ctx, masterLeases, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list master leases: %w", err)
	}
	var ips []string
	for _, kv := range resp.Kvs {
		ips = append(ips, path.Base(string(kv.Key)))
	}
	sort.Strings(ips)
	return ips, nil
}

// reconcileEndpoints writes the live API servers into the kubernetes
// Endpoints and EndpointSlice (no write when nothing changed).
func reconcileEndpoints(ctx context.Context, reg *registry.Registry, o Options) error {
	ips, err := liveServers(ctx, reg.Etcd().Client())
	if err != nil {
		return err
	}
	opts := registry.WriteOptions{FieldManager: "kube-apiserver"}
	port := int32(o.SecurePort)
	subset := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}}}
	ready, name, proto := true, "https", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "kube-apiserver"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	for _, ip := range ips {
		subset.Addresses = append(subset.Addresses, corev1.EndpointAddress{IP: ip})
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
		if net.ParseIP(ip).To4() == nil {
			slice.AddressType = discoveryv1.AddressTypeIPv6
		}
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
		Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}}}
	if len(ips) > 0 {
		ep.Subsets = []corev1.EndpointSubset{subset}
	}
	// Update keeps uid and creation time; a no-op update writes nothing.
	put := func(st *registry.Store, obj runtime.Object) error {
		_, _, err := st.Update(ctx, "default", "kubernetes", func(runtime.Object) (runtime.Object, error) { return obj.DeepCopyObject(), nil }, opts)
		if apierrors.IsNotFound(err) {
			_, err = st.Create(ctx, "default", obj.DeepCopyObject(), opts)
		}
		return err
	}
	if err := put(reg.MustLookup(schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}), ep); err != nil {
		return fmt.Errorf("update the kubernetes endpoints: %w", err)
	}
	sliceStore := reg.MustLookup(schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"})
	if err := put(sliceStore, slice); err != nil {
		return fmt.Errorf("update the kubernetes endpointslice: %w", err)
	}
	return nil
}
