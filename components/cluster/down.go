package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/kubelet"
	"github.com/kubelab/kubelab/components/pki"
)

// `kubelab up` writes upPIDFile into its state dir while it runs, so that
// `kubelab down` can stop it from another terminal.
const upPIDFile = "up.pid"

// upCgroupRoot is where the pods of `kubelab up --name <name> --dir <dir>`
// live: apart from `kubelab cluster create`'s kubelab/<name>, and with a
// hash of the state dir, so two clusters never share a cgroup tree (and
// `kubelab down` of one never touches the other's pods).
func upCgroupRoot(name, dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "kubelab-up/" + name + "-" + hex.EncodeToString(sum[:4])
}

// WriteUpPID records the running `kubelab up` (this process) in dir.
func WriteUpPID(dir string) error {
	st, err := procStartTime(os.Getpid())
	if err != nil {
		return err
	}
	data, _ := json.Marshal(procID{PID: os.Getpid(), StartTime: st})
	return os.WriteFile(filepath.Join(dir, upPIDFile), data, 0o644)
}

// RemoveUpPID forgets the running `kubelab up` (on a clean stop).
func RemoveUpPID(dir string) { _ = os.Remove(filepath.Join(dir, upPIDFile)) }

// DownOptions name the `kubelab up` cluster to remove.
type DownOptions struct {
	Name, Dir string
	// Kubeconfig has the context `up` merged in; it is removed if it still
	// points at this cluster.
	Kubeconfig string
	Progress   func(NetnsStep)
}

// Down removes a `kubelab up` cluster for good: it stops a running `up`,
// then everything its kubelet leaves running by design (pod containers and
// their monitors, the pod network's bridge and routes, mounts, cgroups),
// the kubeconfig context and the state directory (etcd's data included).
// It returns what it removed; a cluster that is not there is not an error.
func Down(ctx context.Context, o DownOptions) ([]string, error) {
	if o.Dir == "" {
		return nil, errors.New("down needs the cluster's state directory")
	}
	if _, err := os.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("removing a cluster with a node needs root (namespaces, mounts, cgroups): run it with sudo")
	}
	var removed []string
	var errs []error
	report := func(name, detail string, start time.Time) {
		removed = append(removed, strings.TrimSpace(name+" "+detail))
		if o.Progress != nil {
			o.Progress(NetnsStep{Name: name, Detail: detail, Took: time.Since(start)})
		}
	}

	start := time.Now()
	if data, err := os.ReadFile(filepath.Join(o.Dir, upPIDFile)); err == nil {
		var p procID
		if json.Unmarshal(data, &p) == nil {
			stopped, err := stopProcess(ctx, p, 20*time.Second)
			errs = append(errs, err)
			if stopped {
				report("kubelab up", fmt.Sprintf("stopped (pid %d)", p.PID), start)
			}
		}
	}

	start = time.Now()
	root := filepath.Join(o.Dir, "node", "root")
	if _, err := os.Stat(root); err == nil {
		if err := kubelet.TearDownNode(root, upCgroupRoot(o.Name, o.Dir)); err != nil {
			errs = append(errs, err)
		} else {
			report("node", "pods stopped, pod network removed", start)
		}
	}

	// Whatever the runtime did not know about (a crash mid-start).
	start = time.Now()
	s := &netnsState{Name: o.Name, Dir: o.Dir, CgroupParents: selfCgroupPaths()}
	mounts, err := readMountInfo()
	errs = append(errs, err)
	cgDirs := cgroupClusterDirs(mounts, slices.Clone(s.CgroupParents), upCgroupRoot(o.Name, o.Dir))
	if n, err := killLeftovers(ctx, s, mounts, cgDirs); n > 0 || err != nil {
		errs = append(errs, err)
		report("processes", fmt.Sprintf("%d killed", n), start)
	}
	start = time.Now()
	if unmounted, err := unmountUnder(o.Dir); len(unmounted) > 0 || err != nil {
		errs = append(errs, err)
		report("mounts", fmt.Sprintf("%d unmounted under %s", len(unmounted), o.Dir), start)
	}
	start = time.Now()
	if n, err := removeCgroupsRetry(ctx, cgDirs); n > 0 || err != nil {
		errs = append(errs, err)
		report("cgroups", fmt.Sprintf("%d removed under %s", n, upCgroupRoot(o.Name, o.Dir)), start)
	}

	start = time.Now()
	if ok, err := removeUpContext(o); ok || err != nil {
		errs = append(errs, err)
		report("kubeconfig", fmt.Sprintf("context %q removed from %s", o.Name, o.Kubeconfig), start)
	}
	start = time.Now()
	if gone, err := removeStateDir(o.Dir); gone || err != nil {
		errs = append(errs, err)
		report("state", o.Dir, start)
	}
	return removed, errors.Join(errs...)
}

// removeUpContext removes the context `up` merged, if it still points at
// this cluster's API server (the one in Dir/admin.kubeconfig).
func removeUpContext(o DownOptions) (bool, error) {
	if o.Kubeconfig == "" {
		return false, nil
	}
	admin, err := clientcmd.LoadFromFile(filepath.Join(o.Dir, "admin.kubeconfig"))
	if err != nil {
		return false, nil
	}
	cfg, err := clientcmd.LoadFromFile(o.Kubeconfig)
	if err != nil {
		return false, nil
	}
	ctx := cfg.Contexts[o.Name]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return false, nil
	}
	want := ""
	for _, c := range admin.Clusters {
		want = c.Server
	}
	got, err1 := url.Parse(cfg.Clusters[ctx.Cluster].Server)
	mine, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || got.Host != mine.Host {
		return false, nil
	}
	return true, pki.RemoveContext(o.Kubeconfig, o.Name)
}
