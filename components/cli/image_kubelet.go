package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/pki"
)

// How `kubelab image` reaches a kubelet: the Node object says where it
// listens, and the kubeconfig's client certificate (signed by the cluster
// CA, which every kubelet's --client-ca-file trusts) says who we are.
//
//	kubeconfig ──> API server: GET /api/v1/nodes/NAME ──> InternalIP, kubeletEndpoint.port
//	           ──> https://IP:PORT/images... (client certificate; server
//	               certificate verified with the kubeconfig's CA)

// kubeletAccess holds the two clients.
type kubeletAccess struct {
	kube kubernetes.Interface
	http *http.Client
}

func newKubeletAccess(o *imageOptions) (*kubeletAccess, error) {
	path := pki.DefaultPath(o.kubeconfig)
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: o.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	if len(cfg.CertData) == 0 && cfg.CertFile == "" {
		return nil, fmt.Errorf("kubeconfig %s: its user has no client certificate, and kubelets authenticate only client certificates: use the admin kubeconfig ('kubelab up' and 'kubelab cluster create' write one)", path)
	}
	// The kubelet is another server than the API server: keep the CA and
	// the client certificate, drop what only fits the API server.
	kc := rest.CopyConfig(cfg)
	kc.Insecure, kc.ServerName = false, ""
	tlsCfg, err := rest.TLSConfigFor(kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: TLS settings: %w", path, err)
	}
	tlsCfg.InsecureSkipVerify = o.insecure
	tlsCfg.NextProtos = []string{"http/1.1"}
	return &kubeletAccess{kube: kube, http: &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 10 * time.Second,
		// With "Expect: 100-continue" the kubelet can refuse an upload
		// (401, 501) before a single byte of a large archive is sent.
		ExpectContinueTimeout: 5 * time.Second,
	}}}, nil
}

// kubeletTarget is one node's kubelet API.
type kubeletTarget struct {
	node string
	url  string // https://IP:PORT
}

// targets picks the nodes to talk to: the one named, else all of them
// (all), else the only one. Hollow nodes have no kubelet and are skipped.
func (a *kubeletAccess) targets(ctx context.Context, node string, all bool) ([]kubeletTarget, error) {
	if node != "" {
		n, err := a.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		if isHollow(n) {
			return nil, fmt.Errorf("node %s is a hollow node: it has no kubelet and runs no containers", node)
		}
		t, err := targetOf(n)
		if err != nil {
			return nil, err
		}
		return []kubeletTarget{t}, nil
	}
	list, err := a.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var nodes []*corev1.Node
	for i := range list.Items {
		if !isHollow(&list.Items[i]) {
			nodes = append(nodes, &list.Items[i])
		}
	}
	slices.SortFunc(nodes, func(x, y *corev1.Node) int { return strings.Compare(x.Name, y.Name) })
	switch {
	case len(nodes) == 0:
		return nil, errors.New("the cluster has no nodes with a kubelet (was it started with --no-kubelet?); see 'kubectl get nodes'")
	case len(nodes) > 1 && !all:
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Name
		}
		return nil, fmt.Errorf("the cluster has %d nodes (%s): choose one with --node NAME, or use --all-nodes", len(nodes), strings.Join(names, ", "))
	}
	var out []kubeletTarget
	for _, n := range nodes {
		t, err := targetOf(n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// isHollow: `kubelab hollow-nodes` labels its fake nodes type=hollow, like
// kubemark.
func isHollow(n *corev1.Node) bool { return n.Labels["type"] == "hollow" }

// targetOf finds the kubelet API in the Node's status, preferring the
// addresses in the API server's default order (InternalIP, Hostname,
// ExternalIP).
func targetOf(n *corev1.Node) (kubeletTarget, error) {
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		return kubeletTarget{}, fmt.Errorf("node %s reports no kubelet port (status.daemonEndpoints.kubeletEndpoint.port): is its kubelet running?", n.Name)
	}
	for _, typ := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP} {
		for _, addr := range n.Status.Addresses {
			if addr.Type == typ && addr.Address != "" {
				return kubeletTarget{node: n.Name, url: "https://" + net.JoinHostPort(addr.Address, strconv.Itoa(int(port)))}, nil
			}
		}
	}
	return kubeletTarget{}, fmt.Errorf("node %s reports no address (status.addresses): is its kubelet running?", n.Name)
}

// do sends req to a kubelet and decodes a JSON answer into out; errors
// say what the user can do about them.
func (a *kubeletAccess) do(t kubeletTarget, req *http.Request, out any) error {
	resp, err := a.http.Do(req)
	if err != nil {
		if isCertError(err) {
			return fmt.Errorf("node %s: the kubelet's serving certificate at %s did not verify against the kubeconfig's CA: %w\n"+
				"(a kubelet with a self-signed certificate, or one for another address, does this; "+
				"--insecure-skip-tls-verify-backend skips the check, like kubectl logs has)", t.node, t.url, err)
		}
		return fmt.Errorf("node %s: kubelet API %s: %w", t.node, t.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("node %s: kubelet answered %s: %s%s", t.node, resp.Status, strings.TrimSpace(string(msg)), statusHint(resp.StatusCode))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("node %s: decode kubelet answer: %w", t.node, err)
	}
	return nil
}

func statusHint(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return " (the kubelet did not accept the kubeconfig's client certificate: it must be signed by the CA in the kubelet's --client-ca-file)"
	case http.StatusNotFound, http.StatusNotImplemented:
		return " (this kubelet has no image endpoints: is it a kubelab kubelet of the same version?)"
	case http.StatusInsufficientStorage:
		return " (free disk space on the node, or remove images from it)"
	}
	return ""
}

func isCertError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// imageInfo is one entry of the kubelet's GET /images.
type imageInfo struct {
	Names []string `json:"names"`
	ID    string   `json:"id"`
	Size  int64    `json:"size"`
}

// nodeImages are one node's images, for printing.
type nodeImages struct {
	node   string
	images []imageInfo
}

func runImageList(ctx context.Context, s Streams, o *imageOptions) error {
	a, err := newKubeletAccess(o)
	if err != nil {
		return err
	}
	targets, err := a.targets(ctx, o.node, true)
	if err != nil {
		return err
	}
	var rows []nodeImages
	var errs []error
	for _, t := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url+"/images", nil)
		if err != nil {
			return err
		}
		var list []imageInfo
		if err := a.do(t, req, &list); err != nil {
			errs = append(errs, err)
			continue
		}
		rows = append(rows, nodeImages{node: t.node, images: list})
	}
	if err := printImages(s, rows); err != nil {
		return err
	}
	return errors.Join(errs...)
}
