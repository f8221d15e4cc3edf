package kubelet

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/kubelet/server"
)

// The kubelet API's view of the kubelet (server.Host): find a pod's
// container by name for `kubectl logs` and `kubectl exec`.

func (k *Kubelet) newServer() (*server.Server, error) {
	return server.New(server.Options{
		Host:              k,
		Address:           net.JoinHostPort(k.o.Address, strconv.Itoa(k.o.Port)),
		TLSCertFile:       k.o.TLSCertFile,
		TLSPrivateKeyFile: k.o.TLSPrivateKeyFile,
		ClientCAFile:      k.o.ClientCAFile,
	})
}

// Pods are the pods bound to this node.
func (k *Kubelet) Pods() []*corev1.Pod {
	pods, _ := k.podLister.List(labels.Everything())
	return pods
}

// findContainer returns the pod and the container's attempts, newest last.
func (k *Kubelet) findContainer(namespace, name, container string) (*corev1.Pod, []runtime.ContainerStatus, error) {
	pod, err := k.podLister.Pods(namespace).Get(name)
	if err != nil {
		return nil, nil, fmt.Errorf("pod %q in namespace %q: %w", name, namespace, server.ErrNotFound)
	}
	if containerSpec(pod, container) == nil {
		return nil, nil, fmt.Errorf("container %q in pod %q: %w", container, name, server.ErrNotFound)
	}
	all, err := k.rt.ListContainers(string(pod.UID))
	if err != nil {
		return nil, nil, err
	}
	var mine []runtime.ContainerStatus
	for _, c := range all {
		if c.Name == container {
			mine = append(mine, c)
		}
	}
	for i := 1; i < len(mine); i++ { // few attempts: insertion sort by attempt
		for j := i; j > 0 && mine[j].Attempt < mine[j-1].Attempt; j-- {
			mine[j], mine[j-1] = mine[j-1], mine[j]
		}
	}
	return pod, mine, nil
}

// ContainerLog implements server.Host.
func (k *Kubelet) ContainerLog(namespace, name, container string, previous bool) (string, <-chan struct{}, error) {
	pod, attempts, err := k.findContainer(namespace, name, container)
	if err != nil {
		return "", nil, err
	}
	if len(attempts) == 0 {
		// A finished pod's containers are gone from the runtime, but their
		// logs stay until the pod is deleted.
		if path, ok := k.lastLogFile(pod, container, previous); ok {
			done := make(chan struct{})
			close(done)
			return path, done, nil
		}
		reason := "ContainerCreating"
		for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			if s.Name == container && s.State.Waiting != nil && s.State.Waiting.Reason != "" {
				reason = s.State.Waiting.Reason
			}
		}
		return "", nil, fmt.Errorf("container %q in pod %q is waiting to start: %s", container, name, reason)
	}
	c := attempts[len(attempts)-1]
	if previous {
		if len(attempts) < 2 {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q not found: %w", container, name, server.ErrNotFound)
		}
		c = attempts[len(attempts)-2]
	}
	done := make(chan struct{})
	if c.State != runtime.StateRunning && c.State != runtime.StateCreated {
		close(done)
	} else {
		go func() {
			defer close(done)
			_, _ = k.rt.Wait(context.Background(), c.ID)
		}()
	}
	return c.LogPath, done, nil
}

// Exec implements server.Host.
func (k *Kubelet) Exec(ctx context.Context, namespace, name, uid, container string, cfg runtime.ExecConfig) (int, error) {
	id, err := k.runningContainer(namespace, name, uid, container)
	if err != nil {
		return 0, err
	}
	return k.rt.Exec(ctx, id, cfg)
}

// runningContainer is the runtime ID of a container's current attempt, if
// it runs (and the pod is the one uid names, when given).
func (k *Kubelet) runningContainer(namespace, name, uid, container string) (string, error) {
	pod, attempts, err := k.findContainer(namespace, name, container)
	if err != nil {
		return "", err
	}
	if uid != "" && string(pod.UID) != uid {
		return "", fmt.Errorf("pod %q with UID %s: %w", name, uid, server.ErrNotFound)
	}
	if len(attempts) == 0 || attempts[len(attempts)-1].State != runtime.StateRunning {
		return "", fmt.Errorf("container %q in pod %q is not running", container, name)
	}
	return attempts[len(attempts)-1].ID, nil
}

// lastLogFile finds a container's newest (or, with previous, second newest)
// log file on disk: <pod log dir>/<container>/<attempt>.log.
func (k *Kubelet) lastLogFile(pod *corev1.Pod, container string, previous bool) (string, bool) {
	entries, err := os.ReadDir(filepath.Join(k.podLogDir(pod), container))
	if err != nil {
		return "", false
	}
	var attempts []int
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log")); err == nil && strings.HasSuffix(e.Name(), ".log") {
			attempts = append(attempts, n)
		}
	}
	slices.Sort(attempts)
	i := len(attempts) - 1
	if previous {
		i--
	}
	if i < 0 {
		return "", false
	}
	return filepath.Join(k.podLogDir(pod), container, strconv.Itoa(attempts[i])+".log"), true
}

// PortForward implements server.PortForwarder: the kubelet runs in the
// node's network namespace, where every pod IP is reachable over the
// bridge, so forwarding is a dial to podIP:port and two copies.
func (k *Kubelet) PortForward(ctx context.Context, namespace, name, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	pod, err := k.podLister.Pods(namespace).Get(name)
	if err != nil {
		return fmt.Errorf("pod %q in namespace %q: %w", name, namespace, server.ErrNotFound)
	}
	if uid != "" && string(pod.UID) != uid {
		return fmt.Errorf("pod %q with UID %s: %w", name, uid, server.ErrNotFound)
	}
	ip := pod.Status.PodIP
	if pod.Spec.HostNetwork || ip == "" {
		ip = k.nodeIP.String()
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	cancel()
	if err != nil {
		return fmt.Errorf("pod %s/%s port %d: %w", namespace, name, port, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	// Client → pod until the client is done sending (then half-close, so
	// the server sees EOF), pod → client until the pod is done.
	go func() {
		_, _ = io.Copy(conn, stream)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(stream, conn)
	return err
}
