package testserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds how long a graceful HTTP shutdown waits for
// in-flight requests. It stays well under the pod's default 30 s grace period
// so the kubelet never has to SIGKILL us.
const shutdownTimeout = 5 * time.Second

// serveHTTP serves srv on ln until ctx ends, then shuts down gracefully.
// A clean shutdown is not an error.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	return nil
}

// serveUDP answers every datagram on pc with answer(payload, sender) until
// ctx ends. A nil answer sends nothing.
func serveUDP(ctx context.Context, pc net.PacketConn, answer func([]byte, net.Addr) []byte) error {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read udp on %s: %w", pc.LocalAddr(), err)
		}
		if reply := answer(buf[:n], from); reply != nil {
			// A lost reply is UDP's normal life, not a server failure.
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

// logRequests logs one line per request, so `kubectl logs` shows which pod
// a Service sent each request to.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Info("request", "method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}
