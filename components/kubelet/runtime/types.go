package runtime

import (
	"io"
	"time"
)

// The runtime's vocabulary. The kubelet's pod workers speak only these types
// (never libcontainer's), so the sync loop reads like the CRI: sandbox in,
// containers in, statuses out.

// SandboxConfig describes a pod's sandbox: the namespaces its containers
// share, and the pod-level cgroup that bounds them all.
type SandboxConfig struct {
	// PodUID names the sandbox; every path under the runtime root uses it.
	PodUID    string
	Namespace string
	Name      string
	// Hostname is set in the pod's UTS namespace (the pod name, or
	// spec.hostname).
	Hostname string
	// HostNetwork pods share the node's network namespace instead of a new one.
	HostNetwork bool
	// Resources bound the pod's cgroup (the sum of its containers' limits;
	// zero fields are unlimited).
	Resources Resources
}

// Sandbox is a pod's set of pinned namespaces.
type Sandbox struct {
	PodUID    string
	Namespace string
	Name      string
	// NetNS, UTSNS and IPCNS are bind-mounted namespace files (what
	// `ip netns add` makes); containers join them by path. NetNS is "" for
	// host-network pods.
	NetNS, UTSNS, IPCNS string
	// Dir is the sandbox's directory under the runtime root.
	Dir     string
	Created time.Time
}

// Resources are cgroup limits. Zero means unset.
type Resources struct {
	CPUShares   uint64 // cpu.shares: requests.cpu in millicores * 1024 / 1000, min 2
	CPUQuota    int64  // cfs quota in µs per CPUPeriod: limits.cpu
	CPUPeriod   uint64 // µs, 100000 when CPUQuota is set
	MemoryLimit int64  // bytes: limits.memory
	PidsLimit   int64
}

// Mount is a bind mount into a container.
type Mount struct {
	Source      string // a path on the node
	Destination string // a path in the container
	ReadOnly    bool
}

// ContainerConfig is what the kubelet has resolved for one container start:
// image layers, the final argv and environment, mounts and limits.
type ContainerConfig struct {
	// Name is the container's name in the pod spec; Attempt is its restart
	// count. Together with the pod UID they identify the container.
	Name    string
	Attempt int
	// Image is the image reference, for status; LowerDirs are the image's
	// unpacked layers, topmost first (overlayfs lowerdir order).
	Image     string
	ImageID   string
	LowerDirs []string
	// Args is the final argv (entrypoint/command + cmd/args, $(VAR)s
	// expanded); Env is KEY=VALUE; WorkingDir defaults to "/".
	Args       []string
	Env        []string
	WorkingDir string
	// UID, GID and AdditionalGIDs the process runs as.
	UID, GID       uint32
	AdditionalGIDs []uint32
	// TTY gives the container a terminal (spec.containers[].tty); its output
	// is still logged.
	TTY bool
	// Stdin keeps the container's stdin open (a pipe, or the terminal with
	// TTY) for `kubectl attach`; without it stdin is /dev/null.
	// StdinOnce closes it when the first attach session ends (the
	// container then reads EOF; with TTY it gets a hangup).
	Stdin, StdinOnce bool
	// Mounts are volumes (and /etc/hosts, /etc/resolv.conf,
	// /dev/termination-log) bind-mounted in, in order.
	Mounts    []Mount
	Resources Resources
	// Privileged drops masked paths and gives all capabilities;
	// CapAdd/CapDrop adjust the default set ("NET_ADMIN", "ALL", ...).
	Privileged      bool
	CapAdd, CapDrop []string
	ReadOnlyRootfs  bool
	// LogPath is the CRI-format log file the monitor appends stdout and
	// stderr to (see kubelet/crilog).
	LogPath string
}

// State is a container's lifecycle state.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	// StateUnknown: the container's record exists but its process and exit
	// code cannot be found (e.g. the node rebooted).
	StateUnknown State = "unknown"
)

// ContainerStatus is what the runtime knows about one container.
type ContainerStatus struct {
	ID      string // "<podUID>_<name>_<attempt>"
	PodUID  string
	Name    string
	Attempt int
	Image   string
	ImageID string
	State   State
	Pid     int
	// CreatedAt, StartedAt, FinishedAt are zero when not reached.
	CreatedAt, StartedAt, FinishedAt time.Time
	ExitCode                         int
	// Reason is "OOMKilled", "Error", "Completed" or "StartError" once
	// exited ("Unknown" in StateUnknown); Message explains StartError and
	// Unknown.
	Reason  string
	Message string
	LogPath string
}

// ExecConfig is one `kubectl exec`.
type ExecConfig struct {
	Cmd    []string
	TTY    bool
	Stdin  io.Reader // nil: no stdin
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // ignored with TTY (the terminal merges streams)
	// Resize delivers terminal size changes (TTY only); may be nil.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct{ Width, Height uint16 }
