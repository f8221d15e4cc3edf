package cluster_test

import (
	"github.com/moby/sys/mountinfo"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/controllers"
	"github.com/kubelab/kubelab/components/kubelet"
	"github.com/kubelab/kubelab/components/kubelet/images/builtin"
)

// The node e2e tests share one cluster: a control plane the way `kubelab up
// --lab` starts it (etcd, API server, scheduler, every controller) and a
// real kubelet for this host, in this process. The kubelet is started here
// rather than with ControlPlane.StartKubelet (which runs it on the control
// plane's own context) so that TestKubeletRestartKeepsPods can stop and
// start it alone, over the same root dir, like a kubelet process restart.
//
// Two things differ from `up` so the tests can run next to a developer's
// own `kubelab up` on the same host: the bridge has a unique name and the
// node registers with a random pod /24 inside 10.200.0.0/16 (the node IPAM
// controller then treats it as taken instead of handing out 10.200.0.0/24,
// which that other cluster's cni0 already routes).

// e2eNode is the shared cluster.
type e2eNode struct {
	cp    *cluster.ControlPlane
	cfg   *rest.Config
	kube  kubernetes.Interface
	dir   string
	opts  kubelet.Options
	ip    net.IP
	start time.Time

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan error
	running bool
}

var shared struct {
	once sync.Once
	n    *e2eNode
	err  error
}

// node returns the shared cluster, starting it on first use. It skips when
// the tests cannot run here.
func node(t *testing.T) *e2eNode {
	t.Helper()
	if testing.Short() {
		t.Skip("node e2e: starts a control plane and a kubelet (run without -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("node e2e: the kubelet needs root (namespaces, mounts, cgroups); run as root")
	}
	shared.once.Do(func() { shared.n, shared.err = startNode() })
	if shared.err != nil {
		t.Fatalf("start the node e2e cluster: %v", shared.err)
	}
	return shared.n
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func startNode() (_ *e2eNode, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "kubelab-nodee2e-")
	if err != nil {
		return nil, err
	}
	n := &e2eNode{dir: dir, start: time.Now()}
	// Recorded before anything can fail, so TestMain tears down whatever
	// got started.
	shared.n = n
	ts := filepath.Join(dir, "testserver")
	if err := builtin.BuildTestServerBinary(ctx, "../..", ts); err != nil {
		return nil, err
	}
	os.Setenv("KUBELAB_TESTSERVER", ts)
	// The small monitor binary, as a node built by `make build` uses (the
	// test binary would do, at ~10x the cost per container start).
	mon := filepath.Join(dir, "kubelab-monitor")
	build := exec.CommandContext(ctx, filepath.Join(goruntime.GOROOT(), "bin", "go"), "build", "-o", mon, "./cmd/kubelab-monitor")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build kubelab-monitor: %w\n%s", err, out)
	}
	os.Setenv("KUBELAB_MONITOR", mon)

	id := randHex(3)
	o := cluster.ControlPlaneOptions{
		Name: "nodee2e-" + id, Dir: filepath.Join(dir, "cluster"), Port: -1, EtcdPort: -1,
		Controllers: []string{"*"}, Scheduler: true,
		ControllerSettings: controllers.Settings{AllocateNodeCIDRs: true, ClusterCIDRs: []string{"10.200.0.0/16"}},
	}
	cluster.LabTimings(&o)
	if n.cp, err = cluster.StartControlPlane(ctx, o); err != nil {
		return n, err
	}
	if n.cfg, err = clientcmd.BuildConfigFromFlags("", n.cp.AdminKubeconfig); err != nil {
		return n, err
	}
	n.cfg.QPS, n.cfg.Burst = 1000, 1000
	n.kube = kubernetes.NewForConfigOrDie(n.cfg)

	cidr, err := freePodCIDR()
	if err != nil {
		return n, err
	}
	port, err := freeTCPPort()
	if err != nil {
		return n, err
	}
	kdir := filepath.Join(n.cp.Dir, "node")
	n.opts = kubelet.Options{
		NodeName: "e2e-node", RootDir: filepath.Join(kdir, "root"), PodLogsDir: filepath.Join(kdir, "logs"),
		CgroupRoot: "kubelab/" + n.cp.Name, Port: port, Address: "0.0.0.0",
		ClusterDNS: []string{"10.32.0.10"}, NetworkMode: "none", PreloadImages: true,
		BridgeName: "kle2e" + id, PodCIDR: cidr, TestServerBinary: ts,
		NodeLeaseDurationSeconds: 4, NodeStatusUpdateFrequency: time.Second,
		// Where IssueNodeCredentials writes them (below, once the node's
		// address is known).
		TLSCertFile: filepath.Join(kdir, "pki", "kubelet.crt"), TLSPrivateKeyFile: filepath.Join(kdir, "pki", "kubelet.key"),
	}
	if err := n.opts.Defaults(); err != nil {
		return n, err
	}
	probe := n.opts
	if n.ip, err = kubelet.NodeIP(&probe); err != nil {
		return n, err
	}
	creds, err := cluster.IssueNodeCredentials(filepath.Join(n.cp.Dir, "pki"), filepath.Join(kdir, "pki"),
		n.cp.Name, n.cp.URL, n.opts.NodeName, []net.IP{n.ip})
	if err != nil {
		return n, err
	}
	n.opts.Kubeconfig, n.opts.TLSCertFile, n.opts.TLSPrivateKeyFile, n.opts.ClientCAFile = creds.Kubeconfig, creds.CertFile, creds.KeyFile, creds.CAFile
	if err := n.startKubelet(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// freePodCIDR picks a /24 in 10.200.0.0/16 that no interface here is on.
func freePodCIDR() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for range 50 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		third := 100 + int(b[0])%150
		_, cidr, _ := net.ParseCIDR(fmt.Sprintf("10.200.%d.0/24", third))
		taken := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && cidr.Contains(ipn.IP) {
				taken = true
			}
		}
		if !taken {
			return cidr.String(), nil
		}
	}
	return "", errors.New("no free /24 in 10.200.0.0/16")
}

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startKubelet runs a kubelet over n.opts (the same root dir every time)
// on a context of its own, and waits until the node is Ready with a
// heartbeat newer than this start.
func (n *e2eNode) startKubelet(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		return errors.New("kubelet already running")
	}
	k, err := kubelet.New(n.opts)
	if err != nil {
		return err
	}
	kctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done, n.running = cancel, make(chan error, 1), true
	go func() { n.done <- k.Run(kctx) }()
	select {
	case <-k.Ready():
	case err := <-n.done:
		n.running = false
		return fmt.Errorf("kubelet stopped while starting: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		node, err := n.kube.CoreV1().Nodes().Get(ctx, n.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// stopKubelet stops the kubelet process-equivalent: its pods keep running.
func (n *e2eNode) stopKubelet() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return nil
	}
	n.cancel()
	n.running = false
	select {
	case err := <-n.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("kubelet did not stop within 30s")
	}
}

