// Command kubelab is the educational CLI; see components/cli.
package main

import (
	"fmt"
	"os"

	"github.com/kubelab/kubelab/components/cli"
)

func main() {
	if err := cli.NewRootCommand(cli.DefaultStreams()).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kubelab:", err)
		os.Exit(1)
	}
}
