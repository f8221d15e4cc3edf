package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// UserAgent is sent by HTTP and gRPC probes, as upstream's kube-probe/<major>.<minor>.
const UserAgent = "kube-probe/1.37"

// maxOutput bounds what is kept of a response body or command output.
const maxOutput = 10 << 10

// ExecFunc runs cmd in the container and returns its exit code and output.
// It should honour ctx (which carries the probe's timeout); err is for
// failures to run the command at all, not for non-zero exits.
type ExecFunc func(ctx context.Context, cmd []string, timeout time.Duration) (exitCode int, output []byte, err error)

// Target is where a container's probes go.
type Target struct {
	// PodIP is the default host of httpGet, tcpSocket and grpc probes.
	PodIP string
	// Exec runs exec probes; nil makes them prober errors.
	Exec ExecFunc
}

// Outcome is one probe's verdict. Message is for events and logs.
type Outcome struct {
	Success bool
	Message string
}

// Run executes one probe of container c once. A non-nil error is a prober
// error (say, a named port that does not exist): upstream throws such
// results away instead of counting them as failures.
func Run(ctx context.Context, p *corev1.Probe, c *corev1.Container, t Target) (Outcome, error) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	switch {
	case p.Exec != nil:
		return runExec(ctx, p.Exec.Command, timeout, t.Exec)
	case p.HTTPGet != nil:
		return runHTTP(ctx, p.HTTPGet, c, t.PodIP, timeout)
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = t.PodIP
		}
		port, err := ResolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return Outcome{}, err
		}
		return runTCP(ctx, net.JoinHostPort(host, strconv.Itoa(port)), timeout), nil
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return runGRPC(ctx, t.PodIP, int(p.GRPC.Port), service, timeout), nil
	}
	return Outcome{}, errors.New("probe has no handler (exec, httpGet, tcpSocket or grpc)")
}

// ResolvePort turns a probe port (number, named container port, or a
// number written as a string) into a port number.
func ResolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := p.IntValue()
	if p.Type == intstr.String {
		found := false
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port, found = int(cp.ContainerPort), true
				break
			}
		}
		if !found {
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return 0, fmt.Errorf("port %s not found in container %q", p.StrVal, c.Name)
			}
			port = n
		}
	}
	if port <= 0 || port >= 65536 {
		return 0, fmt.Errorf("invalid port number: %v", port)
	}
	return port, nil
}

// dialer closes probe connections with a zero linger (RST), as upstream
// does, so frequent probes do not pile up TIME_WAIT sockets.
func dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: timeout,
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
			})
		},
	}
}

func runTCP(ctx context.Context, addr string, timeout time.Duration) Outcome {
	conn, err := dialer(timeout).DialContext(ctx, "tcp", addr)
	if err != nil {
		return Outcome{Message: err.Error()}
	}
	_ = conn.Close()
	return Outcome{Success: true}
}

func runExec(ctx context.Context, cmd []string, timeout time.Duration, exec ExecFunc) (Outcome, error) {
	if exec == nil {
		return Outcome{}, errors.New("exec probe: no exec function for this container")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, out, err := exec(ctx, cmd, timeout)
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return Outcome{Message: fmt.Sprintf("command %q timed out", cmd)}, nil
		}
		return Outcome{}, fmt.Errorf("exec probe %q: %w", cmd, err)
	}
	return Outcome{Success: code == 0, Message: string(out)}, nil
}
