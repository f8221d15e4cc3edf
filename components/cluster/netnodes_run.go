package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/pki"
)

// controlPlaneLog is where the detached `kubelab up` writes.
func controlPlaneLog(dir string) string { return filepath.Join(dir, "logs", "controlplane.log") }

// controlPlaneArgs runs `kubelab up` on the host end of the bridge, so the
// nodes reach it at https://10.240.0.1:6443. Every flag that matters is
// explicit, so a KUBELAB_* variable or ~/.kubelab/config.yaml meant for
// the user's own `kubelab up` cannot change this cluster. up merges its
// context into a kubeconfig of its own in the state directory; the user's
// kubeconfig is only touched once the whole cluster is Ready.
func controlPlaneArgs(s *netnsState) []string {
	cp := controlPlaneDir(s.Dir)
	args := []string{"up", "--name", s.Name, "--dir", cp,
		"--bind-address", s.HostIP, "--port", "6443", "--debug-address", s.HostIP + ":10251",
		"--kubeconfig", filepath.Join(cp, "up.kubeconfig"), "--hollow-nodes", "0"}
	// The nodes' kubelets are separate processes: up must not start its own.
	args = append(args, "--no-kubelet")
	return args
}

// startControlPlane starts `kubelab up` detached and waits for /readyz.
func (c *NetnsCluster) startControlPlane(ctx context.Context, kubelab string) error {
	start := time.Now()
	s := c.state
	d, err := startDaemon(kubelab, controlPlaneArgs(s), nil, controlPlaneLog(s.Dir), "")
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	c.mu.Lock()
	s.ControlPlane = d.id
	err = s.save()
	c.mu.Unlock()
	writePIDFile(filepath.Join(s.Dir, "controlplane.pid"), d.id.PID)
	if err != nil {
		return err
	}
	if err := c.waitControlPlane(ctx, d); err != nil {
		return err
	}
	if c.Server, err = apiServerURL(c.AdminKubeconfig); err != nil {
		return err
	}
	c.opts.step("control plane", fmt.Sprintf("%s (pid %d, log %s)", c.Server, d.id.PID, controlPlaneLog(s.Dir)), start)
	return nil
}

