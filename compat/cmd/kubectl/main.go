// Command kubectl is the real kubectl, built from the k8s.io/kubectl module
// (the same main as kubernetes/cmd/kubectl), so the compatibility suite can
// prove that kubelab's API server works with the client everyone uses.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"

	// Auth plugins (exec, oidc), as in the upstream binary.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
