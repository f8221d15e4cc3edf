package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const sampleMountInfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory
31 22 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw
40 22 0:4 net:[4026532300] /var/run/netns/kubelab-t1-node-0 rw shared:20 - nsfs nsfs rw
41 22 0:50 / /s/t1/nodes/node-0/root/pods/p1/rootfs rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
42 22 0:4 net:[4026532400] /s/t1/nodes/node-0/root/pods/p1/ns/net rw - nsfs nsfs rw
43 22 0:4 uts:[4026532401] /s/t1/nodes/node-0/root/pods/p1/ns/uts rw - nsfs nsfs rw
44 41 0:51 / /s/t1/nodes/node-0/root/pods/p1/rootfs/proc rw - proc proc rw
45 22 8:1 /data /s/t1/nodes/node-0/root/pods/p1/volumes/with\040space rw master:3 - ext4 /dev/vda rw
46 22 0:52 / /s/t1 rw - tmpfs tmpfs rw
47 46 0:53 / /s/t1 rw - tmpfs tmpfs rw
48 22 0:54 / /s/t10/other rw - tmpfs tmpfs rw
`

func TestParseMountInfo(t *testing.T) {
	t.Parallel()
	mounts, err := parseMountInfo(strings.NewReader(sampleMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 12 {
		t.Fatalf("got %d mounts, want 12", len(mounts))
	}
	want := mountInfo{Root: "/", MountPoint: "/sys/fs/cgroup/memory", FSType: "cgroup", Source: "cgroup", SuperOptions: "rw,memory"}
	if mounts[1] != want {
		t.Errorf("mount 1 = %+v, want %+v", mounts[1], want)
	}
	if got := mounts[8].MountPoint; got != "/s/t1/nodes/node-0/root/pods/p1/volumes/with space" {
		t.Errorf("escaped mount point = %q", got)
	}
	if _, err := parseMountInfo(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("malformed line: no error")
	}
}

func TestMountsUnder(t *testing.T) {
	t.Parallel()
	mounts, err := parseMountInfo(strings.NewReader(sampleMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	got := mountsUnder(mounts, "/s/t1/")
	want := []string{
		"/s/t1/nodes/node-0/root/pods/p1/volumes/with space", // deepest first, then later mounts first
		"/s/t1/nodes/node-0/root/pods/p1/rootfs/proc",
		"/s/t1/nodes/node-0/root/pods/p1/ns/uts",
		"/s/t1/nodes/node-0/root/pods/p1/ns/net",
		"/s/t1/nodes/node-0/root/pods/p1/rootfs",
		"/s/t1", "/s/t1", // stacked: unmounted twice; /s/t10 is not under /s/t1
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder:\n got %q\nwant %q", got, want)
	}
	if inos := nsfsInodes(mounts, "/s/t1"); !reflect.DeepEqual(inos, []uint64{4026532400}) {
		t.Errorf("nsfsInodes = %v, want only the pod's network namespace", inos)
	}
}

func TestCgroupClusterDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("memory/parent/kubelab/t1/node-0/pod-a/c1")
	mk("memory/kubelab/t1/node-1")
	mk("cpu/kubelab/t1")
	mk("cpu/kubelab/t10") // another cluster
	mk("unified/x")
	mounts := []mountInfo{
		{Root: "/", MountPoint: filepath.Join(root, "memory"), FSType: "cgroup"},
		{Root: "/", MountPoint: filepath.Join(root, "cpu"), FSType: "cgroup"},
		{Root: "/", MountPoint: filepath.Join(root, "unified"), FSType: "cgroup2"},
		{Root: "/", MountPoint: root, FSType: "tmpfs"},
	}
	got := cgroupClusterDirs(mounts, []string{"/parent", "/"}, "kubelab/t1")
	want := []string{
		filepath.Join(root, "memory/parent/kubelab/t1"),
		filepath.Join(root, "memory/kubelab/t1"),
		filepath.Join(root, "cpu/kubelab/t1"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cgroupClusterDirs:\n got %q\nwant %q", got, want)
	}

	tree, err := dirTreeDeepestFirst(want[0])
	if err != nil {
		t.Fatal(err)
	}
	wantTree := []string{"node-0/pod-a/c1", "node-0/pod-a", "node-0", ""}
	for i := range wantTree {
		wantTree[i] = filepath.Join(want[0], wantTree[i])
	}
	if !reflect.DeepEqual(tree, wantTree) {
		t.Errorf("dirTreeDeepestFirst:\n got %q\nwant %q", tree, wantTree)
	}
	// rmdir works on a plain directory tree too: everything goes, other
	// clusters' directories stay.
	if n, err := removeCgroupTrees(got); err != nil || n != 7 {
		t.Errorf("removeCgroupTrees = %d, %v; want 7 directories", n, err)
	}
	if _, err := os.Stat(filepath.Join(root, "cpu/kubelab/t10")); err != nil {
		t.Errorf("another cluster's cgroup went away: %v", err)
	}
}

func TestInCgroup(t *testing.T) {
	t.Parallel()
	procCgroup := "9:name=systemd:/\n4:memory:/process_api/abc/kubelab/t1/node-0/pod-x\n0::/\n"
	for marker, want := range map[string]bool{"/kubelab/t1/": true, "/kubelab/t10/": false, "/kubelab/node-0/": false} {
		if got := inCgroup(procCgroup, marker); got != want {
			t.Errorf("inCgroup(%q) = %v, want %v", marker, got, want)
		}
	}
	if !inCgroup("4:memory:/kubelab/t1\n", "/kubelab/t1/") {
		t.Error("the cluster's own top cgroup does not match")
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	line := "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10"
	state, fields, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if state != "S" || fields[18] != "987654" {
		t.Errorf("state %q, start time %q; want S, 987654", state, fields[18])
	}
	self, err := procStartTime(os.Getpid())
	if err != nil || self == 0 {
		t.Errorf("procStartTime(self) = %d, %v", self, err)
	}
	if !(procID{PID: os.Getpid(), StartTime: self}).alive() || (procID{PID: os.Getpid(), StartTime: self + 1}).alive() {
		t.Error("alive() does not tell this process from a reused pid")
	}
	if slices.Contains(clusterProcesses("/kubelab/no-such-cluster-xyz/", nil), os.Getpid()) {
		t.Error("clusterProcesses lists this process")
	}
}
