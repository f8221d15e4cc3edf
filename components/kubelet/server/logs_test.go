package server

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// record is one CRI log line, s seconds after t0.
func record(s int, stream, tag, content string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(s)*time.Second).Format(time.RFC3339Nano), stream, tag, content)
}

func writeLog(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestContainerLogs(t *testing.T) {
	current := writeLog(t,
		record(1, "stdout", "F", "one"),
		record(2, "stderr", "F", "oops"),
		"not a record\n",
		record(3, "stdout", "P", "tw"),
		record(4, "stdout", "F", "o"),
		record(5, "stdout", "F", "three"),
		// The writer is in the middle of this one: not shown yet.
		"2026-01-01T00:00:06Z stdout F fo")
	previous := writeLog(t, record(0, "stdout", "F", "before the restart"))
	host := &fakeHost{logs: map[string]string{"app": current, "app/previous": previous}}
	base, p := startServer(t, host)
	c := p.client(t, true)

	tests := []struct {
		name  string
		path  string
		query string
		code  int
		want  string
	}{
		{"everything, P records joined", "app", "", 200, "one\noops\ntwo\nthree\n"},
		{"timestamps of each line's first record", "app", "timestamps=true", 200,
			"2026-01-01T00:00:01Z one\n2026-01-01T00:00:02Z oops\n2026-01-01T00:00:03Z two\n2026-01-01T00:00:05Z three\n"},
		{"tail counts joined lines", "app", "tailLines=2", 200, "two\nthree\n"},
		{"tail 0", "app", "tailLines=0", 200, ""},
		{"tail longer than the log", "app", "tailLines=100", 200, "one\noops\ntwo\nthree\n"},
		{"limitBytes cuts mid-line", "app", "limitBytes=6", 200, "one\noo"},
		{"sinceTime", "app", "sinceTime=" + url.QueryEscape(t0.Add(3*time.Second).Format(time.RFC3339)), 200, "two\nthree\n"},
		{"sinceSeconds keeps recent lines only", "app", "sinceSeconds=60", 200, ""},
		{"stderr only", "app", "stream=Stderr", 200, "oops\n"},
		{"previous attempt", "app", "previous=true", 200, "before the restart\n"},
		{"no previous attempt", "sidecar", "previous=true", 404, `previous terminated container "sidecar" in pod "web": not found` + "\n"},
		{"unknown container", "nope", "", 404, `container "nope" in pod "web": not found` + "\n"},
		{"negative tail", "app", "tailLines=-1", 400, "query parameter tailLines=\"-1\": must be an integer >= 0\n"},
		{"both since", "app", "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", 400, "at most one of sinceTime or sinceSeconds may be specified\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, c, base+"/containerLogs/ns/web/"+tt.path+"?"+tt.query)
			if code != tt.code || body != tt.want {
				t.Errorf("got %d %q, want %d %q", code, body, tt.code, tt.want)
			}
		})
	}

	t.Run("unknown pod", func(t *testing.T) {
		if code, body := get(t, c, base+"/containerLogs/ns/nope/app"); code != 404 || !strings.Contains(body, `pod "nope"`) {
			t.Errorf("got %d %q, want 404 naming the pod", code, body)
		}
	})
	t.Run("host refuses", func(t *testing.T) {
		host.mu.Lock()
		host.err = errors.New(`container "app" in pod "web" is waiting to start: ContainerCreating`)
		host.mu.Unlock()
		defer func() { host.mu.Lock(); host.err = nil; host.mu.Unlock() }()
		if code, body := get(t, c, base+"/containerLogs/ns/web/app"); code != 400 || !strings.Contains(body, "waiting to start") {
			t.Errorf("got %d %q, want 400 with the host's message", code, body)
		}
	})
}

// TestFollowLogs: a follow shows lines as they are written and ends once
// the container is done and the file drained.
func TestFollowLogs(t *testing.T) {
	path := writeLog(t, record(1, "stdout", "F", "first"))
	done := make(chan struct{})
	host := &fakeHost{logs: map[string]string{"app": path}, done: map[string]chan struct{}{"app": done}}
	base, p := startServer(t, host)
	c := p.client(t, true)
	c.Timeout = 20 * time.Second

	resp, err := c.Get(base + "/containerLogs/ns/web/app?follow=true&timestamps=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		got, err := br.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	expect("2026-01-01T00:00:01Z first\n")

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A record arriving in two writes is shown once it is whole.
	rec := record(2, "stdout", "F", "second")
	if _, err := f.WriteString(rec[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, err := f.WriteString(rec[10:]); err != nil {
		t.Fatal(err)
	}
	expect("2026-01-01T00:00:02Z second\n")

	// The last line lands just before the container is reported done.
	if _, err := f.WriteString(record(3, "stdout", "F", "last")); err != nil {
		t.Fatal(err)
	}
	close(done)
	expect("2026-01-01T00:00:03Z last\n")
	if rest, err := br.ReadString('\n'); err == nil || rest != "" {
		t.Fatalf("follow went on after the container was done: %q, %v", rest, err)
	}
}
