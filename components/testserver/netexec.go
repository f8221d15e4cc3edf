package testserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

func netexecCommand() subcommand {
	return subcommand{
		name:  "netexec",
		short: "an HTTP (and UDP) toolbox for network, probe and lifecycle tests",
		long: `
Serves HTTP on --http-port and a tiny UDP protocol on --udp-port. The HTTP
endpoints (all GET, parameters in the query string):

  /                   "NOW: <time>"
  /hostname           the pod's hostname (also /hostName, agnhost's spelling)
  /echo?msg=hi        "hi" (add &code=418 to answer with that status)
  /clientip           the caller's ip:port as this pod sees it (is there SNAT?)
  /header?key=K       the value of request header K
  /healthz, /readyz   200 "ok" until told otherwise:
  /sethealth?status=500   make /healthz answer 500 -> the liveness probe restarts us
  /setready?status=503    make /readyz answer 503 -> the pod leaves its Service
  /dial?request=hostname&host=10.200.1.5&port=8080&protocol=http&tries=3
                      ask another server, from *this* pod's network; JSON
                      {"responses":[...],"errors":[...]} (protocol http or udp)
  /shell?cmd=ls+/     run /bin/sh -c CMD here; JSON {"output":...,"error":...}
  /exit?code=3        reply, then exit with that code (restart policies)
  /shutdown           reply, then shut down gracefully and exit 0

The UDP side answers one datagram with one datagram: "hostname", "echo TEXT",
or "clientip".

On SIGTERM (pod deletion) or /shutdown, /readyz turns 503 at once, the server
keeps serving for --delay-shutdown, then drains and exits 0: the graceful
termination dance every well-behaved pod should do.

Example pod args: ["netexec", "--http-port=8080", "--udp-port=8081"]`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			httpPort := fs.Int("http-port", 8080, "HTTP port")
			udpPort := fs.Int("udp-port", 8081, "UDP port (-1 to disable)")
			delay := fs.Int("delay-shutdown", 0, "seconds to keep serving (with /readyz failing) after SIGTERM or /shutdown")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("netexec takes no arguments, got %q", args)}
				}
				return netexec(ctx, *httpPort, *udpPort, time.Duration(*delay)*time.Second, e.log)
			}
		},
	}
}

func netexec(ctx context.Context, httpPort, udpPort int, delay time.Duration, log *slog.Logger) error {
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	httpAddr := ":" + strconv.Itoa(httpPort)
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("listen on tcp %s: %w", httpAddr, err)
	}
	var pc net.PacketConn
	if udpPort >= 0 {
		udpAddr := ":" + strconv.Itoa(udpPort)
		if pc, err = net.ListenPacket("udp", udpAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on udp %s: %w", udpAddr, err)
		}
	}
	return newNetexecServer(hostname, log).run(ctx, ln, pc, delay)
}

// run serves until one of four things happens: the context ends (SIGTERM),
// /shutdown, /exit, or a server fails. The first two shut down gracefully.
func (s *netexecServer) run(ctx context.Context, ln net.Listener, pc net.PacketConn, delay time.Duration) error {
	srvCtx, stopServers := context.WithCancel(context.Background())
	defer stopServers()
	errc := make(chan error, 2)
	running := 1
	srv := &http.Server{Handler: logRequests(s.log, s.handler())}
	s.log.Info("netexec serving HTTP", "addr", ln.Addr().String(), "hostname", s.hostname)
	go func() { errc <- serveHTTP(srvCtx, srv, ln) }()
	if pc != nil {
		running++
		s.log.Info("netexec serving UDP", "addr", pc.LocalAddr().String())
		go func() { errc <- serveUDP(srvCtx, pc, s.udpAnswer) }()
	}

	var result error
	graceful := false
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", context.Cause(ctx))
		graceful = true
	case <-s.shutdownc:
		s.log.Info("shutting down", "reason", "/shutdown")
		graceful = true
	case code := <-s.exitc:
		s.log.Info("exiting", "code", code)
		result = &ExitError{Code: code}
	case err := <-errc:
		running--
		result = err
	}
	if graceful {
		s.shuttingDown.Store(true)
	}
	if graceful && delay > 0 {
		// Readiness fails now, but we keep answering: endpoints controllers
		// and kube-proxies need a moment to stop sending us traffic.
		s.log.Info("delaying shutdown", "delay", delay)
		time.Sleep(delay)
	}
	stopServers()
	for range running {
		if err := <-errc; err != nil && result == nil {
			result = err
		}
	}
	return result
}
