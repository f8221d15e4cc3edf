// Package runtime is the kubelet's container runtime: the box between the
// pod workers and the kernel. It speaks a CRI-like vocabulary (types.go) and
// implements it with runc's libcontainer used as a library: no runc binary,
// no containerd.
//
// Data flow:
//
//	pod worker ──CreateSandbox──▶ namespaces (net, uts, ipc) pinned by bind
//	                               mounts + the pod cgroup
//	           ──StartContainer─▶ spawns a monitor (a re-exec of this binary)
//	                               which mounts the overlay rootfs, creates and
//	                               runs the libcontainer container, copies its
//	                               output into the CRI log, waits, and records
//	                               the exit code in state.json
//	           ◀──Events/Wait──── the monitor's exit (pidfd or wait), so the
//	                               kubelet learns of exits within milliseconds
//
// The monitor exists because exit codes reach only a process's parent: the
// kubelet may restart while its containers run, so a small per-container
// process in its own session stays the parent and writes what it saw to disk.
// A new Runtime re-adopts running containers from disk. To keep the re-exec
// off the start path, one spare monitor is started ahead of time (spawn.go).
//
// On-disk layout under Options.Root:
//
//	pods/<podUID>/sandbox.json            the sandbox record
//	pods/<podUID>/ns/{net,uts,ipc}        bind-mounted namespace files
//	pods/<podUID>/containers/<name>_<attempt>/
//	    config.json                       what the kubelet asked for
//	    state.json                        what the monitor saw (pid, exit code)
//	    monitor.log                       the monitor's own errors
//	    attach.sock                       the monitor's attach socket (attach.go)
//	    rootfs/ upper/ work/              the overlay mount and its layers
//	libcontainer/<containerID>/           libcontainer's state (while running)
//
// Container IDs are "<podUID>_<name>_<attempt>".
//
// Any binary that imports this package gets the re-exec hooks (see reexec.go):
// it must not have a subcommand named "init" or "kubelab-container-monitor",
// and must be built with cgo.
package runtime
