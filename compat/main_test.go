// Package compat runs the real kubectl (built from the k8s.io/kubectl module,
// see cmd/kubectl) against a kubelab control plane and checks what it prints.
//
// One control plane serves the whole suite (TestMain). Every test works in
// namespaces of its own (newNamespace), so tests run in any order and in
// parallel. kubectl comes from $KUBECTL (`make test` sets it); without it the
// suite builds one into a temporary directory, which takes about 2 minutes.
//
// When a test fails, rerun it alone with KUBECTL_VERBOSE=8 to have every
// kubectl call log its requests and responses (-v=8).
package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/hollownode"
)

var (
	// kubectlPath is the kubectl binary under test.
	kubectlPath string
	// adminKubeconfig is the control plane's admin kubeconfig.
	adminKubeconfig string
	// serverURL is the API server's URL.
	serverURL string
	// suiteDir holds the kubectl home, the discovery caches and manifests.
	suiteDir string
)

// kubeVersion is the version the Makefile stamps into kubectl.
const kubeVersion = "v1.37.2"

// Controllers that some tests need; the control plane below runs them
// in-process, as `kubelab up` does.
const (
	// haveGarbageCollector: components/controllers/garbagecollector
	// (delete --cascade=orphan|foreground|background).
	haveGarbageCollector = true
	// haveNamespaceController: emptying and removing a deleted namespace.
	haveNamespaceController = true
)

// nodePrefix names the suite's hollow nodes (compat-node-0..2): Node
// objects whose pods an in-process agent reports Running and Ready, so
// Deployments roll out and Jobs complete without containers.
const nodePrefix = "compat-node-"

// realNode is a kubelet that runs real containers (only when the suite runs
// as root); its taint keeps other tests' pods off it.
const (
	realNode      = "compat-real"
	realNodeTaint = "kubelab.dev/real-node"
)

var haveRealNode bool

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kubelab-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	suiteDir = dir

	if kubectlPath, err = findKubectl(dir); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{
		Name:        "compat",
		Dir:         filepath.Join(dir, "cluster"),
		Port:        -1,
		EtcdPort:    -1,
		Controllers: []string{"*"},
		Scheduler:   true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat: start control plane:", err)
		return 1
	}
	defer func() {
		cp.Stop()
		if haveRealNode {
			// The kubelet leaves its network and any pod it ran behind by
			// design; remove them so the next run starts clean.
			if _, err := cluster.Down(context.Background(), cluster.DownOptions{Name: "compat", Dir: cp.Dir}); err != nil {
				fmt.Fprintln(os.Stderr, "compat: remove the real node:", err)
			}
		}
	}()
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	nodes, err := hollownode.Start(context.Background(), cfg, hollownode.Options{Count: 3, NamePrefix: nodePrefix, Cleanup: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat: start hollow nodes:", err)
		return 1
	}
	defer nodes.Stop()
	if os.Geteuid() == 0 {
		// One real node, tainted so only the pods of logs_exec_test.go
		// (which tolerate it) run containers; the rest stay on hollow nodes.
		// Its own bridge and pod CIDR, so the suite runs beside a
		// `kubelab up` of the user's (cni0, 10.200.0.0/24).
		if _, err := cp.StartKubelet(ctx, cluster.LocalKubeletOptions{NodeName: realNode, Port: -1,
			Bridge: "klcompat0", PodCIDR: "10.200.250.0/24",
			Taints: []corev1.Taint{{Key: realNodeTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}}); err != nil {
			fmt.Fprintln(os.Stderr, "compat: start the kubelet:", err)
			return 1
		}
		haveRealNode = true
		defer cleanupRealNode(cfg)
	}
	adminKubeconfig, serverURL = cp.AdminKubeconfig, cp.URL
	fmt.Fprintf(os.Stderr, "compat: control plane at %s (started in %s), kubectl %s\n",
		cp.URL, time.Since(start).Round(time.Millisecond), kubectlPath)
	return m.Run()
}

// findKubectl returns $KUBECTL, or builds kubectl into dir.
func findKubectl(dir string) (string, error) {
	if p := os.Getenv("KUBECTL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$KUBECTL: %w", err)
		}
		return p, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "kubectl")
	ldflags := "-X k8s.io/component-base/version.gitVersion=" + kubeVersion +
		" -X k8s.io/client-go/pkg/version.gitVersion=" + kubeVersion
	fmt.Fprintln(os.Stderr, "compat: $KUBECTL is not set; building kubectl (about 2 minutes)")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/kubectl")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build kubectl: %w", err)
	}
	return out, nil
}

// result is what one kubectl run printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

