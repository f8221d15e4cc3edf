package testserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxDialTries caps /dial?tries= so one request cannot run for hours.
const maxDialTries = 100

// dialResult is /dial's JSON answer, the shape agnhost uses and upstream e2e
// tests parse. Both lists are always present (never null).
type dialResult struct {
	Responses []string `json:"responses"`
	Errors    []string `json:"errors"`
}

// dialHandler makes this pod the client: "from inside pod A, can I reach B?"
// is the question behind most network-policy and Service tests.
func (s *netexecServer) dialHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	request, host, portStr := q.Get("request"), q.Get("host"), q.Get("port")
	if request == "" || host == "" || portStr == "" {
		http.Error(w, "missing parameter: /dial needs request, host and port (and optionally protocol, tries)", http.StatusBadRequest)
		return
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		http.Error(w, fmt.Sprintf("port %q: want 1-65535", portStr), http.StatusBadRequest)
		return
	}
	tries := 1
	if t := q.Get("tries"); t != "" {
		if tries, err = strconv.Atoi(t); err != nil || tries < 1 || tries > maxDialTries {
			http.Error(w, fmt.Sprintf("tries %q: want 1-%d", t, maxDialTries), http.StatusBadRequest)
			return
		}
	}
	protocol := q.Get("protocol")
	if protocol == "" {
		protocol = "http"
	}
	var dial func(context.Context, string, string) (string, error)
	switch protocol {
	case "http":
		dial = s.dialHTTP
	case "udp":
		dial = s.dialUDP
	default:
		http.Error(w, fmt.Sprintf("protocol %q: want http or udp", protocol), http.StatusBadRequest)
		return
	}

	addr := net.JoinHostPort(host, strconv.Itoa(port))
	res := dialResult{Responses: []string{}, Errors: []string{}}
	for range tries {
		if r.Context().Err() != nil {
			break // the caller gave up
		}
		out, err := dial(r.Context(), addr, request)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.Responses = append(res.Responses, out)
	}
	writeJSON(w, res)
}

// dialHTTP GETs http://addr/request, so request=hostname asks a netexec or
// serve-hostname peer for its name.
func (s *netexecServer) dialHTTP(ctx context.Context, addr, request string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	url := "http://" + addr + "/" + request
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("build request for %s: %w", url, err)
	}
	// A fresh transport per try: reusing a kept-alive connection would send
	// every try to the same backend and hide a Service's load balancing.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read response of %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	return string(body), nil
}

// dialUDP sends request as one datagram and waits for one datagram back.
func (s *netexecServer) dialUDP(ctx context.Context, addr, request string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", fmt.Errorf("dial udp %s: %w", addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(s.dialTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("send to udp %s: %w", addr, err)
	}
	buf := make([]byte, 64*1024)
	n, err := conn.Read(buf)
	if err != nil {
		return "", fmt.Errorf("read from udp %s: %w", addr, err)
	}
	return string(buf[:n]), nil
}
