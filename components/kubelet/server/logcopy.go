package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kubelab/kubelab/components/kubelet/crilog"
)

// logCopier turns a CRI log file back into what the container printed:
//
//	2026-11-25T18:00:00.1Z stdout P hel      ->  hello world\n
//	2026-11-25T18:00:00.2Z stdout F lo world
//
// P records are joined with the records that continue them (per stream: the
// stdout and stderr writers are separate), --timestamps prefixes each joined
// line with its first record's time, --tail counts joined lines.
type logCopier struct {
	opts  logOptions
	done  <-chan struct{} // closed when the container has exited
	poll  time.Duration
	flush func()

	// partial[stream]: the last record of that stream was a P record, so the
	// next one continues its line (no timestamp, no new line counted).
	partial map[string]bool
}

// errLimit ends a copy that reached limitBytes.
var errLimit = errors.New("limitBytes reached")

// copy writes the log in f to w, following it when asked until the
// container is done or ctx ends.
func (c *logCopier) copy(ctx context.Context, f io.ReadSeeker, w io.Writer) error {
	if c.opts.tail >= 0 {
		start, err := c.tailStart(f)
		if err != nil {
			return err
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("seek log to %d: %w", start, err)
		}
	}
	if c.opts.limit > 0 {
		w = &limitWriter{w: w, left: c.opts.limit}
	}
	c.partial = map[string]bool{}
	br := bufio.NewReaderSize(f, 64*1024)
	var pending []byte // a record the writer has not finished yet
	doneSeen := false
	for {
		line, err := br.ReadBytes('\n')
		if err == nil {
			if len(pending) > 0 {
				line = append(pending, line...)
				pending = nil
			}
			if werr := c.write(w, line); werr != nil {
				if errors.Is(werr, errLimit) {
					return nil
				}
				return werr
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("read log: %w", err)
		}
		// End of what is written so far; keep a half-written record for
		// when its end arrives.
		pending = append(pending, line...)
		if !c.opts.follow || doneSeen {
			return nil
		}
		c.flush()
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			// The container has exited: read once more to the end (its
			// last lines may have landed after our last read), then stop.
			doneSeen = true
		case <-time.After(c.poll):
		}
	}
}

// write writes one record.
func (c *logCopier) write(w io.Writer, line []byte) error {
	rec, err := crilog.Parse(line)
	if err != nil {
		slog.Debug("kubelet API: skipping malformed log record", "err", err)
		return nil
	}
	if c.opts.stream != "" && rec.Stream != c.opts.stream {
		return nil
	}
	continues := c.partial[rec.Stream]
	c.partial[rec.Stream] = rec.Partial
	if !c.opts.since.IsZero() && rec.Time.Before(c.opts.since) {
		return nil
	}
	buf := make([]byte, 0, len(rec.Content)+40)
	if c.opts.timestamps && !continues {
		buf = rec.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, ' ')
	}
	buf = append(buf, rec.Content...)
	if !rec.Partial {
		buf = append(buf, '\n')
	}
	_, err = w.Write(buf)
	return err
}

// tailStart finds the offset where the last opts.tail lines begin: one pass
// over the file remembering the start offsets of the last tail lines in a
// ring, so memory stays O(tail) however long the log is.
func (c *logCopier) tailStart(f io.ReadSeeker) (int64, error) {
	n := c.opts.tail
	ring := make([]int64, n)
	var count, off int64
	partial := map[string]bool{}
	br := bufio.NewReaderSize(f, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				break // an unfinished last record is not a line yet
			}
			return 0, fmt.Errorf("read log: %w", err)
		}
		rec, perr := crilog.Parse(line)
		if perr == nil && (c.opts.stream == "" || rec.Stream == c.opts.stream) {
			if !partial[rec.Stream] && n > 0 {
				ring[count%n] = off
				count++
			}
			partial[rec.Stream] = rec.Partial
		}
		off += int64(len(line))
	}
	switch {
	case n == 0:
		return off, nil // --tail=0: nothing old, only what follows
	case count < n:
		return 0, nil
	default:
		return ring[count%n], nil // the oldest of the last n line starts
	}
}

// limitWriter passes through at most left bytes, then fails with errLimit.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= l.left {
		n, err := l.w.Write(p)
		l.left -= int64(n)
		return n, err
	}
	n, err := l.w.Write(p[:l.left])
	l.left -= int64(n)
	if err != nil {
		return n, err
	}
	return n, errLimit
}
