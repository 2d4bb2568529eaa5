package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/netguard"
)

// fakeResolver answers from a table, like a DNS server an attacker controls.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(ips))
	for i, s := range ips {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	g := netguard.MustNew(netguard.WithResolver(fakeResolver{}))
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"public https", "https://hooks.example.com/x", true},
		{"public https 80", "https://hooks.example.com:80/x", true},
		{"explicit 443", "https://hooks.example.com:443/x", true},
		{"plain http", "http://hooks.example.com/x", false},
		{"other port", "https://hooks.example.com:8443/x", false},
		{"ftp", "ftp://hooks.example.com/x", false},
		{"loopback", "https://127.0.0.1/x", false},
		{"loopback v6", "https://[::1]/x", false},
		{"hex integer", "https://0x7f000001/x", false},
		{"decimal integer", "https://2130706433/x", false},
		{"octal", "https://0177.0.0.1/x", false},
		{"short form", "https://127.1/x", false},
		{"metadata", "https://169.254.169.254/latest/meta-data", false},
		{"private 10", "https://10.0.0.1/", false},
		{"private 172", "https://172.16.5.4/", false},
		{"private 192", "https://192.168.1.1/", false},
		{"cgnat", "https://100.64.0.1/", false},
		{"ula", "https://[fd12::1]/", false},
		{"link-local v6", "https://[fe80::1]/", false},
		{"v4-mapped", "https://[::ffff:127.0.0.1]/", false},
		{"v4-mapped public", "https://[::ffff:8.8.8.8]/", false},
		{"nat64", "https://[64:ff9b::a00:1]/", false},
		{"v4-compatible", "https://[::a00:1]/", false},
		{"multicast", "https://224.0.0.1/", false},
		{"zero net", "https://0.0.0.0/", false},
		{"public ip", "https://93.184.215.14/", true},
		{"credentials", "https://user:pw@hooks.example.com/", false},
		{"relative", "/just/a/path", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.CheckURL(tt.url, netguard.Webhook)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestDialChecksResolvedAddresses(t *testing.T) {
	t.Parallel()
	// A loopback server stands in for any internal service: if the guard
	// let a request through, it would be counted.
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(internal.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(internal.URL, "http://"))

	res := fakeResolver{
		"public-looking.example": {"10.0.0.1"},
		"rebind.example":         {"93.184.215.14", "127.0.0.1"},
		"mapped.example":         {"::ffff:169.254.169.254"},
		"loop.example":           {"127.0.0.1"},
		"meta.internal":          {"169.254.169.254"},
		"localhost":              {"127.0.0.1", "::1"},
	}
	g := netguard.MustNew(netguard.WithResolver(res))
	dial := g.Dialer(netguard.Policy{Ports: []int{443, mustAtoi(port)}})
	for _, host := range []string{"public-looking.example", "rebind.example", "mapped.example", "loop.example", "127.0.0.1", "[::1]", "localhost"} {
		_, err := dial(context.Background(), "tcp", net.JoinHostPort(strings.Trim(host, "[]"), port))
		require.ErrorIs(t, err, netguard.ErrRefused, host)
		require.Equal(t, netguard.ErrRefused.Error(), err.Error(), "one generic error, no detail about the network")
	}
	_, err := dial(context.Background(), "udp", "93.184.215.14:443")
	require.ErrorIs(t, err, netguard.ErrRefused)
	_, err = dial(context.Background(), "tcp", "nowhere.example:443")
	require.ErrorContains(t, err, "could not resolve")

	// The allowlist opens an internal host by name or network, with any
	// port — but never the metadata address.
	allow := netguard.MustNew(netguard.WithResolver(res), netguard.WithAllowlist("loop.example", "meta.internal", "169.254.0.0/16", "10.0.0.0/8"))
	conn, err := allow.Dialer(netguard.HTTPS)(context.Background(), "tcp", "loop.example:"+port)
	require.NoError(t, err)
	conn.Close()
	_, err = allow.Dialer(netguard.HTTPS)(context.Background(), "tcp", "meta.internal:80")
	require.ErrorIs(t, err, netguard.ErrRefused)
	_, err = allow.CheckURL("http://169.254.169.254/latest/meta-data/", netguard.HTTPS)
	require.ErrorIs(t, err, netguard.ErrRefused)
	_, err = allow.CheckURL("http://10.1.2.3:8080/hook", netguard.Webhook)
	require.NoError(t, err, "allowlisted networks may use http and any port")
	_, err = allow.CheckURL("http://loop.example:8080/hook", netguard.Webhook)
	require.NoError(t, err)

	_, err = netguard.New(netguard.WithAllowlist("0x7f000001"))
	require.Error(t, err)
	_, err = netguard.New(netguard.WithAllowlist("not a host"))
	require.Error(t, err)
	require.Zero(t, hits.Load())
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestHTTPClient(t *testing.T) { // not parallel: sets proxy variables
	var internalHits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	t.Cleanup(internal.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-private":
			http.Redirect(w, r, "http://10.0.0.1/admin", http.StatusFound)
		case "/to-loopback":
			http.Redirect(w, r, internal.URL+"/x", http.StatusFound)
		default:
			w.WriteHeader(204)
		}
	}))
	t.Cleanup(redirector.Close)

	// Without the test option, the loopback server is unreachable.
	strict := netguard.MustNew().HTTPClient(netguard.Webhook, 5*time.Second, nil)
	_, err := strict.Get(redirector.URL + "/ok")
	require.ErrorIs(t, err, netguard.ErrRefused)

	// With it, requests work, and redirects come back unfollowed.
	c := netguard.MustNew(netguard.AllowLoopbackForTests()).HTTPClient(netguard.Webhook, 5*time.Second, nil)
	resp, err := c.Get(redirector.URL + "/ok")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode)
	for _, p := range []string{"/to-private", "/to-loopback"} {
		resp, err = c.Get(redirector.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
	}
	require.Zero(t, internalHits.Load(), "redirects are never followed")

	// The metadata address stays closed even with the test option.
	_, err = c.Get("http://169.254.169.254/latest/meta-data/")
	require.True(t, errors.Is(err, netguard.ErrRefused), "%v", err)

	// Proxies from the environment are ignored (a proxy would dial unchecked).
	t.Setenv("HTTPS_PROXY", internal.URL)
	t.Setenv("HTTP_PROXY", internal.URL)
	resp, err = c.Get(redirector.URL + "/ok")
	require.NoError(t, err)
	resp.Body.Close()
	require.Zero(t, internalHits.Load())
}
