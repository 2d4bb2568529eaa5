// Package netguard lets connectors reach user-configured hosts without
// becoming a way into Waymark's own network (SSRF). A Guard checks a URL
// before a request, then resolves the host itself at dial time and checks
// every address it resolved to, and dials the checked address — so a DNS
// answer cannot change between the check and the connection.
//
// Refused, unless the operator allowlists the host or network: loopback,
// RFC 1918 private ranges, CGNAT (100.64.0.0/10), unique local IPv6
// (fc00::/7), and the special-purpose ranges. Refused always, allowlist or
// not: link-local (169.254.0.0/16 — which holds the cloud metadata service
// at 169.254.169.254 — and fe80::/10), the other known metadata addresses,
// 0.0.0.0/8, multicast, broadcast, NAT64 and other IPv6 forms that embed
// an IPv4 address. Redirects are not followed. Every refusal is the same
// error, so the guard does not map the network for whoever asks.
package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrRefused is the one error every refused destination gets.
var ErrRefused = errors.New("destination not allowed: only public hosts on permitted ports can be reached")

// Resolver resolves host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says which schemes and ports a caller accepts for public hosts.
// Allowlisted internal hosts may use any scheme of the caller and any port.
type Policy struct {
	Schemes []string // e.g. https; empty for non-URL protocols (SMTP)
	Ports   []int
}

// Policies used by the connectors.
var (
	// HTTPS: provider APIs (Twilio, Meta, Google) — https on 443.
	HTTPS = Policy{Schemes: []string{"https"}, Ports: []int{443}}
	// Webhook: user URLs — https on 80 or 443 by default.
	Webhook = Policy{Schemes: []string{"https"}, Ports: []int{80, 443}}
	// SMTP: mail submission ports.
	SMTP = Policy{Ports: []int{25, 465, 587, 2525}}
)

// Guard checks destinations. It is safe for concurrent use.
type Guard struct {
	resolver      Resolver
	allowHosts    map[string]bool
	allowNets     []netip.Prefix
	allowLoopback bool
	dialer        net.Dialer
}

// Option configures a Guard.
type Option func(*Guard) error

// WithResolver replaces the system resolver (tests use a fake one).
func WithResolver(r Resolver) Option {
	return func(g *Guard) error { g.resolver = r; return nil }
}

