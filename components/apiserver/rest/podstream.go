package rest

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// podStream serves pods/exec, pods/attach and pods/portforward. The API
// server does not take part in these sessions: it checks the request,
// finds the kubelet and splices the client's upgraded connection (SPDY or
// WebSocket) to the kubelet's, byte for byte:
//
//	kubectl ══ SPDY/WebSocket ══> API server ══ same bytes ══> kubelet /exec/{ns}/{pod}/{container}
func (h *Handler) podStream(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	gr := schema.GroupResource{Resource: "pods/" + ri.Subresource}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method))
		return
	}
	q := r.URL.Query()
	params, path, err := streamParams(ri.Subresource, q)
	if err != nil {
		writeError(w, err)
		return
	}
	// Port forwarding reaches the pod's network namespace, not a container.
	t, err := h.podTarget(r, ri, st, q.Get("container"), ri.Subresource != "portforward")
	if err != nil {
		writeError(w, err)
		return
	}
	if t.base == nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", t.pod.Name)))
		return
	}
	loc := *t.base
	loc.Path = fmt.Sprintf("/%s/%s/%s", path, t.pod.Namespace, t.pod.Name)
	if ri.Subresource != "portforward" {
		loc.Path += "/" + t.container
	}
	loc.RawQuery = params.Encode()

	// The user's credentials are for us, not for the kubelet: we
	// authenticate to it with our own client certificate.
	out := r.Clone(r.Context())
	for _, hdr := range []string{"Authorization", "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"} {
		out.Header.Del(hdr)
	}
	insecure, _ := queryBool(q, "insecureSkipTLSVerifyBackend")
	handler := proxy.NewUpgradeAwareHandler(&loc, h.Kubelet.Transport(insecure), false, true,
		&kubeletResponder{node: t.node, loc: loc.Host})
	handler.ServeHTTP(w, out)
}

// streamParams checks the Pod{Exec,Attach,PortForward}Options query and
// translates it into the kubelet's parameters (input/output/error/tty,
// command, port), as upstream's streamParams does.
func streamParams(sub string, q url.Values) (url.Values, string, error) {
	params := url.Values{}
	if sub == "portforward" {
		for _, p := range q["ports"] {
			if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
				return nil, "", apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: must be 1-65535", p))
			}
			params.Add("port", p)
		}
		return params, "portForward", nil
	}
	streams := false
	for _, p := range []struct{ from, to string }{{"stdin", "input"}, {"stdout", "output"}, {"stderr", "error"}, {"tty", "tty"}} {
		b, err := queryBool(q, p.from)
		if err != nil {
			return nil, "", err
		}
		if b {
			params.Set(p.to, "1")
			streams = streams || p.from != "tty"
		}
	}
	if !streams {
		return nil, "", apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	if sub == "attach" {
		return params, "attach", nil
	}
	cmd := q["command"]
	if len(cmd) == 0 {
		return nil, "", apierrors.NewBadRequest("you must specify at least one command for the container")
	}
	for _, c := range cmd {
		params.Add("command", c)
	}
	return params, "exec", nil
}

// kubeletResponder answers errors that happen before the connection is
// spliced (dialing the kubelet, the TLS handshake).
type kubeletResponder struct{ node, loc string }

func (k *kubeletResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	slog.Debug("pod stream: proxy to kubelet failed", "node", k.node, "kubelet", k.loc, "err", err)
	if _, ok := err.(apierrors.APIStatus); ok {
		writeError(w, err)
		return
	}
	writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("cannot reach the kubelet of node %s at %s: %v", k.node, k.loc, err)))
}
