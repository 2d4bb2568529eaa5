// Package httpx holds what the HTTP connectors share: a request that knows
// whether it reached the wire, capped response bodies, Retry-After, and
// the classification of transport failures.
package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/netguard"
)

// MaxBody is how much of a response body is read.
const MaxBody = 64 << 10

// Response is a provider's answer with its body read (capped).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req and reads the response. On failure it reports whether the
// request had been written to the connection: a failure after that may
// have reached the provider.
func Do(c *http.Client, req *http.Request) (*Response, bool, error) {
	var wrote bool
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.Do(req)
	if err != nil {
		return nil, wrote, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, true, nil
}

// TransportError classifies a failure to get a response: refused by the
// SSRF guard is permanent; after the request was written it is unknown
// (the provider may have acted on it); before, transient.
func TransportError(ctx context.Context, err error, wrote bool) error {
	switch {
	case errors.Is(err, netguard.ErrRefused):
		return connectors.PermanentError(netguard.ErrRefused.Error(), nil)
	case ctx.Err() != nil && !wrote:
		return connectors.TransientError("cancelled before sending", 0, err)
	case wrote:
		return connectors.UnknownError("no answer after the request was sent", err)
	}
	return connectors.TransientError("could not reach the provider", 0, err)
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date), capped
// at an hour; 0 when absent or malformed.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Hour)
}

// Snippet is a short, single-line excerpt of a body for messages.
func Snippet(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
