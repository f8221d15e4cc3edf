package apiserver_test

// Integration tests: a real kube-apiserver over a real etcd, driven with
// client-go exactly as controllers and kubectl drive it. TestMain starts one
// control plane (embedded etcd) shared by the tests; each test works in its
// own namespace. Tests that need an external etcd (Debian's 3.4) start one
// when the binary is installed.

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/cluster"
)

var (
	testCP     *cluster.ControlPlane
	testConfig *rest.Config
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kubelab-apiserver-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cp, err := cluster.StartControlPlane(context.Background(), cluster.ControlPlaneOptions{Name: "test", Dir: dir, Port: -1, EtcdPort: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start control plane:", err)
		os.Exit(1)
	}
	testCP = cp
	testConfig, err = clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testConfig.QPS, testConfig.Burst = 5000, 5000 // client-go's default 5/s would measure the client
	code := m.Run()
	cp.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup returns clients and a fresh namespace for one test.
func setup(t *testing.T) (context.Context, kubernetes.Interface, dynamic.Interface, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a control plane (run without -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cs := kubernetes.NewForConfigOrDie(testConfig)
	dc := dynamic.NewForConfigOrDie(testConfig)
	ns := "t-" + rand.String(8)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	return ctx, cs, dc, ns
}

// startDebianEtcd runs the system etcd (Debian's etcd-server package) in a
// temporary directory on free loopback ports, or skips the test.
func startDebianEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary on PATH (apt-get install etcd-server; hack/install-deps.sh does)")
	}
	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	cport, pport := port(), port()
	client := "http://127.0.0.1:" + strconv.Itoa(cport)
	peer := "http://127.0.0.1:" + strconv.Itoa(pport)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--data-dir", filepath.Join(dir, "data"), "--name", "test",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--log-level", "error")
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+os.Getenv("ETCD_UNSUPPORTED_ARCH"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(cport)); err == nil {
			c.Close()
			return client
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("etcd at %s did not start", client)
	return ""
}
