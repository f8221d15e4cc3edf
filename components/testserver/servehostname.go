package testserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/spf13/pflag"
)

func serveHostnameCommand() subcommand {
	return subcommand{
		name:  "serve-hostname",
		short: "answer the pod's hostname over HTTP (and/or raw TCP, UDP)",
		long: `
Every request gets the same answer: this pod's hostname, which Kubernetes sets
to the pod's name. Put several replicas behind a Service and ask it a few
times to watch the load spread:

  kubectl create deployment hostnames --image=localhost/kubelab/testserver:v1 --replicas=3
  kubectl expose deployment hostnames --port=80 --target-port=9376
  kubectl exec deploy/hostnames -- wget -qO- hostnames     # repeat: the name changes

This is the image's default command (port 9376, the port the Kubernetes Service
docs use). Any HTTP path answers 200, so it also passes httpGet probes.
Like agnhost, the answer has no trailing newline.

--http and --tcp both use TCP on --port, so they cannot be on together: for a
raw TCP server (write the hostname, close) pass --tcp --http=false. --udp
answers every datagram with the hostname and can run beside either.`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			port := fs.Int("port", 9376, "port to serve on (TCP and/or UDP)")
			doHTTP := fs.Bool("http", true, "serve HTTP: any path answers the hostname")
			doTCP := fs.Bool("tcp", false, "serve raw TCP: write the hostname and close (needs --http=false)")
			doUDP := fs.Bool("udp", false, "serve UDP: answer every datagram with the hostname")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("serve-hostname takes no arguments, got %q", args)}
				}
				return serveHostname(ctx, *port, *doHTTP, *doTCP, *doUDP, e.log)
			}
		},
	}
}

func serveHostname(ctx context.Context, port int, doHTTP, doTCP, doUDP bool, log *slog.Logger) error {
	if doHTTP && doTCP {
		return &UsageError{Err: fmt.Errorf("--http and --tcp both want TCP port %d: pass --http=false with --tcp", port)}
	}
	if !doHTTP && !doTCP && !doUDP {
		return &UsageError{Err: errors.New("nothing to serve: enable at least one of --http, --tcp, --udp")}
	}
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	addr := ":" + strconv.Itoa(port)
	var ln net.Listener
	var pc net.PacketConn
	if doHTTP || doTCP {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen on tcp %s: %w", addr, err)
		}
	}
	if doUDP {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			if ln != nil {
				ln.Close()
			}
			return fmt.Errorf("listen on udp %s: %w", addr, err)
		}
	}
	if doHTTP {
		return serveHostnameOn(ctx, hostname, ln, nil, pc, log)
	}
	return serveHostnameOn(ctx, hostname, nil, ln, pc, log)
}

// serveHostnameOn serves hostname on whichever of the three endpoints is
// non-nil and closes them all when ctx ends. Taking listeners (rather than a
// port) lets tests use 127.0.0.1:0.
func serveHostnameOn(ctx context.Context, hostname string, httpL, tcpL net.Listener, udpC net.PacketConn, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	n := 0
	if httpL != nil {
		n++
		srv := &http.Server{Handler: logRequests(log, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, hostname)
		}))}
		log.Info("serving hostname over HTTP", "addr", httpL.Addr().String(), "hostname", hostname)
		go func() { errc <- serveHTTP(ctx, srv, httpL) }()
	}
	if tcpL != nil {
		n++
		log.Info("serving hostname over TCP", "addr", tcpL.Addr().String(), "hostname", hostname)
		go func() { errc <- serveTCPHostname(ctx, tcpL, hostname) }()
	}
	if udpC != nil {
		n++
		log.Info("serving hostname over UDP", "addr", udpC.LocalAddr().String(), "hostname", hostname)
		go func() {
			errc <- serveUDP(ctx, udpC, func([]byte, net.Addr) []byte { return []byte(hostname) })
		}()
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // one server failed: stop the others too
		}
	}
	return first
}

func serveTCPHostname(ctx context.Context, ln net.Listener, hostname string) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		go func() {
			defer conn.Close()
			_, _ = conn.Write([]byte(hostname))
		}()
	}
}
