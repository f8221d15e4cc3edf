package testserver

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// runCmd runs testserver with args and returns stdout, stderr and the error.
func runCmd(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := Run(ctx, args, Streams{Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ee *ExitError
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

func TestRunCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{name: "no args", args: nil, wantCode: 2, wantErr: "Subcommands:"},
		{name: "help", args: []string{"help"}, wantOut: "serve-hostname"},
		{name: "--help", args: []string{"--help"}, wantOut: "logs-generator"},
		{name: "help for one", args: []string{"help", "netexec"}, wantOut: "/sethealth?status=500"},
		{name: "unknown", args: []string{"frobnicate"}, wantCode: 2, wantErr: "Subcommands:"},
		{name: "bad flag", args: []string{"crash", "--nope"}, wantCode: 2, wantErr: "--code int"},
		{name: "crash code 3", args: []string{"crash", "--after=0s", "--code=3"}, wantCode: 3, wantErr: "exiting with code 3"},
		{name: "crash code 0", args: []string{"crash", "--after=0s", "--code=0"}, wantCode: 0},
		{name: "crash bad code", args: []string{"crash", "--code=300"}, wantCode: 2},
		{name: "logs-generator", args: []string{"logs-generator", "--lines=3", "--period=0s"}, wantOut: "line 1\nline 2\nline 3\n"},
		{name: "logs-generator agnhost flags", args: []string{"logs-generator", "--log-lines-total=2", "--run-duration=2ms"}, wantOut: "line 1\nline 2\n"},
		{name: "pause takes no args", args: []string{"pause", "x"}, wantCode: 2},
		{name: "dns-lookup needs a name", args: []string{"dns-lookup"}, wantCode: 2},
		{name: "dns-lookup bad type", args: []string{"dns-lookup", "--type=MX", "x"}, wantCode: 2},
		{name: "serve-hostname http and tcp", args: []string{"serve-hostname", "--tcp"}, wantCode: 2},
		{name: "serve-hostname nothing", args: []string{"serve-hostname", "--http=false"}, wantCode: 2},
	}
	for _, c := range subcommands() {
		tests = append(tests, struct {
			name     string
			args     []string
			wantCode int
			wantOut  string
			wantErr  string
		}{name: c.name + " --help", args: []string{c.name, "--help"}, wantOut: "testserver " + c.name})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, err := runCmd(context.Background(), tt.args...)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (err %v), want %d\nstderr:\n%s", got, err, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
		})
	}
}

// Long-running subcommands must return promptly, and cleanly, when the
// context ends: that is what SIGTERM does to them in a pod.
func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{args: []string{"pause"}, wantErr: "Shutting down, got signal (test says stop)"},
		{args: []string{"crash", "--after=1h"}, wantErr: "stopped early"},
		{args: []string{"mem-hog", "--mb=2", "--report=1"}, wantOut: "allocated 2 MiB", wantErr: "releasing 2 MiB"},
		{args: []string{"logs-generator", "--period=1ms"}, wantOut: "line 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("test says stop")) })
			out, errOut, err := runCmd(ctx, tt.args...)
			if err != nil {
				t.Fatalf("Run(%q) = %v, want nil", tt.args, err)
			}
			if !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("Run(%q): stdout %q stderr %q, want %q and %q", tt.args, out, errOut, tt.wantOut, tt.wantErr)
			}
		})
	}
}
