package runtime

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// defaultCaps is Docker's (and containerd's) default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// capabilities resolves the container's capability set: the default set (or
// all of them when privileged), then CapDrop, then CapAdd, as Docker does.
func capabilities(cfg *ContainerConfig) ([]string, error) {
	var all []string
	for _, c := range capability.ListKnown() {
		all = append(all, "CAP_"+strings.ToUpper(c.String()))
	}
	norm := func(s string) (string, error) {
		s = strings.ToUpper(s)
		if s == "ALL" {
			return s, nil
		}
		if !strings.HasPrefix(s, "CAP_") {
			s = "CAP_" + s
		}
		if !slices.Contains(all, s) {
			return "", fmt.Errorf("unknown capability %q", s)
		}
		return s, nil
	}
	caps := slices.Clone(defaultCaps)
	if cfg.Privileged {
		return all, nil
	}
	for _, d := range cfg.CapDrop {
		d, err := norm(d)
		if err != nil {
			return nil, err
		}
		if d == "ALL" {
			caps = nil
			continue
		}
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == d })
	}
	for _, a := range cfg.CapAdd {
		a, err := norm(a)
		if err != nil {
			return nil, err
		}
		if a == "ALL" {
			caps = slices.Clone(all)
			continue
		}
		if !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	return caps, nil
}

// containerSpec builds the OCI spec for a container; specconv turns it into
// libcontainer's config (device nodes, mount flags, cgroup rules).
func containerSpec(rec *containerRecord, rootfs string) (*specs.Spec, error) {
	cfg := &rec.Config
	caps, err := capabilities(cfg)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	env := slices.Clone(cfg.Env)
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append([]string{defaultPath}, env...)
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("container %s: working dir %q is not absolute", rec.ID, cwd)
	}
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if cfg.Privileged {
		sysOpts = sysOpts[:3]
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
	}
	nss := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.UTSNamespace, Path: rec.Sandbox.UTSNS},
		{Type: specs.IPCNamespace, Path: rec.Sandbox.IPCNS},
	}
	if rec.Sandbox.NetNS != "" {
		nss = append(nss, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: rec.Sandbox.NetNS})
	}
	// On cgroup v2 a cgroup namespace makes the read-only cgroup mount show
	// just the container's own subtree (what the Go and Java runtimes read
	// for their CPU and memory limits). On v1 the mount would cost a dozen
	// extra bind mounts per start, so it is left out.
	if cgroups.IsCgroup2UnifiedMode() {
		nss = append(nss, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		mounts = append(mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	}
	for _, m := range cfg.Mounts {
		if !path.IsAbs(m.Destination) {
			return nil, fmt.Errorf("container %s: mount destination %q is not absolute", rec.ID, m.Destination)
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	resources := specResources(cfg.Resources)
	if cfg.Privileged {
		resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs, Readonly: cfg.ReadOnlyRootfs},
		Process: &specs.Process{
			Terminal: cfg.TTY,
			User:     specs.User{UID: cfg.UID, GID: cfg.GID, AdditionalGids: cfg.AdditionalGIDs},
			Args:     cfg.Args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: !cfg.Privileged,
		},
		Mounts: mounts,
		Linux: &specs.Linux{
			CgroupsPath: rec.CgroupPath,
			Resources:   resources,
			Namespaces:  nss,
		},
	}
	if !cfg.Privileged {
		spec.Linux.MaskedPaths = maskedPaths
		spec.Linux.ReadonlyPaths = readonlyPaths
	}
	return spec, nil
}

// libcontainerConfig converts the spec.
func libcontainerConfig(spec *specs.Spec) (*configs.Config, error) {
	c, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{Spec: spec, NoNewKeyring: true})
	if err != nil {
		return nil, fmt.Errorf("container config: %w", err)
	}
	return c, nil
}
