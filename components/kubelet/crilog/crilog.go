// Package crilog is the container log file format the kubelet writes and
// reads: the CRI format that containerd and CRI-O use, so a student who
// opens /var/log/pods/... on a kubelab node sees what a real node shows.
//
// Each line of a container's stdout or stderr becomes one record:
//
//	2026-11-25T18:00:00.123456789Z stdout F hello world
//
// timestamp (RFC 3339, nanoseconds, UTC), stream, a tag (F = the full line,
// P = a partial line: the output was longer than the buffer or ended without
// a newline, and the next record continues it) and the content.
//
// Data flow: the per-container monitor (kubelet/runtime) copies the
// container's pipes through a Writer into the log file; the kubelet API
// (kubelet/server) parses records with Parse to answer `kubectl logs`.
package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Stream names as they appear in a record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// MaxLine is the longest content one record carries; longer lines are split
// into P records followed by an F record.
const MaxLine = 16 * 1024

// Record is one parsed line of a log file.
type Record struct {
	Time    time.Time
	Stream  string
	Partial bool
	// Content excludes the trailing newline.
	Content []byte
}

// Writer turns one stream's raw output into records appended to out. Two
// Writers (stdout and stderr) may share one out: writes to out are whole
// records, serialised by the shared mutex.
type Writer struct {
	out    io.Writer
	mu     *sync.Mutex
	stream string
	buf    []byte
	now    func() time.Time
}

// NewWriter returns a Writer for stream; mu guards out and must be shared by
// every Writer writing to the same out.
func NewWriter(out io.Writer, mu *sync.Mutex, stream string) *Writer {
	return &Writer{out: out, mu: mu, stream: stream, now: time.Now}
}

// Write buffers p and emits a record for every complete line.
func (w *Writer) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if err := w.emit(w.buf[:i], false); err != nil {
			return 0, err
		}
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= MaxLine {
		if err := w.emit(w.buf[:MaxLine], true); err != nil {
			return 0, err
		}
		w.buf = w.buf[MaxLine:]
	}
	return len(p), nil
}

// Flush emits what is buffered (output that ended without a newline) as a
// partial record. Call it when the stream closes.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.emit(w.buf, true)
	w.buf = w.buf[:0]
	return err
}

func (w *Writer) emit(line []byte, partial bool) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	rec := make([]byte, 0, len(line)+48)
	rec = w.now().UTC().AppendFormat(rec, time.RFC3339Nano)
	rec = append(rec, ' ')
	rec = append(rec, w.stream...)
	rec = append(rec, ' ')
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, line...)
	rec = append(rec, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.out.Write(rec)
	return err
}

// ErrMalformed is returned by Parse for a line that is not a record.
var ErrMalformed = errors.New("malformed CRI log record")

// Parse parses one line (with or without its trailing newline).
func Parse(line []byte) (Record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	fields := bytes.SplitN(line, []byte{' '}, 4)
	if len(fields) < 3 {
		return Record{}, fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return Record{}, fmt.Errorf("%w: timestamp %q: %v", ErrMalformed, fields[0], err)
	}
	r := Record{Time: t, Stream: string(fields[1])}
	switch string(fields[2]) {
	case "F":
	case "P":
		r.Partial = true
	default:
		return Record{}, fmt.Errorf("%w: tag %q", ErrMalformed, fields[2])
	}
	if len(fields) == 4 {
		r.Content = fields[3]
	}
	return r, nil
}