// deleteAllPods deletes every pod (in ns, or everywhere when ns is "") with
// a short grace period and waits until the kubelet has removed them: it
// deletes a pod's object only after tearing the pod down.
func (n *e2eNode) deleteAllPods(ctx context.Context, ns string, timeout time.Duration) error {
	pods := n.kube.CoreV1().Pods(ns)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("delete pods: %w", err)
	}
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		left = left[:0]
		for _, p := range l.Items {
			left = append(left, p.Namespace+"/"+p.Name+" ("+string(p.Status.Phase)+")")
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("pods still there after %v: %s", timeout, strings.Join(left, ", "))
	}
	return nil
}

// teardown ends the shared cluster: pods first (the kubelet leaves running
// pods behind when it stops), then the kubelet, then the control plane,
// then a check that nothing is left mounted under the state dir. It
// returns what went wrong.
func (n *e2eNode) teardown() []error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The cluster's cgroup dirs (kubelab/<cluster>), found while pods
	// still hold them, to remove them with their kubelab/ parent at the end.
	var cgroupRoots []string
	if n.opts.CgroupRoot != "" {
		cgroupRoots = cgroupDirs(filepath.Dir(n.opts.CgroupRoot), filepath.Base(n.opts.CgroupRoot))
	}
	if n.kube != nil {
		if n.running {
			if err := n.deleteAllPods(ctx, "", 90*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := n.stopKubelet(); err != nil {
		errs = append(errs, err)
	}
	if n.cp != nil {
		n.cp.Stop()
	}
	if mounts := mountsUnder(n.dir); len(mounts) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under %s: %s", n.dir, strings.Join(mounts, ", ")))
	}
	// Whatever a failed test left behind (and the bridge, which a kubelet
	// keeps for its next start) goes, so the host is as we found it.
	if n.opts.RootDir != "" {
		if err := kubelet.TearDownNode(n.opts.RootDir, n.opts.CgroupRoot); err != nil {
			errs = append(errs, fmt.Errorf("tear down node: %w", err))
		}
		for _, d := range append(cgroupRoots, cgroupDirs(filepath.Dir(n.opts.CgroupRoot), filepath.Base(n.opts.CgroupRoot))...) {
			// rmdir fails on a non-empty cgroup, which is what we want;
			// kubelab/ goes too unless another cluster uses it.
			_ = os.Remove(d)
			_ = os.Remove(filepath.Dir(d))
		}
	}
	if mounts := mountsUnder(n.dir); len(mounts) == 0 {
		_ = os.RemoveAll(n.dir)
	} else {
		errs = append(errs, fmt.Errorf("mounts still under %s after TearDownNode, not removing it", n.dir))
	}
	return errs
}

// mountsUnder lists mount points at or below dir.
func mountsUnder(dir string) []string {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return []string{"read mountinfo: " + err.Error()}
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out
}

// cgroupDirs finds directories named name under the cgroup parent
// (relative to any process cgroup) in every mounted hierarchy.
func cgroupDirs(parent, name string) []string {
	var out []string
	for _, pat := range []string{"/sys/fs/cgroup/*/" + parent, "/sys/fs/cgroup/*/*/" + parent,
		"/sys/fs/cgroup/*/*/*/" + parent, "/sys/fs/cgroup/" + parent} {
		m, _ := filepath.Glob(filepath.Join(pat, name))
		out = append(out, m...)
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if n := shared.n; n != nil {
		for _, err := range n.teardown() {
			fmt.Fprintln(os.Stderr, "node e2e teardown:", err)
			code = 1
		}
	}
	os.Exit(code)
}