// waitControlPlane polls for the admin kubeconfig `up` writes, then for
// /readyz through client-go: the path kubectl will take.
func (c *NetnsCluster) waitControlPlane(ctx context.Context, d *daemon) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	var lastErr error
	for {
		select {
		case <-d.done:
			return fmt.Errorf("control plane (kubelab up) exited; its log %s ends:%s", controlPlaneLog(c.Dir), logTail(controlPlaneLog(c.Dir), 20))
		default:
		}
		if _, err := os.Stat(c.AdminKubeconfig); err == nil {
			cs, err := netnsClient(c.AdminKubeconfig)
			if err == nil {
				_, err = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			}
			if err == nil {
				return nil
			}
			lastErr = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("control plane not ready after %s (last error: %v); its log %s ends:%s", c.opts.ReadyTimeout, lastErr, controlPlaneLog(c.Dir), logTail(controlPlaneLog(c.Dir), 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func netnsClient(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 5 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// StartKubelet starts node's kubelet (again), detached, inside the node's
// network namespace, with the flags create gave it.
func (c *NetnsCluster) StartKubelet(node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(node)
	if err != nil {
		return err
	}
	if n.Kubelet.alive() {
		return fmt.Errorf("kubelet of %s is already running (pid %d)", node, n.Kubelet.PID)
	}
	log := kubeletLog(c.Dir, n.Name)
	d, err := startDaemon(c.kubelet, kubeletArgs(c.Dir, c.Name, c.state.Network, *n), kubeletEnv(*n), log, netnsPath(n.Netns))
	if err != nil {
		return fmt.Errorf("kubelet of %s: %w", node, err)
	}
	c.kubelets[n.Name] = d
	n.Kubelet = d.id
	writePIDFile(filepath.Join(nodeDir(c.Dir, n.Name), "kubelet.pid"), d.id.PID)
	if err := c.state.save(); err != nil {
		return err
	}
	return checkInNetns(d, *n, log)
}

// checkInNetns makes sure the kubelet runs in its node's namespace (it
// starts there; this guards against anything that would move it back): a
// kubelet in the host's namespace would program the host's network (a
// cni0 bridge, routes).
func checkInNetns(d *daemon, n nodeState, log string) error {
	want, err := netnsInode(netnsPath(n.Netns))
	if err != nil {
		return fmt.Errorf("network namespace of %s: %w", n.Name, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("kubelet of %s exited at once; its log %s ends:%s", n.Name, log, logTail(log, 20))
		default:
		}
		got, err := netnsInode(fmt.Sprintf("/proc/%d/ns/net", d.id.PID))
		if err == nil && got == want {
			return nil
		}
		if time.Now().After(deadline) {
			_, _ = stopProcess(context.Background(), d.id, 0)
			return fmt.Errorf("kubelet of %s is not in network namespace %s (stopped it, so it does not program the host's network)", n.Name, n.Netns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StopKubelet stops node's kubelet (SIGTERM, then SIGKILL after 10 s). Its
// pods keep running, like with a real kubelet: a node whose kubelet is
// stopped goes NotReady, and StartKubelet brings it back.
func (c *NetnsCluster) StopKubelet(ctx context.Context, node string) error {
	c.mu.Lock()
	n, err := c.node(node)
	var id procID
	if err == nil {
		id = n.Kubelet
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := stopProcess(ctx, id, 10*time.Second); err != nil {
		return fmt.Errorf("stop kubelet of %s: %w", node, err)
	}
	return nil
}

// RestartKubelet stops node's kubelet and starts it again with the same
// flags: what a kubelet upgrade or crash looks like to the pods.
func (c *NetnsCluster) RestartKubelet(ctx context.Context, node string) error {
	if err := c.StopKubelet(ctx, node); err != nil {
		return err
	}
	return c.StartKubelet(node)
}

// waitNodesReady waits until every node reports Ready, reporting each as
// it gets there, and fails early (with its log) if a kubelet exits.
func (c *NetnsCluster) waitNodesReady(ctx context.Context) error {
	start := time.Now()
	cs, err := netnsClient(c.AdminKubeconfig)
	if err != nil {
		return err
	}
	ready := map[string]bool{}
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for len(ready) < len(c.Nodes) {
		for _, n := range c.state.Nodes {
			if !ready[n.Name] && !n.Kubelet.alive() {
				log := kubeletLog(c.Dir, n.Name)
				return fmt.Errorf("kubelet of %s exited; its log %s ends:%s", n.Name, log, logTail(log, 20))
			}
		}
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, node := range list.Items {
				if _, ours := c.kubelets[node.Name]; ours && !ready[node.Name] && nodeIsReady(&node) {
					ready[node.Name] = true
					c.opts.step(node.Name+" Ready", "podCIDR "+node.Spec.PodCIDR, start)
				}
			}
		}
		if len(ready) == len(c.Nodes) {
			break
		}
		if time.Now().After(deadline) {
			var waiting []string
			for _, n := range c.Nodes {
				if !ready[n.Name] {
					waiting = append(waiting, n.Name)
				}
			}
			return fmt.Errorf("nodes %s not Ready after %s (kubelet logs in %s)", strings.Join(waiting, ", "), c.opts.ReadyTimeout, filepath.Join(c.Dir, "logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// mergeKubeconfig copies the admin context into the user's kubeconfig,
// named after the cluster (kind and minikube do the same).
func (c *NetnsCluster) mergeKubeconfig(path string) error {
	cfg, err := clientcmd.LoadFromFile(c.AdminKubeconfig)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.AdminKubeconfig, err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
		return fmt.Errorf("%s: no complete current context", c.AdminKubeconfig)
	}
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	c.mu.Lock()
	c.state.Kubeconfig = path
	err = c.state.save()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	kc := pki.Kubeconfig{ClusterName: c.Name, Server: cl.Server, CAPEM: cl.CertificateAuthorityData,
		ClientCertPEM: user.ClientCertificateData, ClientKeyPEM: user.ClientKeyData, Token: user.Token}
	if err := kc.Merge(path); err != nil {
		return fmt.Errorf("merge context %q into %s: %w", c.Name, path, err)
	}
	return nil
}

// writePIDFile leaves the pid where a human looks for it
// (`kill $(cat controlplane.pid)`); the state file is what delete trusts.
func writePIDFile(path string, pid int) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		_ = os.WriteFile(path, fmt.Appendf(nil, "%d\n", pid), 0o644)
	}
}
