package testserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/pflag"
)

func dnsLookupCommand() subcommand {
	return subcommand{
		name:  "dns-lookup",
		args:  "NAME",
		short: "look NAME up in DNS and print the answers (exit 1 if none)",
		long: `
Two ways to ask, because they teach different things:

Without --server it asks like an application in the pod would: the resolver
reads /etc/resolv.conf (which the kubelet wrote), so the search list applies
and a short name like "kubernetes" or "my-svc.my-ns" is completed to
"...svc.cluster.local". One answer per line: NAME<TAB>TYPE<TAB>VALUE.

With --server it sends one raw query to that server, like dig: NAME is asked
exactly as given (no search list), and the answer records are printed whole,
with their TTL and class.

  testserver dns-lookup kubernetes.default
  testserver dns-lookup --server=10.32.0.10 --type=SRV _https._tcp.kubernetes.default.svc.cluster.local

Exits 1 when there is no answer (NXDOMAIN or an empty answer), so it works
as a check in scripts and exec probes.`,
		newFlags: func(fs *pflag.FlagSet) func(context.Context, []string, *env) error {
			server := fs.String("server", "", "DNS server ip[:port] to ask directly (default: the resolver from /etc/resolv.conf)")
			qtype := fs.String("type", "A", "record type: A, AAAA, SRV, CNAME or TXT")
			timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
			return func(ctx context.Context, args []string, e *env) error {
				if len(args) != 1 {
					return &UsageError{Err: fmt.Errorf("dns-lookup wants exactly one NAME, got %q", args)}
				}
				t, ok := dns.StringToType[strings.ToUpper(*qtype)]
				if !ok || !supportedTypes[t] {
					return &UsageError{Err: fmt.Errorf("--type %q: want A, AAAA, SRV, CNAME or TXT", *qtype)}
				}
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				var n int
				var err error
				if *server == "" {
					n, err = resolverLookup(ctx, net.DefaultResolver, args[0], t, e.Out)
				} else {
					n, err = rawLookup(ctx, withDNSPort(*server), args[0], t, e.Out)
				}
				if err != nil {
					return &ExitError{Code: 1, Message: err.Error()}
				}
				if n == 0 {
					return &ExitError{Code: 1, Message: fmt.Sprintf("no %s records for %s", dns.TypeToString[t], args[0])}
				}
				return nil
			}
		},
	}
}

var supportedTypes = map[uint16]bool{
	dns.TypeA: true, dns.TypeAAAA: true, dns.TypeSRV: true, dns.TypeCNAME: true, dns.TypeTXT: true,
}

// withDNSPort adds :53 to a bare address (IPv4, IPv6 or name).
func withDNSPort(server string) string {
	if _, _, err := net.SplitHostPort(server); err == nil {
		return server
	}
	return net.JoinHostPort(strings.Trim(server, "[]"), "53")
}

// resolverLookup asks the way a program in the pod does, through r (which
// honours resolv.conf's search list and ndots). It returns how many answers
// it printed; "not found" is zero answers, not an error.
func resolverLookup(ctx context.Context, r *net.Resolver, name string, qtype uint16, out io.Writer) (int, error) {
	var lines []string
	var err error
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		network := map[uint16]string{dns.TypeA: "ip4", dns.TypeAAAA: "ip6"}[qtype]
		var ips []netip.Addr
		ips, err = r.LookupNetIP(ctx, network, name)
		for _, ip := range ips {
			lines = append(lines, ip.String())
		}
	case dns.TypeSRV:
		var srvs []*net.SRV
		_, srvs, err = r.LookupSRV(ctx, "", "", name)
		for _, s := range srvs {
			lines = append(lines, fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, s.Target))
		}
	case dns.TypeCNAME:
		var cname string
		if cname, err = r.LookupCNAME(ctx, name); err == nil {
			lines = append(lines, cname)
		}
	case dns.TypeTXT:
		lines, err = r.LookupTXT(ctx, name)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up %s %s: %w", dns.TypeToString[qtype], name, err)
	}
	for _, l := range lines {
		fmt.Fprintf(out, "%s\t%s\t%s\n", name, dns.TypeToString[qtype], l)
	}
	return len(lines), nil
}

// rawLookup sends one query to server and prints every answer record. It
// counts only records of the asked type (a CNAME on the way is not an answer).
func rawLookup(ctx context.Context, server, name string, qtype uint16, out io.Writer) (int, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		// Too big for UDP: ask again over TCP, as real resolvers do.
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return 0, fmt.Errorf("ask %s for %s %s: %w", server, dns.TypeToString[qtype], name, err)
	}
	if in.Rcode == dns.RcodeNameError {
		return 0, nil
	}
	if in.Rcode != dns.RcodeSuccess {
		return 0, fmt.Errorf("ask %s for %s %s: server answered %s", server, dns.TypeToString[qtype], name, dns.RcodeToString[in.Rcode])
	}
	n := 0
	for _, rr := range in.Answer {
		fmt.Fprintln(out, rr.String())
		if rr.Header().Rrtype == qtype {
			n++
		}
	}
	return n, nil
}
