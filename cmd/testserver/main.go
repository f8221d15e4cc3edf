// Command testserver is the program in the kit's test image
// (localhost/kubelab/testserver:v1): serve-hostname, netexec, pause and
// friends. All the logic lives in components/testserver; this turns signals
// into a cancelled context and errors into exit codes.
//
// Build it static, or it will not start in the busybox-based image (there is
// no libc there):
//
//	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/testserver ./cmd/testserver
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubelab/kubelab/components/testserver"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// In a container we are often PID 1, which the kernel shields from
	// signals that have no handler: without this, SIGTERM would be ignored
	// and every pod deletion would wait out its grace period.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		cancel(fmt.Errorf("got signal %v", sig))
		signal.Stop(sigs) // a second signal gets the default action (outside PID 1: exit now)
	}()

	err := testserver.Run(ctx, os.Args[1:], testserver.Streams{Out: os.Stdout, Err: os.Stderr})
	var exitErr *testserver.ExitError
	var usageErr *testserver.UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		if exitErr.Message != "" {
			fmt.Fprintln(os.Stderr, "testserver:", exitErr.Message)
		}
		return exitErr.Code
	case errors.As(err, &usageErr):
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 1
	}
}
