// Package cli is the `kubelab` command: the educational CLI that starts
// clusters (`kubelab up`), and will grow kubectl-style verbs, PKI helpers and
// lessons. Each command is built by a NewXCommand(streams) function that
// returns a cobra command whose RunE returns errors; only main prints them.
//
// Configuration precedence, kind/minikube style: flag > environment
// (KUBELAB_PORT, KUBELAB_NAME, ...) > ~/.kubelab/config.yaml > default.
// Viper reads the last two once, in PersistentPreRunE, and writes them into
// flags the user did not set; from there on only typed options are used.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/kubelab/kubelab/components/logging"
	"github.com/kubelab/kubelab/components/version"
)

// Streams are where a command reads and writes (tests pass buffers).
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// DefaultStreams are the process's standard streams.
func DefaultStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// NewRootCommand builds `kubelab` and its subcommands.
func NewRootCommand(s Streams) *cobra.Command {
	var verbosity int
	var logFormat string
	root := &cobra.Command{
		Use:   "kubelab",
		Short: "A Kubernetes you can read, and a lab kit to build one",
		Long: `kubelab runs a small, readable, from-scratch Kubernetes and teaches how it works.

Start here:
  kubelab up                 start a single-machine cluster (embedded etcd + kube-apiserver)
  kubectl get ns             talk to it with the real kubectl

Every component lives in components/ of the source tree; lessons/ explains the
concepts and labs/ assembles a cluster by hand, the hard way.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Version + " (Kubernetes API " + version.KubernetesVersion + ")",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindConfig(cmd); err != nil {
				return err
			}
			return logging.SetupTo(s.Err, logFormat, verbosity)
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().IntVarP(&verbosity, "v", "v", 0, "log verbosity (1 = debug)")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(NewUpCommand(s), NewDownCommand(s), NewBenchCommand(s))
	root.AddCommand(NewHollowNodesCommand(s))
	root.AddCommand(NewClusterCommand(s))
	root.AddCommand(NewImageCommand(s))
	return root
}

// bindConfig fills flags the user did not set from KUBELAB_* variables and
// ~/.kubelab/config.yaml (keys are flag names: `port: 7443`).
func bindConfig(cmd *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix("KUBELAB")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if home, err := os.UserHomeDir(); err == nil {
		v.SetConfigFile(filepath.Join(home, ".kubelab", "config.yaml"))
		if err := v.ReadInConfig(); err != nil && !errors.Is(err, os.ErrNotExist) {
			var notFound viper.ConfigFileNotFoundError
			if !errors.As(err, &notFound) && !os.IsNotExist(err) {
				return fmt.Errorf("read %s: %w", v.ConfigFileUsed(), err)
			}
		}
	}
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || ferr != nil || !v.IsSet(f.Name) {
			return
		}
		if err := cmd.Flags().Set(f.Name, v.GetString(f.Name)); err != nil {
			ferr = fmt.Errorf("setting --%s from KUBELAB_%s or config file: %w", f.Name, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), err)
		}
	})
	return ferr
}
