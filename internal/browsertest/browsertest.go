// Package browsertest drives headless Chromium (through chromedp) for
// Waymark's browser tests.
//
// Each test gets its own browser with a fresh profile and a 1280×800
// viewport. Every console error, uncaught exception and browser log error
// (a refused Content-Security-Policy, a failed request) is collected and
// fails the test when it ends, unless the test allowed it. When a test
// fails, a screenshot of the page is saved and its path logged.
//
// The Chromium binary comes from WAYMARK_TEST_CHROMIUM; without it the
// test skips loudly, and under CI=true it fails (see internal/testenv).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/waymarkhq/waymark/internal/testenv"
)

// Viewport is the size every test browser emulates.
const (
	ViewportWidth  = 1280
	ViewportHeight = 800
)

// DefaultTimeout bounds each Do, Run and Eval call.
const DefaultTimeout = 20 * time.Second

// Browser is one headless Chromium tab for one test.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []string
	allowed []*regexp.Regexp

	// Timeout bounds each call; DefaultTimeout unless changed.
	Timeout time.Duration
}

// Flags are the Chromium command-line flags the tests use.
func Flags(chromium, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
	}
}

// New starts a browser for t. It is closed when the test ends.
func New(t testing.TB) *Browser {
	t.Helper()
	chromium := testenv.Chromium(t)
	profile := t.TempDir()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), Flags(chromium, profile)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Registered first, so it runs last: after the checks and the screenshot.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &Browser{t: t, ctx: ctx, Timeout: DefaultTimeout}

	// The first call starts the browser; it must have no deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", chromium, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			line := m.String()
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			b.mu.Lock()
			b.console = append(b.console, line)
			b.mu.Unlock()
		}
	}()
	b.Do(chromedp.EmulateViewport(ViewportWidth, ViewportHeight))

	t.Cleanup(func() {
		// Let the last console events arrive.
		time.Sleep(50 * time.Millisecond)
		if errs := b.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("the page logged %d console error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
		}
		if t.Failed() {
			if p, err := b.saveScreenshot("failure"); err != nil {
				t.Logf("taking a failure screenshot: %v", err)
			} else {
				t.Logf("failure screenshot: %s", p)
			}
		}
	})
	return b
}

// Context returns the tab's context (no deadline), for chromedp calls the
// helpers do not cover.
func (b *Browser) Context() context.Context { return b.ctx }

// AllowConsole makes console errors matching pattern expected (e.g. the
// browser's log line for a deliberate 409 response).
func (b *Browser) AllowConsole(pattern string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, regexp.MustCompile(pattern))
}

// ConsoleErrors returns the console errors seen so far that were not allowed.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, line := range b.console {
		for _, re := range b.allowed {
			if re.MatchString(line) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// AllConsole returns every console error seen so far, allowed or not.
func (b *Browser) AllConsole() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

func (b *Browser) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, b.Timeout)
}

// Do runs actions in order and fails the test at the first error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Try runs actions and returns the error instead of failing the test.
func (b *Browser) Try(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := b.timeout()
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Run runs one action and returns its value, failing the test on error.
func Run[T any](b *Browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// Eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its result.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	return Run(b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// WaitJS polls a JavaScript expression until it is truthy. Errors while
// polling (a page that is navigating) count as "not yet".
func (b *Browser) WaitJS(js string) {
	b.t.Helper()
	deadline := time.Now().Add(b.Timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				b.t.Fatalf("browser: waiting for %s: %v", js, last)
			}
			b.t.Fatalf("browser: waiting for %s: timed out after %s", js, b.Timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Navigate opens url and waits for the load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Do(chromedp.Navigate(url))
}

// Screenshot saves a PNG of the viewport under name and returns its path
// (for looking at the UI while developing).
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	p, err := b.saveScreenshot(name)
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

// ArtifactsDir is where screenshots go: WAYMARK_TEST_ARTIFACTS, or
// waymark-browsertest in the system temp dir.
func ArtifactsDir() string {
	if d := os.Getenv("WAYMARK_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "waymark-browsertest")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (b *Browser) saveScreenshot(name string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	dir := ArtifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, unsafeName.ReplaceAllString(b.t.Name(), "_")+"-"+unsafeName.ReplaceAllString(name, "_")+".png")
	return p, os.WriteFile(p, png, 0o644)
}
