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
	"github.com/kubelab/kubelab/components/version"
)

const help = `kubelab-monitor is started by the kubelet, once per container; it is not a command for people.
It waits for the container it is given, logs its output and records its exit code,
so containers keep running (and their exit codes are known) across kubelet restarts.`

func main() {
	// --version and --help answer (and succeed) so that installing and
	// checking the binaries (vagrant/provision-binaries.sh) can run it like
	// every other one; anything else is a mistake.
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "--version", "version":
			fmt.Println(version.Line())
			return
		case "--help", "-h", "help":
			fmt.Println(help)
			return
		}
	}
	fmt.Fprintln(os.Stderr, help)
	os.Exit(2)
}
