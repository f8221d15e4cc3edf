// Command kubelab-monitor is the kubelet's per-container monitor, as a
// small program of its own. The kubelet starts one per container: it
// creates the container with libcontainer (so it is the container's
// parent, the only process that learns its exit code), copies its output
// into the log file, records how it ended, and outlives kubelet restarts.
// libcontainer re-executes it as the container's "init" too.
//
// All of that lives in components/kubelet/runtime, whose init function
// takes over when this program is started as "kubelab-container-monitor"
// or "init"; main only runs when someone starts it by hand. The kubelet
// finds it next to its own binary (or $KUBELAB_MONITOR).
package main

import (
	"fmt"
	"os"

	_ "github.com/kubelab/kubelab/components/kubelet/runtime"
)

func main() {
	fmt.Fprintln(os.Stderr, `kubelab-monitor is started by the kubelet, once per container; it is not a command for people.
It waits for the container it is given, logs its output and records its exit code,
so containers keep running (and their exit codes are known) across kubelet restarts.`)
	os.Exit(2)
}