// err is nil when kubectl exited 0.
func (r result) err() error {
	if r.Code != 0 {
		return errorf("exit %d: %s", r.Code, r.Stderr)
	}
	return nil
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// caches maps a top-level test to its discovery cache directory.
var caches sync.Map

// cacheDir is the test's own --cache-dir, emptied when the test first asks
// for it, so no test sees discovery cached by another.
func cacheDir(t *testing.T) string {
	root, _, _ := strings.Cut(t.Name(), "/")
	dir := filepath.Join(suiteDir, "cache", root)
	if _, loaded := caches.LoadOrStore(root, true); !loaded {
		os.RemoveAll(dir)
	}
	return dir
}

// resetCache empties the test's discovery cache (after a CRD changes what
// the server serves, say).
func resetCache(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(cacheDir(t)); err != nil {
		t.Fatal(err)
	}
}

// command builds a kubectl command talking to the suite's control plane as
// admin, isolated from the user's ~/.kube.
func command(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	full := []string{"--kubeconfig", adminKubeconfig, "--cache-dir", cacheDir(t)}
	if v := os.Getenv("KUBECTL_VERBOSE"); v != "" {
		full = append(full, "-v="+v)
	}
	cmd := exec.CommandContext(ctx, kubectlPath, append(full, args...)...)
	env := []string{"HOME=" + filepath.Join(suiteDir, "home"), "KUBERC=off", "NO_COLOR=1"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || strings.HasPrefix(k, "KUBE") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// kubectl runs kubectl with args and returns what it printed. It never fails
// the test by itself: callers assert on the result.
func kubectl(t *testing.T, args ...string) result {
	t.Helper()
	return kubectlStdin(t, "", args...)
}

// kubectlStdin is kubectl with stdin (for `-f -`).
func kubectlStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, t, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("kubectl %s: timed out after %s\n%s", strings.Join(args, " "), time.Since(start), r)
	}
	switch {
	case os.Getenv("KUBECTL_VERBOSE") != "":
		t.Logf("$ kubectl %s  (%s)\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), r)
	case testing.Verbose():
		t.Logf("$ kubectl %s  (%s, exit %d)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), r.Code)
	}
	return r
}

// mustKubectl runs kubectl and fails the test unless it exits 0; it returns
// stdout.
func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	r := kubectl(t, args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s failed:\n%s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// mustFail runs kubectl, expects a non-zero exit, and returns stderr.
func mustFail(t *testing.T, args ...string) string {
	t.Helper()
	r := kubectl(t, args...)
	if r.Code == 0 {
		t.Fatalf("kubectl %s succeeded, want an error:\n%s", strings.Join(args, " "), r)
	}
	return r.Stderr
}

// newNamespace creates a namespace named prefix-<random> with kubectl.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := uniqueName(prefix)
	out := mustKubectl(t, "create", "namespace", ns)
	wantLine(t, out, "namespace/"+ns+" created")
	return ns
}

func uniqueName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// manifest returns testdata/name with every old→new replacement applied,
// written to a file of its own (kubectl names the file in its messages).
func manifest(t *testing.T, name string, replacements ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		if !strings.Contains(s, replacements[i]) {
			t.Fatalf("manifest %s has no %q to replace", name, replacements[i])
		}
		s = strings.ReplaceAll(s, replacements[i], replacements[i+1])
	}
	if len(replacements) == 0 {
		abs, _ := filepath.Abs(filepath.Join("testdata", name))
		return abs
	}
	return writeFile(t, name, s)
}

// writeFile writes content to a fresh file named name in a temp directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantLine fails unless out has a line equal to want (spaces trimmed).
func wantLine(t *testing.T, out, want string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return
		}
	}
	t.Errorf("want the line %q in:\n%s", want, out)
}

// wantContains fails unless out contains every one of want.
func wantContains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("want %q in:\n%s", w, out)
		}
	}
}

// wantNotContains fails if out contains any of bad.
func wantNotContains(t *testing.T, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("did not want %q in:\n%s", b, out)
		}
	}
}

// wantMatch fails unless out matches every regular expression.
func wantMatch(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("want a match for /%s/ in:\n%s", re, out)
		}
	}
}

// wantEqual fails unless got == want (after trimming spaces).
func wantEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != want {
		t.Errorf("%s = %q, want %q", what, strings.TrimSpace(got), want)
	}
}

// jsonpath returns `kubectl get <args> -o jsonpath=<expr>`.
func jsonpath(t *testing.T, expr string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(mustKubectl(t, append(append([]string{"get"}, args...), "-o", "jsonpath="+expr)...))
}

// getJSON returns `kubectl get <args> -o json` decoded.
func getJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := mustKubectl(t, append(append([]string{"get"}, args...), "-o", "json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("kubectl get %v -o json: %v\n%s", args, err, out)
	}
	return m
}

// table is kubectl's human-readable output split into cells.
type table struct {
	Header []string
	Rows   [][]string
}

var cellSep = regexp.MustCompile(`\S+( \S+)*`)

