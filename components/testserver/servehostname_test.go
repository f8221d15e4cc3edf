package testserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func TestServeHostnameOn(t *testing.T) {
	t.Parallel()
	httpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpC, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHostnameOn(ctx, "pod-x", httpL, tcpL, udpC, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serveHostnameOn: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serveHostnameOn did not stop")
		}
	})

	tests := []struct {
		name string
		ask  func() (string, error)
	}{
		{"http any path", func() (string, error) {
			code, body := get(t, "http://"+httpL.Addr().String(), "/any/path")
			if code != 200 {
				t.Errorf("status %d", code)
			}
			return body, nil
		}},
		{"raw tcp", func() (string, error) {
			c, err := net.DialTimeout("tcp", tcpL.Addr().String(), 5*time.Second)
			if err != nil {
				return "", err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			return string(b), err
		}},
		{"udp", func() (string, error) {
			c, err := net.Dial("udp", udpC.LocalAddr().String())
			if err != nil {
				return "", err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("anything")); err != nil {
				return "", err
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			return string(buf[:n]), err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ask()
			if err != nil || got != "pod-x" {
				t.Errorf("got %q, %v; want pod-x", got, err)
			}
		})
	}
}
