package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
)

const page = `<!doctype html><html><head><title>t</title><script src="/app.js" defer></script></head>
<body><p id="msg">hello</p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt=""></body></html>`

func server(t *testing.T, js string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:")
		if r.URL.Path == "/app.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(js))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBrowserDrivesAPage(t *testing.T) {
	b := browsertest.New(t)
	b.Navigate(server(t, `document.getElementById('msg').textContent = 'ready';`))
	b.WaitJS(`document.getElementById('msg').textContent === 'ready'`)
	require.Equal(t, "ready", browsertest.Run(b, chromedp.Text(chromedp.ID("msg"))))
	require.EqualValues(t, browsertest.ViewportWidth, browsertest.Eval[int](b, `window.innerWidth`))
	require.EqualValues(t, browsertest.ViewportHeight, browsertest.Eval[int](b, `window.innerHeight`))
	t.Setenv("WAYMARK_TEST_ARTIFACTS", t.TempDir())
	p := b.Screenshot("page")
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Positive(t, st.Size())
	require.Equal(t, os.Getenv("WAYMARK_TEST_ARTIFACTS"), filepath.Dir(p))
	require.Empty(t, b.ConsoleErrors())
}

// TestConsoleErrorsAreCaught: console errors, uncaught exceptions and
// refused inline styles are all collected (New fails a test with the ones
// it did not allow when the test ends).
func TestConsoleErrorsAreCaught(t *testing.T) {
	b := browsertest.New(t)
	b.AllowConsole(`.*`) // this test looks at them itself
	b.Navigate(server(t, `
		console.error('boom');
		const s = document.createElement('style'); s.textContent = 'p { color: red }'; document.head.append(s);
		setTimeout(() => { throw new Error('uncaught'); }, 0);
	`))
	want := map[string]string{"console": "boom", "exception": "uncaught", "csp": "Content Security Policy"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[string]bool{}
		for _, line := range b.AllConsole() {
			for k, sub := range want {
				if strings.Contains(line, sub) {
					got[k] = true
				}
			}
		}
		if len(got) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console errors seen: %q; want one with each of %v", b.AllConsole(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Empty(t, b.ConsoleErrors(), "allowed errors are not reported")
}
