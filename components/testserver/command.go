package testserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// Streams are where a subcommand writes. Out carries the answer a user or a
// test reads (hostnames, log lines, DNS answers); Err carries the log.
type Streams struct {
	Out io.Writer
	Err io.Writer
}

// ExitError asks the process to exit with Code. It is how a library tells its
// main "exit 3" without calling os.Exit itself. Message, when set, is what the
// main prints; subcommands that already explained themselves leave it empty.
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// UsageError marks a bad command line; mains conventionally exit 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// subcommand is one personality of the binary. newFlags registers its flags
// on fs and returns the function that runs it with the parsed values, so each
// subcommand's options live in one closure instead of package globals.
type subcommand struct {
	name     string
	args     string // positional arguments, for the usage line
	short    string
	long     string
	newFlags func(fs *pflag.FlagSet) func(ctx context.Context, args []string, env *env) error
}

// env is what every subcommand gets besides its flags.
type env struct {
	Streams
	log *slog.Logger
}

// subcommands is the table Run dispatches on, in the order help lists them.
func subcommands() []subcommand {
	return []subcommand{
		serveHostnameCommand(),
		netexecCommand(),
		pauseCommand(),
		dnsLookupCommand(),
		memHogCommand(),
		crashCommand(),
		logsGeneratorCommand(),
	}
}

// Run runs the subcommand named by args[0] with the rest of args as its
// flags and arguments. It blocks until the subcommand finishes or ctx ends
// (servers then shut down gracefully and Run returns nil).
func Run(ctx context.Context, args []string, s Streams) error {
	cmds := subcommands()
	if len(args) == 0 {
		printUsage(s.Err, cmds)
		return &UsageError{Err: errors.New("no subcommand given")}
	}
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 {
			return Run(ctx, []string{args[1], "--help"}, s)
		}
		printUsage(s.Out, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		fs.SetOutput(io.Discard) // we print usage ourselves, once
		run := c.newFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				printCommandUsage(s.Out, c, fs)
				return nil
			}
			printCommandUsage(s.Err, c, fs)
			return &UsageError{Err: fmt.Errorf("%s: %w", c.name, err)}
		}
		e := &env{Streams: s, log: slog.New(slog.NewTextHandler(s.Err, nil)).With("cmd", c.name)}
		return run(ctx, fs.Args(), e)
	}
	printUsage(s.Err, cmds)
	return &UsageError{Err: fmt.Errorf("unknown subcommand %q", args[0])}
}

func printUsage(w io.Writer, cmds []subcommand) {
	fmt.Fprint(w, `testserver: a small multi-purpose program for test pods (like Kubernetes' agnhost).

Usage:
  testserver SUBCOMMAND [flags] [args]
  testserver SUBCOMMAND --help     explain one subcommand

Subcommands:
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
In the image localhost/kubelab/testserver:v1 the entrypoint is /testserver and
the default command is serve-hostname, so a pod without args answers its own
name on port 9376. Pick another personality with the pod's args, e.g.
  args: ["netexec", "--http-port=8080"]
`)
}

func printCommandUsage(w io.Writer, c subcommand, fs *pflag.FlagSet) {
	usage := "testserver " + c.name + " [flags]"
	if c.args != "" {
		usage += " " + c.args
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s\n\n%s\n", c.short, usage, strings.TrimSpace(c.long))
	if flags := fs.FlagUsages(); flags != "" {
		fmt.Fprintf(w, "\nFlags:\n%s", flags)
	}
}
