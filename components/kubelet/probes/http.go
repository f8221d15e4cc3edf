package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// HTTPRequest builds the request of an httpGet probe the way upstream does:
// scheme defaults to http, host to the pod IP, the path may carry a query,
// User-Agent and Accept get defaults unless the probe sets them (an empty
// Accept removes it), and a Host header becomes the request's Host.
func HTTPRequest(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP string) (*http.Request, error) {
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := ResolvePort(g.Port, c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(g.Path)
	if err != nil {
		u = &url.URL{Path: g.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("http probe %s: %w", u, err)
	}
	h := http.Header{}
	for _, hv := range g.HTTPHeaders {
		h.Add(hv.Name, hv.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", UserAgent)
	}
	if _, ok := h["Accept"]; !ok {
		h.Set("Accept", "*/*")
	} else if h.Get("Accept") == "" {
		h.Del("Accept")
	}
	req.Header = h
	req.Host = h.Get("Host")
	return req, nil
}

// stopOffHostRedirects follows redirects on the same host (up to 10) and
// stops at one to another host; that 3xx then counts as success, as
// upstream ("Probe terminated redirects").
func stopOffHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

func runHTTP(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP string, timeout time.Duration) (Outcome, error) {
	req, err := HTTPRequest(ctx, g, c, podIP)
	if err != nil {
		return Outcome{}, err
	}
	client := &http.Client{
		Timeout:       timeout,
		CheckRedirect: stopOffHostRedirects,
		Transport: &http.Transport{
			// Probes check the container, not its certificate.
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as upstream
			DisableKeepAlives:  true,
			DisableCompression: true,
			Proxy:              nil,
			DialContext:        dialer(timeout).DialContext,
		},
	}
	res, err := client.Do(req)
	if err != nil {
		// Timeouts and refused connections are failures, not prober errors.
		return Outcome{Message: err.Error()}, nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return Outcome{Message: fmt.Sprintf("read response: %v", err)}, nil
	}
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return Outcome{Success: true, Message: "Probe terminated redirects, Response body: " + string(body)}, nil
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return Outcome{Success: true, Message: string(body)}, nil
	}
	// Upstream keeps the body out of the failure message on purpose (it may
	// hold secrets and lands in events).
	return Outcome{Message: fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)}, nil
}
