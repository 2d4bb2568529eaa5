package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// bigJourney builds a valid journey of n nodes: a webhook trigger, then a
// chain of conditions, emails, delays, SMS and profile updates, each
// condition's "no" ending in an exit. Positions are a grid.
func bigJourney(n int) *flows.Journey {
	j := &flows.Journey{Format: flows.Format, Name: fmt.Sprintf("Big journey (%d steps)", n)}
	pos := func(i int) flows.Position { return flows.Position{X: float64(i%20) * 260, Y: float64(i/20) * 180} }
	j.Nodes = append(j.Nodes, flows.Node{ID: "start", Kind: "trigger_webhook", Title: "Start", Position: pos(0),
		Config: map[string]any{"profile_id": "event.body.user_id"}})
	prev, prevPort := "start", ""
	for i := 1; len(j.Nodes) < n; i++ {
		id := fmt.Sprintf("n%d", i)
		var node flows.Node
		next := ""
		switch i % 5 {
		case 0:
			node = flows.Node{Kind: "condition", Config: map[string]any{"expr": fmt.Sprintf("profile.score > %d", i)}}
			next = "yes"
		case 1:
			node = flows.Node{Kind: "send_email", Config: map[string]any{"connector": "sandbox", "subject": fmt.Sprintf("Step %d for {{ profile.first_name }}", i), "body": "<p>Hello</p>"}}
			next = "out"
		case 2:
			node = flows.Node{Kind: "delay", Config: map[string]any{"duration": "1d"}}
		case 3:
			node = flows.Node{Kind: "send_sms", Config: map[string]any{"connector": "sandbox", "body": "Hi {{ profile.first_name }}"}}
			next = "out"
		case 4:
			node = flows.Node{Kind: "update_profile", Config: map[string]any{"assignments": []any{map[string]any{"attribute": "score", "expr": fmt.Sprintf("(profile.score ?? 0) + %d", i)}}}}
		}
		node.ID, node.Title, node.Position = id, fmt.Sprintf("Step %d", i), pos(len(j.Nodes))
		j.Nodes = append(j.Nodes, node)
		j.Edges = append(j.Edges, flows.Edge{From: prev, Port: prevPort, To: id})
		prev, prevPort = id, next
		if node.Kind == "condition" && len(j.Nodes) < n {
			exit := flows.Node{ID: id + "_exit", Kind: "exit", Title: "Not now", Position: pos(len(j.Nodes))}
			j.Nodes = append(j.Nodes, exit)
			j.Edges = append(j.Edges, flows.Edge{From: id, Port: "no", To: exit.ID})
		}
	}
	return j
}

func TestBigJourneyIsValid(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupSQL(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"x"}})
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": bigJourney(500)})
	require.Equal(t, 200, resp.StatusCode, out)
	require.Empty(t, out["problems"])
}

// benchEnv is a server with one signed-in editor, for benchmarks (the
// test helpers take a *testing.T).
type benchEnv struct {
	st      *store.Store
	srv     *ui.Server
	svc     *journeys.Service
	session *http.Cookie
	user    store.User
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+b.TempDir()+"/waymark.db", store.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(b, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(b, err)
	reg := nodes.NewRegistry()
	require.NoError(b, builtin.Register(reg))
	svc := journeys.New(st, reg)
	srv, err := ui.New(ui.Config{Version: "bench"}, ui.Deps{Store: st, Journeys: svc, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	hash, err := auth.HashPassword("correct horse battery")
	require.NoError(b, err)
	u, err := st.CreateUser(ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: "bench@example.com", PasswordHash: hash, Role: store.RoleEditor})
	require.NoError(b, err)
	tok := auth.Token(32)
	_, err = st.CreateSession(ctx, store.Session{ID: auth.HashToken(tok), UserID: u.ID, WorkspaceID: u.WorkspaceID,
		CSRFToken: auth.Token(32), ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(b, err)
	return &benchEnv{st: st, srv: srv, svc: svc, user: u, session: &http.Cookie{Name: "waymark_session", Value: tok}}
}

func (e *benchEnv) journey(b *testing.B, n int) string {
	b.Helper()
	doc, err := flows.Marshal(bigJourney(n))
	require.NoError(b, err)
	j, problems, err := e.svc.Create(context.Background(), store.DefaultWorkspaceID, doc, "bench", journeys.SaveOptions{})
	require.NoError(b, err)
	require.Empty(b, problems)
	return j.ID
}

// BenchmarkEditorRender measures the server side of opening the editor:
// session, journey, validation of the draft, and the page (goal < 20 ms).
func BenchmarkEditorRender(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			e := newBenchEnv(b)
			id := e.journey(b, n)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/journeys/"+id+"/edit", nil)
				req.AddCookie(e.session)
				resp, err := e.srv.App().Test(req, -1)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%v %v", err, resp.StatusCode)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
		})
	}
}

// BenchmarkEditor500NodesBrowser opens a 500-node journey in headless
// Chromium, then changes it and waits for the autosave (the server
// validates it): the goal is < 1 s in all. It reports open-ms
// (navigation to a drawn, interactive canvas), save-ms and total-ms. It
// needs WAYMARK_TEST_CHROMIUM.
func BenchmarkEditor500NodesBrowser(b *testing.B) {
	e := newBenchEnv(b)
	id := e.journey(b, 500)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go func() { _ = e.srv.App().Listener(ln) }()
	b.Cleanup(func() { _ = e.srv.Shutdown(context.Background()) })
	base := "http://" + ln.Addr().String()
	br := browsertest.New(b)
	br.Timeout = time.Minute
	br.Navigate(base + "/login")
	br.Do(
		chromedp.SendKeys(chromedp.CSS(`#email`), "bench@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
	)
	var open, save time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		br.Navigate(base + "/journeys/" + id + "/edit")
		// Interactive: the canvas is ready and the nodes in view are drawn
		// (the rest are drawn as they scroll into view).
		br.WaitJS(`window.waymarkEditor && window.waymarkEditor.ready && document.querySelector('[data-testid="node-start"]')`)
		open += time.Since(start)
		start = time.Now()
		ok := browsertest.Eval[bool](br, `(async () => {
			waymarkEditor.graph.getCellById('n7').translate(10, 0);
			await waymarkEditor.flush();
			return !waymarkEditor.state().dirty && waymarkEditor.state().problems.length === 0;
		})()`)
		save += time.Since(start)
		if !ok {
			b.Fatal("the save did not succeed")
		}
	}
	// Zooming out to the whole journey draws every node in view: time
	// until the number of drawn nodes stops growing.
	type fitResult struct{ MS, N float64 }
	fit := browsertest.Eval[fitResult](br, `(async () => {
		const t0 = performance.now();
		document.querySelector('[data-testid=tool-fit]').click();
		let last = -1, stable = 0, at = t0;
		while (stable < 20) {
			await new Promise((r) => requestAnimationFrame(r));
			const n = document.querySelectorAll('[data-testid^="node-"]').length;
			if (n !== last) { last = n; stable = 0; at = performance.now(); } else { stable++; }
		}
		return {MS: at - t0, N: last};
	})()`)
	b.ReportMetric(fit.MS, "zoom-out-ms")
	b.ReportMetric(fit.N, "nodes-drawn")
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(save.Milliseconds())/float64(b.N), "save-ms")
	b.ReportMetric(float64((open+save).Milliseconds())/float64(b.N), "total-ms")
}
