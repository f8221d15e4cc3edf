// Package logging sets up log/slog for every kubelab binary, the same way:
// text (or JSON) to stderr, a level from -v, and klog (used inside client-go)
// routed into slog so a component prints one consistent log.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"k8s.io/klog/v2"
)

// Setup installs the default slog logger. format is "text" or "json";
// verbosity 0 logs Info and above, 1 or more adds Debug.
func Setup(format string, verbosity int) error {
	return SetupTo(os.Stderr, format, verbosity)
}

// SetupTo is Setup writing to w.
func SetupTo(w io.Writer, format string, verbosity int) error {
	level := slog.LevelInfo
	if verbosity > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("unknown --log-format %q: use text or json", format)
	}
	logger := slog.New(h)
	slog.SetDefault(logger)
	klog.SetSlogLogger(logger)
	return nil
}