// parseTable splits kubectl's column output. kubectl aligns columns with a
// tabwriter, so a cell starts where its header does (headers may hold one
// space, like "NOMINATED NODE"; empty cells stay empty).
func parseTable(t *testing.T, out string) table {
	t.Helper()
	var tb table
	var starts []int
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if tb.Header == nil {
			for _, loc := range cellSep.FindAllStringIndex(l, -1) {
				starts = append(starts, loc[0])
				tb.Header = append(tb.Header, l[loc[0]:loc[1]])
			}
			continue
		}
		row := make([]string, len(starts))
		for i, s := range starts {
			if s >= len(l) {
				break
			}
			end := len(l)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			row[i] = strings.TrimSpace(l[s:end])
		}
		tb.Rows = append(tb.Rows, row)
	}
	if tb.Header == nil {
		t.Fatalf("no table in kubectl output:\n%q", out)
	}
	return tb
}

// wantHeader fails unless the table's header is exactly want.
func (tb table) wantHeader(t *testing.T, want ...string) {
	t.Helper()
	if strings.Join(tb.Header, "|") != strings.Join(want, "|") {
		t.Errorf("header = %q, want %q", tb.Header, want)
	}
}

// row returns the row whose cell in column col equals v.
func (tb table) row(t *testing.T, col, v string) map[string]string {
	t.Helper()
	idx := -1
	for i, h := range tb.Header {
		if h == col {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no column %q in header %q", col, tb.Header)
	}
	for _, r := range tb.Rows {
		if idx < len(r) && r[idx] == v {
			m := map[string]string{}
			for i, h := range tb.Header {
				if i < len(r) {
					m[h] = r[i]
				}
			}
			return m
		}
	}
	t.Fatalf("no row with %s=%q in %q", col, v, tb.Rows)
	return nil
}

// column returns the cells of the named column.
func (tb table) column(name string) []string {
	var out []string
	for i, h := range tb.Header {
		if h != name {
			continue
		}
		for _, r := range tb.Rows {
			if i < len(r) {
				out = append(out, r[i])
			}
		}
	}
	return out
}

// names returns the NAME column.
func (tb table) names() []string {
	idx := 0
	for i, h := range tb.Header {
		if h == "NAME" {
			idx = i
		}
	}
	var out []string
	for _, r := range tb.Rows {
		if idx < len(r) {
			out = append(out, r[idx])
		}
	}
	return out
}

// background is a kubectl left running (get -w), its output read line by line.
type background struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string
	mu     sync.Mutex
	seen   []string
	stderr bytes.Buffer
}

// startKubectl starts kubectl in the background; it is killed when the test
// ends (or by stop).
func startKubectl(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	b := &background{cancel: cancel, lines: make(chan string, 1000)}
	b.cmd = command(ctx, t, args...)
	b.cmd.Stderr = &b.stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(b.lines)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop kills the background kubectl and waits for it.
func (b *background) stop() {
	b.cancel()
	b.cmd.Wait()
}

// expect waits up to timeout for an output line matching re, and returns it.
func (b *background) expect(t *testing.T, re string, timeout time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("kubectl %v ended before printing a line matching /%s/; printed:\n%s\nstderr:\n%s",
					b.cmd.Args[5:], re, b.output(), b.stderr.String())
			}
			b.mu.Lock()
			b.seen = append(b.seen, l)
			b.mu.Unlock()
			if rx.MatchString(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("kubectl %v printed no line matching /%s/ in %s; printed:\n%s\nstderr:\n%s",
				b.cmd.Args[5:], re, timeout, b.output(), b.stderr.String())
		}
	}
}

// quiet fails if kubectl prints a line matching re within d.
func (b *background) quiet(t *testing.T, re string, d time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				return
			}
			b.mu.Lock()
			b.seen = append(b.seen, l)
			b.mu.Unlock()
			if rx.MatchString(l) {
				t.Errorf("kubectl %v printed %q, want no line matching /%s/", b.cmd.Args[5:], l, re)
			}
		case <-deadline:
			return
		}
	}
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.seen, "\n")
}

// eventually retries f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// stripColor removes terminal colour codes (cluster-info prints them).
func stripColor(s string) string { return ansi.ReplaceAllString(s, "") }

// defaultWait bounds the waits for asynchronous work (controllers).
const defaultWait = 30 * time.Second

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// cleanupRealNode deletes every pod on the real node and waits for them to
// go: the kubelet leaves containers running when it stops, by design.
func cleanupRealNode(cfg *rest.Config) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sel := metav1.ListOptions{FieldSelector: "spec.nodeName=" + realNode}
	pods, err := cs.CoreV1().Pods("").List(ctx, sel)
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		_ = cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	}
	for ctx.Err() == nil {
		if pods, err := cs.CoreV1().Pods("").List(ctx, sel); err == nil && len(pods.Items) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "compat: pods on the real node did not go away in 60s")
}
