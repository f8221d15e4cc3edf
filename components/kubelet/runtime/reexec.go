package runtime

import (
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"

	// The devices cgroup controller must be registered, or the v1 devices
	// cgroup cannot be programmed and container creation fails.
	_ "github.com/opencontainers/cgroups/devices"
	// nsenter is a C constructor that runs before the Go runtime in the
	// re-executed "init" process and joins/creates the namespaces.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// monitorArg is argv[1] of a container monitor process.
const monitorArg = "kubelab-container-monitor"

// init turns this binary into libcontainer's container init or into a
// container monitor when it was re-executed as one. It does nothing in any
// other case: package init functions also run in those re-executed
// processes, so they must stay free of side effects.
func init() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "init":
		libcontainer.Init() // never returns
	case monitorArg:
		os.Exit(runMonitor(os.Args[2:]))
	}
}

// MonitorBinaryName is the small program (cmd/kubelab-monitor) that does
// only what the monitor and libcontainer's init need. Any binary importing
// this package can play that part (it re-executes itself by default), but
// starting the kubelet's or kubelab's 100 MB binary twice per container,
// with the init functions of every Kubernetes package it holds, costs
// ~10x the CPU: it is what limits how fast a node starts many pods.
const MonitorBinaryName = "kubelab-monitor"

// FindMonitorBinary picks the monitor program: $KUBELAB_MONITOR, else
// kubelab-monitor next to this executable, else this executable itself.
func FindMonitorBinary() string {
	if p := os.Getenv("KUBELAB_MONITOR"); p != "" {
		return p
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), MonitorBinaryName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return "/proc/self/exe"
}
