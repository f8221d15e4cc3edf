package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// progressEvery is how often a running upload reports its progress (tests
// shorten it).
var progressEvery = 2 * time.Second

func runImageLoad(ctx context.Context, s Streams, o *imageOptions, archive string) error {
	size, err := archiveSize(archive)
	if err != nil {
		return err
	}
	a, err := newKubeletAccess(o)
	if err != nil {
		return err
	}
	targets, err := a.targets(ctx, o.node, o.allNodes)
	if err != nil {
		return err
	}
	// One node after the other: each kubelet unpacks at disk speed, and
	// sequential uploads keep the progress lines readable.
	var errs []error
	for _, t := range targets {
		fmt.Fprintf(s.Out, "Loading %s (%s) into node %s (%s)\n", archive, humanBytes(size), t.node, t.url)
		loaded, err := a.load(ctx, s, t, archive, size)
		if err != nil {
			fmt.Fprintln(s.Out, "  failed (the error is below)")
			errs = append(errs, err)
			continue
		}
		for _, ref := range loaded {
			fmt.Fprintf(s.Out, "  loaded %s\n", ref)
		}
		if len(loaded) == 0 {
			fmt.Fprintln(s.Out, "  the archive held no images")
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprint(s.Out, "\nPods use these images offline with imagePullPolicy IfNotPresent or Never\n"+
		"(a :latest or missing tag defaults to Always, which asks the registry).\nSee them with: kubelab image ls\n")
	return nil
}

// load uploads one archive to one kubelet, reporting progress on s.Err
// while the bytes go out, and returns the references the kubelet loaded.
func (a *kubeletAccess) load(ctx context.Context, s Streams, t kubeletTarget, archive string, size int64) ([]string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	body := &progressReader{r: f, sent: new(atomic.Int64), done: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/images/load", body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set("Expect", "100-continue")

	stop := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		reportProgress(s, t.node, body, size, stop)
	}()
	var out struct {
		Loaded []string `json:"loaded"`
	}
	err = a.do(t, req, &out)
	close(stop)
	<-reported
	return out.Loaded, err
}

// reportProgress prints "sent X of Y" every progressEvery until the body is
// read to the end, then says the node is importing, until stop. Small
// archives that go out within the first interval print nothing.
func reportProgress(s Streams, node string, body *progressReader, size int64, stop <-chan struct{}) {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	printed := false
	for {
		select {
		case <-stop:
			return
		case <-body.done:
			if printed {
				fmt.Fprintf(s.Err, "  %s: all %s sent; the kubelet is importing the images…\n", node, humanBytes(size))
			}
			<-stop
			return
		case <-tick.C:
			sent := body.sent.Load()
			pct := 100.0
			if size > 0 {
				pct = float64(sent) * 100 / float64(size)
			}
			fmt.Fprintf(s.Err, "  %s: %s of %s sent (%.0f%%)\n", node, humanBytes(sent), humanBytes(size), pct)
			printed = true
		}
	}
}

// progressReader counts the bytes read from r and closes done at EOF.
type progressReader struct {
	r    io.Reader
	sent *atomic.Int64
	done chan struct{}
	eof  atomic.Bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent.Add(int64(n))
	if errors.Is(err, io.EOF) && p.eof.CompareAndSwap(false, true) {
		close(p.done)
	}
	return n, err
}
