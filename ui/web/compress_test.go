package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// fetchEncoded GETs path with an Accept-Encoding header and returns the
// response and its body decoded from whatever coding it came in.
func fetchEncoded(t *testing.T, c *uitest.Client, method, path, acceptEncoding string) (*http.Response, []byte, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp := c.Do(req)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if method == http.MethodHead {
		return resp, raw, nil
	}
	var r io.Reader
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "":
		return resp, raw, raw
	case "br":
		r = brotli.NewReader(bytes.NewReader(raw))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		r = zr
	default:
		t.Fatalf("%s: unexpected Content-Encoding %q", path, enc)
	}
	decoded, err := io.ReadAll(r)
	require.NoError(t, err, "%s: the %s body does not decode", path, resp.Header.Get("Content-Encoding"))
	return resp, raw, decoded
}

var staticURL = regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)

// TestResponsesAreCompressed: the editor's page (a 400-step journey),
// its scripts and its styles come Brotli- or gzip-compressed as the
// client asks, with Vary: Accept-Encoding, and decode to exactly what an
// uncompressed request gets; tiny bodies, HEAD requests and streamed CSV
// exports are left alone (issue 21, item 7).
func TestResponsesAreCompressed(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupSQL(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Big"}})
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": bigJourney(400)})
	require.Equal(t, 200, resp.StatusCode, out)

	// The page: compressed per response.
	editor := "/journeys/" + id + "/edit"
	resp, plain, _ := fetchEncoded(t, c.Client, "GET", editor, "")
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Content-Encoding"))
	require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
	require.Greater(t, len(plain), 50_000, "a 400-step editor page is large")
	for ae, want := range map[string]string{"gzip, deflate, br": "br", "gzip": "gzip", "br;q=0, gzip": "gzip", "identity": ""} {
		resp, raw, decoded := fetchEncoded(t, c.Client, "GET", editor, ae)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, want, resp.Header.Get("Content-Encoding"), "Accept-Encoding: %s", ae)
		require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
		require.Equal(t, len(plain), len(decoded), "the page decodes to the same page")
		if want != "" {
			require.Less(t, len(raw)*4, len(plain), "%s compresses the page at least 4×", want)
		}
	}

	// The assets: every script and stylesheet the page loads.
	urls := staticURL.FindAllStringSubmatch(string(plain), -1)
	var scripts, styles int
	for _, m := range urls {
		u := m[1]
		resp, ident, _ := fetchEncoded(t, c.Client, "GET", u, "")
		require.Equal(t, 200, resp.StatusCode, u)
		if len(ident) < 1024 {
			continue // the favicon, app.js: too small to be worth it
		}
		switch {
		case strings.HasSuffix(u, ".js"):
			scripts++
		case strings.HasSuffix(u, ".css"):
			styles++
		}
		require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding", u)
		for _, enc := range []string{"br", "gzip"} {
			for range 2 { // the second answer comes from the cache
				resp, raw, decoded := fetchEncoded(t, c.Client, "GET", u, "gzip, deflate, "+enc)
				require.Equal(t, 200, resp.StatusCode, u)
				require.Equal(t, enc, resp.Header.Get("Content-Encoding"), u)
				require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding", u)
				require.Contains(t, resp.Header.Get("Cache-Control"), "immutable", u)
				require.Equal(t, ident, decoded, u)
				require.Less(t, len(raw), len(ident), u)
			}
		}
		// HEAD: the headers of the compressed answer, no body.
		resp, raw, _ := fetchEncoded(t, c.Client, "HEAD", u, "br")
		require.Equal(t, 200, resp.StatusCode, u)
		require.Empty(t, raw)
	}
	require.Positive(t, scripts, "the editor loads scripts")
	require.Positive(t, styles, "the editor loads stylesheets")

	// A tiny body is sent as it is.
	resp, raw, _ := fetchEncoded(t, c.Client, "GET", "/healthz", "gzip, br")
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Content-Encoding"))
	require.Less(t, len(raw), 1024)

	// A streamed CSV export stays a stream, uncompressed.
	resp, raw, _ = fetchEncoded(t, c.Client, "GET", "/journeys/"+id+"/runs.csv", "gzip, br")
	require.Equal(t, 200, resp.StatusCode, string(raw))
	require.Empty(t, resp.Header.Get("Content-Encoding"))
	require.True(t, strings.HasPrefix(string(raw), "run_id") || strings.Contains(string(raw), ","), string(raw))
}
