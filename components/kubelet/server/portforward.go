package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
)

// PortForwarder is optionally implemented by a Host that can connect a
// stream to a port of a pod (`kubectl port-forward`). Without it
// /portForward answers 501.
type PortForwarder interface {
	// PortForward copies between stream and the pod's port until either
	// side closes.
	PortForward(ctx context.Context, namespace, pod, uid string, port int32, stream io.ReadWriteCloser) error
}

// portForward serves /portForward/{namespace}/{pod}[/{uid}]: the
// port-forward protocol (SPDY, or WebSocket) from cri-streaming, each
// stream handed to the Host, which dials the pod.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pf, ok := s.opts.Host.(PortForwarder)
	if !ok {
		http.Error(w, "port forwarding is not implemented by this kubelet", http.StatusNotImplemented)
		return
	}
	ns, pod, uid := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid")
	if !s.knownPod(ns, pod) {
		http.Error(w, "pod "+ns+"/"+pod+" not found on this node", http.StatusNotFound)
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	idle := s.opts.StreamIdleTimeout
	if idle == 0 {
		idle = 4 * time.Hour
	}
	portforward.ServePortForward(w, r, forwarder{pf: pf, ns: ns, ctx: r.Context()}, pod, uid, opts,
		idle, 30*time.Second, portforward.SupportedProtocols)
}

// forwarder adapts a PortForwarder to cri-streaming's interface, which
// names pods without their namespace.
type forwarder struct {
	pf  PortForwarder
	ns  string
	ctx context.Context
}

func (f forwarder) PortForward(ctx context.Context, pod, uid string, port int32, stream io.ReadWriteCloser) error {
	err := f.pf.PortForward(ctx, f.ns, pod, uid, port, stream)
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Debug("port forward ended", "pod", f.ns+"/"+pod, "port", port, "err", err)
	}
	return err
}

// knownPod reports whether the Host runs the pod.
func (s *Server) knownPod(ns, name string) bool {
	for _, p := range s.opts.Host.Pods() {
		if p.Namespace == ns && p.Name == name {
			return true
		}
	}
	return false
}
