package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/pki"
)

// Delete removes the cluster and everything its nodes left behind (see
// DeleteNetnsCluster). Calling it twice is fine.
func (c *NetnsCluster) Delete(ctx context.Context) error {
	c.mu.Lock()
	s := *c.state
	s.Nodes = slices.Clone(c.state.Nodes)
	c.mu.Unlock()
	_, err := deleteCluster(ctx, &s, c.opts.Progress)
	return err
}

// DeleteNetnsCluster removes the cluster o names (by Name and Dir): its
// kubelets, every process left in its nodes (pods, container monitors),
// its control plane, the mounts under its state directory, its cgroups
// (kubelab/<name> in every hierarchy), its network namespaces, bridge and
// veths, its kubeconfig context, and the state directory. It works from
// the state file, or from the naming rules when a crash lost it. It
// returns what it removed; a cluster that is not there is not an error.
func DeleteNetnsCluster(ctx context.Context, o NetnsOptions) ([]string, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("deleting a cluster needs root (network namespaces, mounts, cgroups): run it with sudo")
	}
	s, err := loadState(o.Dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			slog.Warn("cluster state unreadable; deleting by name", "err", err)
		}
		s = derivedState(o)
	}
	if s.Kubeconfig == "" {
		s.Kubeconfig = o.Kubeconfig
	}
	// Namespaces of nodes the state does not list (a crash between making
	// a namespace and saving the state cannot happen, but a hand-made
	// `ip netns add kubelab-<name>-node-9` can).
	known := map[string]bool{}
	for _, n := range s.Nodes {
		known[n.Netns] = true
	}
	for _, ns := range listNetns(netnsNamePattern(s.Name).MatchString) {
		if !known[ns] {
			i, _ := strconv.Atoi(ns[strings.LastIndex(ns, "-")+1:])
			s.Nodes = append(s.Nodes, nodeState{Name: netnsNodeName(s.Name, i), Netns: ns, HostVeth: hostVethName(s.Name, i)})
		}
	}
	return deleteCluster(ctx, s, o.Progress)
}

// derivedState rebuilds what the naming rules say a cluster has.
func derivedState(o NetnsOptions) *netnsState {
	s := &netnsState{Name: o.Name, Dir: o.Dir, Bridge: bridgeName(o.Name), CgroupParents: selfCgroupPaths()}
	// The API server listens on the bridge's address: that identifies the
	// kubeconfig context to remove.
	if br, err := netlink.LinkByName(s.Bridge); err == nil {
		if addrs, err := netlink.AddrList(br, netlink.FAMILY_V4); err == nil && len(addrs) > 0 {
			s.HostIP = addrs[0].IP.String()
		}
	}
	return s
}

// deleteCluster undoes s, reporting every removed thing. It goes on after
// errors (each step makes the next more likely to succeed) and returns
// them all.
func deleteCluster(ctx context.Context, s *netnsState, progress func(NetnsStep)) ([]string, error) {
	var removed []string
	var errs []error
	report := func(name, detail string, start time.Time) {
		removed = append(removed, strings.TrimSpace(name+" "+detail))
		if progress != nil {
			progress(NetnsStep{Name: name, Detail: detail, Took: time.Since(start)})
		}
	}

	// Processes first: they hold mounts, cgroups and namespaces.
	for _, n := range s.Nodes {
		start := time.Now()
		stopped, err := stopProcess(ctx, n.Kubelet, 10*time.Second)
		errs = append(errs, err)
		if stopped {
			report("kubelet "+n.Name, fmt.Sprintf("stopped (pid %d)", n.Kubelet.PID), start)
		}
	}
	start := time.Now()
	stopped, err := stopProcess(ctx, s.ControlPlane, 20*time.Second)
	errs = append(errs, err)
	if stopped {
		report("control plane", fmt.Sprintf("stopped (pid %d)", s.ControlPlane.PID), start)
	}
	start = time.Now()
	mounts, err := readMountInfo()
	errs = append(errs, err)
	cgDirs := cgroupClusterDirs(mounts, append(slices.Clone(s.CgroupParents), selfCgroupPaths()...), cgroupRoot(s.Name))
	if n, err := killLeftovers(ctx, s, mounts, cgDirs); n > 0 || err != nil {
		errs = append(errs, err)
		report("processes", fmt.Sprintf("%d killed (pods, container monitors, daemons of the cluster)", n), start)
	}

	start = time.Now()
	unmounted, err := unmountUnder(s.Dir)
	errs = append(errs, err)
	if len(unmounted) > 0 {
		report("mounts", fmt.Sprintf("%d unmounted under %s", len(unmounted), s.Dir), start)
	}
	start = time.Now()
	if n, err := removeCgroupsRetry(ctx, cgDirs); n > 0 || err != nil {
		errs = append(errs, err)
		report("cgroups", fmt.Sprintf("%d removed under %s", n, cgroupRoot(s.Name)), start)
	}

	for _, n := range s.Nodes {
		start := time.Now()
		gone, err := deleteNetns(n.Netns)
		errs = append(errs, err)
		if gone {
			report("netns", n.Netns, start)
		}
	}
	for _, n := range s.Nodes {
		start := time.Now()
		// Normally gone with its namespace's end.
		if gone, err := deleteLink(n.HostVeth); gone || err != nil {
			errs = append(errs, err)
			report("veth", n.HostVeth, start)
		}
	}
	start = time.Now()
	if gone, err := deleteLink(s.Bridge); gone || err != nil {
		errs = append(errs, err)
		report("bridge", s.Bridge, start)
	}

	start = time.Now()
	if removedCtx, err := removeKubeconfigContext(s); removedCtx || err != nil {
		errs = append(errs, err)
		report("kubeconfig", fmt.Sprintf("context %q removed from %s", s.Name, s.Kubeconfig), start)
	}

	start = time.Now()
	if gone, err := removeStateDir(s.Dir); gone || err != nil {
		errs = append(errs, err)
		report("state", s.Dir, start)
	}
	return removed, errors.Join(errs...)
}

