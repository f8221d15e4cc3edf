package testserver

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

func memHogCommand() subcommand {
	return subcommand{
		name:  "mem-hog",
		short: "allocate and touch N MiB, then hold it (OOMKilled tests)",
		long: `
Allocates --mb MiB one MiB at a time, writing to every page so the memory is
really resident (untouched allocations cost nothing and would never trip the
limit), then holds it until SIGTERM.

Give it more than its memory limit to watch the kernel's OOM killer at work:

  resources: {limits: {memory: 32Mi}}
  args: ["mem-hog", "--mb=64"]
  # kubectl get pod: OOMKilled, exit code 137 (128 + SIGKILL)

It prints progress every --report MiB, so kubectl logs --previous shows how
far it got before the kill.`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			mb := fs.Int("mb", 64, "MiB to allocate")
			report := fs.Int("report", 8, "print progress every this many MiB")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("mem-hog takes no arguments, got %q", args)}
				}
				if *mb < 0 || *report < 1 {
					return &UsageError{Err: fmt.Errorf("--mb %d --report %d: want --mb >= 0 and --report >= 1", *mb, *report)}
				}
				held := memHog(ctx, *mb, *report, e)
				<-ctx.Done()
				fmt.Fprintf(e.Err, "mem-hog: releasing %d MiB (%v)\n", len(held), context.Cause(ctx))
				return nil
			}
		},
	}
}

const mib = 1 << 20

// memHog allocates up to mb MiB and returns the chunks, which the caller
// keeps alive: an unreferenced chunk would be collected and give memory back.
func memHog(ctx context.Context, mb, report int, e *env) [][]byte {
	page := os.Getpagesize()
	held := make([][]byte, 0, mb)
	for i := 1; i <= mb; i++ {
		if ctx.Err() != nil {
			break
		}
		chunk := make([]byte, mib)
		for off := 0; off < len(chunk); off += page {
			chunk[off] = 1 // fault the page in: now it counts against the cgroup
		}
		held = append(held, chunk)
		if i%report == 0 || i == mb {
			fmt.Fprintf(e.Out, "mem-hog: allocated %d MiB\n", i)
		}
	}
	return held
}
