package runtime

import (
	"os"

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
