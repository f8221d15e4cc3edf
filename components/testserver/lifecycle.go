package testserver

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

func pauseCommand() subcommand {
	return subcommand{
		name:  "pause",
		short: "do nothing until SIGTERM or SIGINT, then exit 0",
		long: `
Sleeps until the kubelet stops the container. Handy as a long-running
container that uses no CPU, and to see that a process which handles SIGTERM
stops at once instead of waiting out terminationGracePeriodSeconds.

(Kubernetes' "pause" container holds a pod's namespaces; kubelab's pods keep
their namespaces in bind mounts instead, so this is only a sleeper.)`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("pause takes no arguments, got %q", args)}
				}
				fmt.Fprintln(e.Err, "Paused")
				<-ctx.Done()
				fmt.Fprintf(e.Err, "Shutting down, got signal (%v)\n", context.Cause(ctx))
				return nil
			}
		},
	}
}

func crashCommand() subcommand {
	return subcommand{
		name:  "crash",
		short: "exit with --code after --after (restart policies, CrashLoopBackOff)",
		long: `
Waits --after, then exits with --code. With restartPolicy Always and a
non-zero code you get CrashLoopBackOff and a growing restart count; with a
Job you see backoffLimit at work; with code 0 a "Completed" container.
A SIGTERM before --after exits 0 at once.

  kubectl run crasher --image=localhost/kubelab/testserver:v1 -- crash --after=5s --code=3
  kubectl get pod crasher -w
  kubectl describe pod crasher     # Last State: Terminated, Exit Code: 3`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			after := fs.Duration("after", time.Second, "how long to run before exiting")
			code := fs.Int("code", 1, "exit code (0-255)")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) > 0 {
					return &UsageError{Err: fmt.Errorf("crash takes no arguments, got %q", args)}
				}
				if *code < 0 || *code > 255 {
					return &UsageError{Err: fmt.Errorf("--code %d: want 0-255", *code)}
				}
				return crash(ctx, *after, *code, e)
			}
		},
	}
}

func crash(ctx context.Context, after time.Duration, code int, e *env) error {
	fmt.Fprintf(e.Err, "crash: exiting with code %d in %v\n", code, after)
	t := time.NewTimer(after)
	defer t.Stop()
	select {
	case <-ctx.Done():
		fmt.Fprintf(e.Err, "crash: stopped early (%v), exiting 0\n", context.Cause(ctx))
		return nil
	case <-t.C:
	}
	fmt.Fprintf(e.Err, "crash: exiting with code %d\n", code)
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}