// WithAllowlist lets connectors reach internal hosts: host names (exact,
// case-insensitive), IP addresses or CIDR prefixes. Allowlisted
// destinations may use any port and plain http. The allowlist never
// unlocks link-local addresses (the metadata service), multicast or
// 0.0.0.0/8.
func WithAllowlist(entries ...string) Option {
	return func(g *Guard) error {
		for _, e := range entries {
			e = strings.TrimSpace(strings.ToLower(e))
			if e == "" {
				continue
			}
			if p, err := netip.ParsePrefix(e); err == nil {
				g.allowNets = append(g.allowNets, p.Masked())
				continue
			}
			if a, err := netip.ParseAddr(e); err == nil {
				g.allowNets = append(g.allowNets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if !hostnameRE.MatchString(e) || looksNumeric(e) {
				return fmt.Errorf("allowlist entry %q: want a host name, an IP address or a CIDR prefix", e)
			}
			g.allowHosts[strings.TrimSuffix(e, ".")] = true
		}
		return nil
	}
}

// AllowLoopbackForTests lets the guard reach 127.0.0.0/8 and ::1 on any
// port over plain http, for httptest servers. It is a constructor option
// for tests only; no configuration a user can set turns it on.
func AllowLoopbackForTests() Option {
	return func(g *Guard) error { g.allowLoopback = true; return nil }
}

// New returns a Guard.
func New(opts ...Option) (*Guard, error) {
	g := &Guard{resolver: net.DefaultResolver, allowHosts: map[string]bool{}, dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// MustNew is New that panics; for start-up and tests.
func MustNew(opts ...Option) *Guard {
	g, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return g
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$`)

// numericHostRE matches hosts made only of numbers (decimal, octal, hex)
// and dots: "2130706433", "0x7f000001", "0177.0.0.1", "127.1". Some
// resolvers read them as IPv4 addresses; only the canonical dotted quad is
// accepted, as an address.
var numericHostRE = regexp.MustCompile(`^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$`)

func looksNumeric(h string) bool { return numericHostRE.MatchString(strings.ToLower(h)) }

var (
	// never: refused even for allowlisted hosts.
	never = prefixes(
		"0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
		"100.100.100.200/32",                                   // Alibaba Cloud metadata
		"::/128", "fe80::/10", "ff00::/8", "fd00:ec2::254/128", // AWS IPv6 metadata
		"::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "100::/64",
	)
	// internal: refused unless allowlisted.
	internal = prefixes(
		"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
		"192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"::1/128", "fc00::/7", "2001:db8::/32", "fec0::/10",
	)
	loopback = prefixes("127.0.0.0/8", "::1/128")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipv4Compatible reports the deprecated ::a.b.c.d form (but not :: or ::1).
func ipv4Compatible(a netip.Addr) bool {
	if !a.Is6() || a.Is4In6() || a.IsLoopback() || a.IsUnspecified() {
		return false
	}
	b := a.As16()
	for _, x := range b[:12] {
		if x != 0 {
			return false
		}
	}
	return true
}

// addrAllowed decides one resolved (or literal) address for host.
func (g *Guard) addrAllowed(host string, a netip.Addr) bool {
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap() // resolvers may hand IPv4 answers back as ::ffff:a.b.c.d
	}
	if inAny(a, never) || ipv4Compatible(a) {
		return false
	}
	if g.allowLoopback && inAny(a, loopback) {
		return true
	}
	if !inAny(a, internal) {
		return true
	}
	return g.allowHosts[host] || inAny(a, g.allowNets)
}

// allowlisted reports whether host (a name or a literal) is on the
// operator's allowlist, which frees it from the scheme and port policy.
func (g *Guard) allowlisted(host string) bool {
	if g.allowHosts[host] {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return inAny(a, g.allowNets) || (g.allowLoopback && inAny(a, loopback))
	}
	return g.allowLoopback && host == "localhost"
}

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// CheckHost checks a host name or literal address (not yet resolved) and
// port against the policy. Names are checked again, resolved, at dial time.
func (g *Guard) CheckHost(host string, port int, p Policy) error {
	host = normHost(host)
	if host == "" || port <= 0 || port > 65535 {
		return ErrRefused
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is4In6() || !g.addrAllowed(host, a) {
			return ErrRefused
		}
	} else if looksNumeric(host) || !hostnameRE.MatchString(host) {
		return ErrRefused
	}
	if g.allowlisted(host) {
		return nil
	}
	if !slices.Contains(p.Ports, port) {
		return ErrRefused
	}
	return nil
}

// CheckURL parses raw and checks its scheme, host and port against the
// policy. It returns the parsed URL.
func (g *Guard) CheckURL(raw string, p Policy) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("not a valid absolute URL")
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not allowed")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, ErrRefused
	}
	host := normHost(u.Hostname())
	port := 443
	if scheme == "http" {
		port = 80
	}
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil {
			return nil, ErrRefused
		}
		port = n
	}
	if !slices.Contains(p.Schemes, scheme) && !g.allowlisted(host) {
		return nil, ErrRefused
	}
	if err := g.CheckHost(host, port, p); err != nil {
		return nil, err
	}
	return u, nil
}

// Dialer returns a DialContext function that resolves addr's host, refuses
// it unless every address it resolves to is allowed, and connects to the
// checked addresses only.
func (g *Guard) Dialer(p Policy) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			return nil, ErrRefused
		}
		h, ps, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, ErrRefused
		}
		port, err := strconv.Atoi(ps)
		if err != nil {
			return nil, ErrRefused
		}
		host := normHost(h)
		if err := g.CheckHost(host, port, p); err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			addrs, err = g.resolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, fmt.Errorf("could not resolve %s", host)
			}
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("could not resolve %s", host)
		}
		for _, a := range addrs {
			if !g.addrAllowed(host, a) {
				return nil, ErrRefused
			}
		}
		var firstErr error
		for _, a := range addrs {
			conn, err := g.dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.Unmap().String(), ps))
			if err == nil {
				return conn, nil
			}
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		return nil, firstErr
	}
}

// HTTPClient returns a client for policy p: every request's URL is
// checked, connections go through the guarded dialer, proxies from the
// environment are ignored (a proxy would dial for us, unchecked) and
// redirects are returned, not followed.
func (g *Guard) HTTPClient(p Policy, timeout time.Duration, tlsConf *tls.Config) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            g.Dialer(p),
		TLSClientConfig:        tlsConf,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     &checkedTransport{g: g, p: p, next: tr},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type checkedTransport struct {
	g    *Guard
	p    Policy
	next http.RoundTripper
}

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, err := t.g.CheckURL(req.URL.String(), t.p); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}
