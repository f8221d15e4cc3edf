package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// logOptions are PodLogOptions as the kubelet receives them: the API server
// validated them and passes them on as query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	// tail is how many of the last lines to show; negative means all.
	tail int64
	// limit stops the output after this many bytes; 0 means no limit.
	limit int64
	// since drops records older than it; zero means keep all.
	since time.Time
	// stream keeps only "stdout" or "stderr" records; "" keeps both.
	stream string
}

// parseLogOptions reads follow, previous, timestamps, tailLines, limitBytes,
// sinceSeconds, sinceTime and stream from the query.
func parseLogOptions(q url.Values, now time.Time) (logOptions, error) {
	o := logOptions{tail: -1}
	var err error
	for name, dst := range map[string]*bool{"follow": &o.follow, "previous": &o.previous, "timestamps": &o.timestamps} {
		if v := q.Get(name); v != "" {
			if *dst, err = strconv.ParseBool(v); err != nil {
				return o, fmt.Errorf("query parameter %s=%q: not a boolean", name, v)
			}
		}
	}
	if o.tail, err = intParam(q, "tailLines", -1, 0); err != nil {
		return o, err
	}
	if o.limit, err = intParam(q, "limitBytes", 0, 1); err != nil {
		return o, err
	}
	secs, err := intParam(q, "sinceSeconds", 0, 1)
	if err != nil {
		return o, err
	}
	if secs > 0 {
		o.since = now.Add(-time.Duration(secs) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if secs > 0 {
			return o, fmt.Errorf("at most one of sinceTime or sinceSeconds may be specified")
		}
		if o.since, err = time.Parse(time.RFC3339, v); err != nil {
			return o, fmt.Errorf("query parameter sinceTime=%q: not an RFC 3339 time", v)
		}
	}
	switch v := q.Get("stream"); v {
	case "", "All":
	case "Stdout":
		o.stream = "stdout"
	case "Stderr":
		o.stream = "stderr"
	default:
		return o, fmt.Errorf("query parameter stream=%q: must be All, Stdout or Stderr", v)
	}
	return o, nil
}

// intParam parses an integer query parameter that must be at least min;
// def when absent.
func intParam(q url.Values, name string, def, minimum int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < minimum {
		return 0, fmt.Errorf("query parameter %s=%q: must be an integer >= %d", name, v, minimum)
	}
	return n, nil
}

// containerLogs serves GET /containerLogs/{namespace}/{pod}/{container}.
// Everything that can fail is checked before the first byte, so errors
// reach kubectl as a status code and message; after that the body is the
// log itself.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := s.findPod(ns, pod, "", ctr); err != nil {
		writeError(w, err)
		return
	}
	path, done, err := s.opts.Host.ContainerLog(ns, pod, ctr, opts.previous)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, fmt.Errorf("log of container %q in pod %q: %w", ctr, pod, err))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	lc := &logCopier{opts: opts, done: done, poll: s.opts.LogPollInterval, flush: func() { _ = rc.Flush() }}
	if err := lc.copy(r.Context(), f, w); err != nil {
		// The status line is gone already; all we can do is stop and say so.
		slog.Debug("kubelet API: streaming container log", "pod", ns+"/"+pod, "container", ctr, "err", err)
	}
}
