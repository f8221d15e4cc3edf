// Package version holds the build's version, stamped by the Makefile with
// -ldflags "-X github.com/kubelab/kubelab/components/version.Version=...".
//
// Two numbers matter to users: kubelab's own version (what was built), and the
// Kubernetes API version kubelab speaks (what kubectl compares itself with).
package version

import (
	"runtime"

	"github.com/spf13/cobra"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Version is kubelab's own version (git describe), set at link time.
var Version = "dev"

// KubernetesVersion is the Kubernetes release whose API kubelab serves. kubectl
// warns when client and server are more than one minor version apart, so this
// follows the k8s.io/api module kubelab is built with.
const KubernetesVersion = "v1.37.2"

// Info is what GET /version answers, in the shape kubectl expects.
func Info() apimachineryversion.Info {
	return apimachineryversion.Info{
		Major:        "1",
		Minor:        "37",
		GitVersion:   KubernetesVersion + "-kubelab+" + Version,
		GitCommit:    Version,
		GitTreeState: "clean",
		BuildDate:    "",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// Line is what a component's --version prints: what the real components
// print ("Kubernetes v1.37.2"), with kubelab's build appended:
// "Kubernetes v1.37.2-kubelab+<git describe>".
func Line() string { return "Kubernetes " + Info().GitVersion }

// SetCommand gives a component's command a --version flag that prints Line.
func SetCommand(cmd *cobra.Command) {
	cmd.Version = Line()
	cmd.SetVersionTemplate("{{.Version}}\n")
}
