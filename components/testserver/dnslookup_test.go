package testserver

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startDNS serves a tiny zone on 127.0.0.1 (UDP) and returns its address.
func startDNS(t *testing.T) string {
	t.Helper()
	zone := map[string][]string{
		"web.lab.test.":             {"web.lab.test. 30 IN A 10.32.0.7"},
		"_http._tcp.web.lab.test.":  {"_http._tcp.web.lab.test. 30 IN SRV 0 100 80 web.lab.test."},
		"alias.lab.test.":           {"alias.lab.test. 30 IN CNAME web.lab.test.", "web.lab.test. 30 IN A 10.32.0.7"},
		"v6.lab.test.":              {"v6.lab.test. 30 IN AAAA fd00:10:32::7"},
		"empty.lab.test.":           {},
		"kubernetes.default.local.": {"kubernetes.default.local. 5 IN A 10.32.0.1"},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		// Without RA, Go's resolver calls an empty answer a "lame referral".
		m.RecursionAvailable = true
		q := r.Question[0]
		rrs, ok := zone[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Errorf("bad test record %q: %v", s, err)
				continue
			}
			if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSLookup(t *testing.T) {
	t.Parallel()
	server := startDNS(t)
	// The resolver path, pointed at our server instead of resolv.conf's.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	tests := []struct {
		name      string
		qtype     uint16
		wantN     int
		wantRaw   string // substring of rawLookup's output
		wantResol string // substring of resolverLookup's output
	}{
		{"web.lab.test.", dns.TypeA, 1, "web.lab.test.\t30\tIN\tA\t10.32.0.7", "web.lab.test.\tA\t10.32.0.7"},
		{"v6.lab.test.", dns.TypeAAAA, 1, "fd00:10:32::7", "v6.lab.test.\tAAAA\tfd00:10:32::7"},
		{"_http._tcp.web.lab.test.", dns.TypeSRV, 1, "SRV\t0 100 80 web.lab.test.", "SRV\t0 100 80 web.lab.test."},
		{"alias.lab.test.", dns.TypeA, 1, "CNAME\tweb.lab.test.", "10.32.0.7"},
		{"missing.lab.test.", dns.TypeA, 0, "", ""},
		{"empty.lab.test.", dns.TypeA, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var raw, resol bytes.Buffer
			n, err := rawLookup(ctx, server, tt.name, tt.qtype, &raw)
			if err != nil || n != tt.wantN || !strings.Contains(raw.String(), tt.wantRaw) {
				t.Errorf("rawLookup = %d, %v, output %q; want %d answers containing %q", n, err, raw.String(), tt.wantN, tt.wantRaw)
			}
			n, err = resolverLookup(ctx, resolver, tt.name, tt.qtype, &resol)
			if err != nil || n != tt.wantN || !strings.Contains(resol.String(), tt.wantResol) {
				t.Errorf("resolverLookup = %d, %v, output %q; want %d answers containing %q", n, err, resol.String(), tt.wantN, tt.wantResol)
			}
		})
	}
}

// The command line: exit 0 with answers, exit 1 without.
func TestDNSLookupCommand(t *testing.T) {
	t.Parallel()
	server := startDNS(t)
	host, port, _ := net.SplitHostPort(server)
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(context.Background(), "dns-lookup", "--server", server, "kubernetes.default.local")
	if err != nil || !strings.Contains(out, "10.32.0.1") {
		t.Errorf("found name: %q, %v", out, err)
	}
	_, _, err = runCmd(context.Background(), "dns-lookup", "missing.lab.test", "--server="+server, "--type=aaaa")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no AAAA records for missing.lab.test") {
		t.Errorf("missing name: %v, want exit 1 'no AAAA records'", err)
	}
	if got := withDNSPort(host); got != host+":53" {
		t.Errorf("withDNSPort(%q) = %q", host, got)
	}
	for in, want := range map[string]string{"fd00:10:32::a": "[fd00:10:32::a]:53", "[fd00::1]:5353": "[fd00::1]:5353", "10.32.0.10:53": "10.32.0.10:53"} {
		if got := withDNSPort(in); got != want {
			t.Errorf("withDNSPort(%q) = %q, want %q", in, got, want)
		}
	}
}
