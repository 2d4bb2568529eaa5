package web_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

// firstLoad is what the page says about one cold open of the editor.
type firstLoad struct {
	Ready       float64 // the waymark-editor-ready mark, ms from navigation start
	ResponseEnd float64 // the page's HTML fully received
	DOMContent  float64 // DOMContentLoaded ended
	LongTasks   []float64
	Resources   []loadedResource
}

type loadedResource struct {
	Name        string
	Type        string // initiatorType: script, link, …
	Encoded     float64
	Decoded     float64
	ResponseEnd float64
}

// TestEditorFirstLoad opens the editor on a 400-step journey with an
// empty browser cache, as a first visit does, three times, and logs how
// long it took (navigation start to the editor-ready mark), when the HTML
// and each asset arrived, and the long tasks on the main thread. Timing is
// reported, never asserted; what is asserted is that the page, its
// scripts and its styles came compressed (issue 21, item 7).
func TestEditorFirstLoad(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	// The journey is created through the service: the test server's body
	// limit (64 KB) is smaller than a 400-step document.
	id := bb.bigJourney(400)

	// What the browser received: each response's Content-Encoding, by URL.
	var mu sync.Mutex
	encodings := map[string]string{}
	kinds := map[string]network.ResourceType{}
	require.NoError(t, chromedp.Listen(bb.br.Context(), func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && strings.HasPrefix(e.Response.URL, bb.base) {
			enc := ""
			for k, v := range e.Response.Headers {
				if strings.EqualFold(k, "content-encoding") {
					enc = fmt.Sprint(v)
				}
			}
			mu.Lock()
			encodings[e.Response.URL], kinds[e.Response.URL] = enc, e.Type
			mu.Unlock()
		}
	}))
	_, err := chromedp.Call(bb.br.Context(), network.Enable, network.EnableParams{})
	require.NoError(t, err)

	editor := bb.base + "/journeys/" + id + "/edit"
	decoded := map[string]float64{} // the size of what each URL carried
	for i := range 3 {
		_, err := chromedp.Call(bb.br.Context(), network.ClearBrowserCache, cdp.Empty{})
		require.NoError(t, err)
		bb.br.Navigate("about:blank")
		start := time.Now()
		bb.br.Navigate(editor)
		bb.waitReady()
		wall := time.Since(start)
		fl := browsertest.Eval[firstLoad](bb.br, `(async () => {
			const nav = performance.getEntriesByType('navigation')[0];
			const ready = performance.getEntriesByName('waymark-editor-ready')[0];
			const long = await new Promise((resolve) => {
				const seen = [];
				try {
					const po = new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.push(Math.round(e.duration)); });
					po.observe({type: 'longtask', buffered: true});
					setTimeout(() => { po.disconnect(); resolve(seen); }, 50);
				} catch (err) { resolve(seen); }
			});
			return {
				Ready: ready ? ready.startTime : -1,
				ResponseEnd: nav.responseEnd,
				DOMContent: nav.domContentLoadedEventEnd,
				LongTasks: long,
				Resources: [{Name: location.pathname, Type: 'navigation', Encoded: nav.encodedBodySize, Decoded: nav.decodedBodySize, ResponseEnd: nav.responseEnd}].concat(
					performance.getEntriesByType('resource').map((r) => ({Name: r.name.replace(location.origin, ''), Type: r.initiatorType,
						Encoded: r.encodedBodySize, Decoded: r.decodedBodySize, ResponseEnd: r.responseEnd}))),
			};
		})()`)
		require.Positive(t, fl.Ready, "the editor sets its ready mark")
		var enc, dec float64
		var lines []string
		for _, r := range fl.Resources {
			decoded[r.Name] = r.Decoded
			enc += r.Encoded
			dec += r.Decoded
			lines = append(lines, fmt.Sprintf("%s %s %.0f→%.0f B at %.0f ms", r.Type, r.Name, r.Decoded, r.Encoded, r.ResponseEnd))
		}
		t.Logf("cold open %d of a 400-step journey: editor ready at %.0f ms from navigation start (%v wall); HTML received at %.0f ms, DOMContentLoaded at %.0f ms; %.0f KB transferred for %.0f KB; long tasks %v ms\n  %s",
			i+1, fl.Ready, wall.Round(time.Millisecond), fl.ResponseEnd, fl.DOMContent, enc/1024, dec/1024, fl.LongTasks, strings.Join(lines, "\n  "))

		// Every page, script and stylesheet worth compressing came compressed.
		for _, r := range fl.Resources {
			if r.Decoded < 1024 || (r.Type != "navigation" && r.Type != "script" && r.Type != "link" && r.Type != "css") {
				continue
			}
			require.Less(t, r.Encoded, r.Decoded, "%s (%s) came uncompressed", r.Name, r.Type)
		}
	}
	// One more cold open under the JavaScript profiler: where the main
	// thread's time goes (self time by script and by function). The
	// profiler slows the page, so this open is not timed.
	_, err = chromedp.Call(bb.br.Context(), network.ClearBrowserCache, cdp.Empty{})
	require.NoError(t, err)
	bb.br.Navigate(bb.base + "/journeys") // same site: the profiler stays attached
	t.Logf("where a cold open spends its JavaScript time:\n%s", bb.profile(func() {
		bb.br.Navigate(editor)
		bb.waitReady()
	}))

	mu.Lock()
	defer mu.Unlock()
	var checked int
	for u, kind := range kinds {
		if kind != network.ResourceTypeDocument && kind != network.ResourceTypeScript && kind != network.ResourceTypeStylesheet {
			continue
		}
		if size, ok := decoded[strings.TrimPrefix(u, bb.base)]; !ok || size < 1024 {
			continue // under a kilobyte: not worth compressing
		}
		checked++
		require.Contains(t, []string{"br", "gzip"}, encodings[u], "%s (%s) was sent without compression", u, kind)
	}
	require.Greater(t, checked, 4, "the page, its scripts and its styles were seen")
}