// killLeftovers SIGKILLs, until none is left, every process in the
// cluster's cgroups or node and pod network namespaces, and any kubelab or
// kubelet whose arguments point into the state directory (a control plane
// or kubelet the state file lost track of).
func killLeftovers(ctx context.Context, s *netnsState, mounts []mountInfo, cgDirs []string) (int, error) {
	nsDev, hostIno, err := hostNetns()
	if err != nil {
		return 0, err
	}
	netns := map[uint64]bool{}
	for _, n := range s.Nodes {
		var st syscall.Stat_t
		if syscall.Stat(netnsPath(n.Netns), &st) == nil && st.Dev == nsDev {
			netns[st.Ino] = true
		}
	}
	for _, ino := range nsfsInodes(mounts, s.Dir) {
		netns[ino] = true
	}
	// Never everything on the host, whatever a broken state file says.
	delete(netns, hostIno)
	thawFreezers(cgDirs)

	marker := "/" + cgroupRoot(s.Name) + "/"
	killed := map[int]bool{}
	for range 50 {
		pids := clusterProcesses(marker, netns)
		pids = append(pids, daemonsUsing(s.Dir)...)
		if len(pids) == 0 {
			return len(killed), nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		select {
		case <-ctx.Done():
			return len(killed), ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return len(killed), fmt.Errorf("processes of cluster %s still alive after 5s of SIGKILL", s.Name)
}

// hostNetns identifies this process's network namespace (and the nsfs
// device, to tell a real namespace file from an empty leftover file).
func hostNetns() (dev, ino uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		return 0, 0, fmt.Errorf("own network namespace: %w", err)
	}
	return st.Dev, st.Ino, nil
}

// daemonsUsing lists kubelab and kubelet processes with an argument at or
// under dir.
func daemonsUsing(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || zombie(pid) {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if b := filepath.Base(strings.TrimSuffix(exe, " (deleted)")); err != nil || (b != "kubelab" && b != "kubelet") {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		for arg := range strings.SplitSeq(string(cmdline), "\x00") {
			if arg == dir || strings.HasPrefix(arg, dir+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// removeCgroupsRetry removes the cgroup trees, retrying while the kernel
// finishes tearing down just-killed tasks (rmdir says EBUSY until then).
func removeCgroupsRetry(ctx context.Context, dirs []string) (int, error) {
	total := 0
	for attempt := 0; ; attempt++ {
		n, err := removeCgroupTrees(dirs)
		total += n
		if err == nil || attempt == 20 {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removeKubeconfigContext removes the cluster's context from the user's
// kubeconfig — but only if it still points at this cluster's API server:
// a `kubelab up` cluster of the same name owns a context of the same name.
func removeKubeconfigContext(s *netnsState) (bool, error) {
	if s.Kubeconfig == "" || s.HostIP == "" {
		return false, nil
	}
	cfg, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("read kubeconfig %s: %w", s.Kubeconfig, err)
	}
	ctx := cfg.Contexts[s.Name]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return false, nil
	}
	u, err := url.Parse(cfg.Clusters[ctx.Cluster].Server)
	if err != nil || !net.ParseIP(u.Hostname()).Equal(net.ParseIP(s.HostIP)) {
		return false, nil
	}
	if err := pki.RemoveContext(s.Kubeconfig, s.Name); err != nil {
		return false, err
	}
	return true, nil
}

// removeStateDir removes the state directory, unless something is still
// mounted under it: RemoveAll would walk into the mount and delete what
// it shows (a hostPath volume is a bind mount of a host directory).
func removeStateDir(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	mounts, err := readMountInfo()
	if err != nil {
		return false, err
	}
	if left := mountsUnder(mounts, dir); len(left) > 0 {
		return false, fmt.Errorf("not removing %s: still mounted under it: %s", dir, strings.Join(left, ", "))
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("remove %s: %w", dir, err)
	}
	return true, nil
}
