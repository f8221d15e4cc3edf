package testserver

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

func logsGeneratorCommand() subcommand {
	return subcommand{
		name:  "logs-generator",
		short: "print numbered lines to stdout at a steady pace (kubectl logs tests)",
		long: `
Prints "line 1", "line 2", ... one every --period, to stdout, then exits 0
after --lines lines (0: forever, until SIGTERM). Numbered lines make it easy
to check that kubectl logs, --tail, -f and --previous lose nothing.

  kubectl run talker --image=localhost/kubelab/testserver:v1 -- logs-generator --lines=0 --period=1s
  kubectl logs -f talker

agnhost's spellings work too: --log-lines-total N --run-duration D spreads N
lines over D.`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			lines := fs.Int("lines", 0, "how many lines before exiting (0: forever)")
			period := fs.Duration("period", time.Second, "pause between lines")
			fs.IntVar(lines, "log-lines-total", 0, "agnhost's name for --lines")
			duration := fs.Duration("run-duration", 0, "agnhost's way to set --period: spread --lines over this long")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("logs-generator takes no arguments, got %q", args)}
				}
				if *lines < 0 || *period < 0 {
					return &UsageError{Err: fmt.Errorf("--lines %d --period %v: want both >= 0", *lines, *period)}
				}
				if *duration > 0 && *lines > 0 {
					*period = *duration / time.Duration(*lines)
				}
				return logsGenerator(ctx, *lines, *period, e)
			}
		},
	}
}

func logsGenerator(ctx context.Context, lines int, period time.Duration, e *env) error {
	t := time.NewTicker(max(period, time.Microsecond)) // a ticker needs a positive period
	defer t.Stop()
	for i := 1; lines == 0 || i <= lines; i++ {
		if _, err := fmt.Fprintf(e.Out, "line %d\n", i); err != nil {
			return fmt.Errorf("write line %d: %w", i, err)
		}
		if lines != 0 && i == lines {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}