// bigJourney stores a draft journey of n steps (bigJourney's shape) and
// returns its id.
func (bb *browserBundle) bigJourney(n int) string {
	bb.t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(bb.t, builtin.Register(reg))
	doc, err := flows.Marshal(bigJourney(n))
	require.NoError(bb.t, err)
	j, problems, err := journeys.New(bb.Store, reg).Create(bb.Ctx, store.DefaultWorkspaceID, doc, "test", journeys.SaveOptions{})
	require.NoError(bb.t, err)
	require.Empty(bb.t, problems)
	return j.ID
}

// profile runs fn under the JavaScript sampling profiler and summarises
// the samples: self time by script and the functions that took most.
func (bb *browserBundle) profile(fn func()) string {
	bb.t.Helper()
	ctx := bb.br.Context()
	_, err := chromedp.Call(ctx, profiler.Enable, cdp.Empty{})
	require.NoError(bb.t, err)
	_, err = chromedp.Call(ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200})
	require.NoError(bb.t, err)
	_, err = chromedp.Call(ctx, profiler.Start, cdp.Empty{})
	require.NoError(bb.t, err)
	fn()
	res, err := chromedp.Call(ctx, profiler.Stop, cdp.Empty{})
	require.NoError(bb.t, err)
	_, _ = chromedp.Call(ctx, profiler.Disable, cdp.Empty{})
	prof := res.Profile
	byID := map[int64]*profiler.ProfileNode{}
	for _, n := range prof.Nodes {
		byID[n.ID] = n
	}
	parent := map[int64]int64{}
	for _, n := range prof.Nodes {
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	short := func(u string) string {
		if i := strings.LastIndex(u, "/"); i >= 0 {
			return u[i+1:]
		}
		return u
	}
	// entry is the outermost script frame of a sample: whose work it is
	// (x6.min.js loading itself, or editor/main.js drawing with X6).
	entry := func(id int64) string {
		name := ""
		for n := byID[id]; n != nil; n = byID[parent[n.ID]] {
			if n.CallFrame != nil && n.CallFrame.URL != "" {
				name = short(n.CallFrame.URL)
				if n.CallFrame.FunctionName == "" {
					name += " (top level)"
				}
			}
			if _, ok := parent[n.ID]; !ok {
				break
			}
		}
		return name
	}
	byScript, byFunc, byEntry := map[string]float64{}, map[string]float64{}, map[string]float64{}
	var total float64
	for i, id := range prof.Samples {
		if i+1 >= len(prof.TimeDeltas) {
			break
		}
		n := byID[id]
		if n == nil || n.CallFrame == nil || n.CallFrame.FunctionName == "(idle)" {
			continue
		}
		ms := float64(prof.TimeDeltas[i+1]) / 1000
		total += ms
		script := short(n.CallFrame.URL)
		if script == "" {
			script = n.CallFrame.FunctionName // (program), (garbage collector)
		}
		byScript[script] += ms
		if e := entry(id); e != "" {
			byEntry[e] += ms
		} else {
			byEntry[script] += ms
		}
		fname := n.CallFrame.FunctionName
		if fname == "" {
			fname = "(anonymous)"
		}
		byFunc[fmt.Sprintf("%s %s:%d:%d", fname, script, n.CallFrame.LineNumber+1, n.CallFrame.ColumnNumber+1)] += ms
	}
	top := func(m map[string]float64, k int) string {
		keys := make([]string, 0, len(m))
		for key := range m {
			keys = append(keys, key)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
		var b strings.Builder
		for i, key := range keys {
			if i == k {
				break
			}
			fmt.Fprintf(&b, "    %6.1f ms  %s\n", m[key], key)
		}
		return b.String()
	}
	return fmt.Sprintf("  %.0f ms busy; by the script that started the work:\n%s  self time by script:\n%s  by function:\n%s",
		total, top(byEntry, 10), top(byScript, 10), top(byFunc, 15))
}
