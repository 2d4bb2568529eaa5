package web_test

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// scenarioJourney: a quarter of the entrants (n % 4 == 0) take the "gold"
// branch, whose connector the engine cannot resolve, so they fail there;
// the rest split 50/50: a sends an email and ends, b waits a day first.
// The goal is a purchase within 7 days.
const scenarioJourney = `{"format": 1, "name": "Scenario", "settings": {"reentry": "always", "goal": {"event": "purchase", "window": "7d"}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "tier", "kind": "switch", "config": {"cases": [{"name": "gold", "expr": "int(event.properties.n) % 4 == 0"}]}},
	{"id": "vip", "kind": "send_email", "config": {"connector": "flaky", "subject": "VIP", "body": "<p>VIP</p>"}},
	{"id": "split", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "pause", "kind": "delay", "config": {"duration": "1d"}},
	{"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "tier"}, {"from": "tier", "port": "gold", "to": "vip"}, {"from": "tier", "port": "default", "to": "split"},
	{"from": "split", "port": "a", "to": "hello"}, {"from": "split", "port": "b", "to": "pause"},
	{"from": "hello", "port": "out", "to": "done"}, {"from": "pause", "to": "done"}]}`

// TestReportScenario pushes 10,000 entries with known attributes through
// the engine and checks the canvas counters and the report's charts
// against what each entrant must have done: exact counts where the
// journey decides by attribute, the ledger's own split for the variants,
// and reconciliation at every node.
func TestReportScenario(t *testing.T) {
	t.Parallel()
	entries := int64(10000)
	if testing.Short() {
		entries = 500
	}
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(scenarioJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)

	const batch = 250
	for first := 0; first < int(entries); first += batch {
		evs := make([]string, 0, batch)
		for n := first; n < first+batch; n++ {
			evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "s%[1]d", "properties": {"n": %[1]d}, "profile": {"email": "s%[1]d@example.com"}}`, n))
		}
		res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
		require.Equal(t, 202, res.Status, string(res.Body))
	}
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	b.DrainDue(eng, clk)

	// Every fifth entrant buys.
	for first := 0; first < int(entries); first += batch * 5 {
		var evs []string
		for n := first; n < first+batch*5 && n < int(entries); n += 5 {
			evs = append(evs, fmt.Sprintf(`{"name": "purchase", "profile_id": "s%d"}`, n))
		}
		res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
		require.Equal(t, 202, res.Status, string(res.Body))
	}

	// What each run must have done, from its profile's n and the variant
	// its ledger recorded.
	variant := map[int]string{}
	var want struct{ gold, a, b, convA, convB, conv int64 }
	runs := map[string]int{}
	for cursor := ""; ; {
		page, next, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 500, After: cursor})
		require.NoError(t, err)
		for _, r := range page {
			p, err := b.Store.GetProfile(b.Ctx, r.ProfileID)
			require.NoError(t, err)
			var n int
			_, err = fmt.Sscanf(p.ExternalID, "s%d", &n)
			require.NoError(t, err)
			runs[r.ID] = n
			steps, err := b.Store.ListRunSteps(b.Ctx, r.ID)
			require.NoError(t, err)
			for _, s := range steps {
				if s.NodeID == "split" {
					variant[n] = s.Port
				}
			}
			if n%5 == 0 {
				want.conv++
				require.NotNil(t, r.ConvertedAt, "s%d bought", n)
			} else {
				require.Nil(t, r.ConvertedAt, "s%d did not buy", n)
			}
			switch {
			case n%4 == 0:
				want.gold++
				require.Equal(t, store.RunFailed, r.Status, "s%d: %+v %+v", n, r, steps)
				require.Equal(t, "vip", r.CurrentNode)
				require.Empty(t, variant[n], "gold runs skip the split")
			case variant[n] == "a":
				want.a++
				require.Equal(t, store.RunCompleted, r.Status, "s%d", n)
				if n%5 == 0 {
					want.convA++
				}
			case variant[n] == "b":
				want.b++
				require.Equal(t, store.RunWaiting, r.Status, "s%d", n)
				require.Equal(t, "pause", r.CurrentNode)
				if n%5 == 0 {
					want.convB++
				}
			default:
				t.Fatalf("s%d went neither to gold nor through the split: %v", n, steps)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, runs, int(entries), "one run per entrant")
	require.Equal(t, int64(entries/4), want.gold)
	require.Equal(t, int64(entries/5), want.conv)
	require.Equal(t, int64(entries*3/4), want.a+want.b)
	// A fair 50/50 split: within 5 standard deviations (±216 of 7,500).
	require.InDelta(t, float64(entries*3/8), float64(want.a), 5*0.5*math.Sqrt(float64(entries*3/4)))

	edges := [][3]string{{"start", "out", "tier"}, {"tier", "gold", "vip"}, {"tier", "default", "split"}, {"split", "a", "hello"},
		{"split", "b", "pause"}, {"hello", "out", "done"}, {"pause", "out", "done"}}
	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	st := b.CheckReconciles(reader, jid, edges)
	n := map[string]uitest.NodeStats{}
	for _, s := range st.Nodes {
		n[s.NodeID] = s
	}
	require.Equal(t, int64(entries), st.Journey.Entries)
	require.Equal(t, want.conv, st.Journey.Converted)
	require.InDelta(t, float64(want.conv)/float64(entries), st.Journey.ConversionRate, 1e-9)
	require.Equal(t, want.gold, n["tier"].Ports["gold"])
	require.Equal(t, want.a+want.b, n["tier"].Ports["default"])
	require.Equal(t, want.gold, n["vip"].Failed)
	require.Equal(t, want.gold, st.Journey.Failed)
	require.Equal(t, want.a, n["split"].Ports["a"])
	require.Equal(t, want.b, n["split"].Ports["b"])
	require.Equal(t, want.a, n["hello"].Ports["out"])
	require.Equal(t, want.a, n["done"].Exited)
	require.Equal(t, want.b, n["pause"].Waiting)
	require.Equal(t, want.b, st.Journey.Active)

	// The charts.
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	c := b.Client()
	c.Login("vi@example.com", "correct horse battery")
	resp, page := c.Get("/journeys/" + jid + "/report")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, fmt.Sprintf(`data-testid="report-totals">%d entries, %d conversions`, entries, want.conv))
	today := time.Now().UTC().Format("2006-01-02")
	require.Contains(t, page, fmt.Sprintf("<title>%s: %d entries</title>", today, entries))
	require.Contains(t, page, fmt.Sprintf("<title>%s: %d conversions</title>", today, want.conv))

	// The funnel follows the path most finished runs took — through a
	// (about 3,750 completed), not gold (2,500 failed) — and counts the
	// runs that came that far along it.
	funnel := regexp.MustCompile(`(?s)data-testid="chart-funnel".*?</svg>`).FindString(page)
	pctOf := func(v int64) string { return fmt.Sprintf("%.1f%%", 100*float64(v)/float64(entries)) }
	for _, step := range []struct {
		node  string
		count int64
	}{{"Event", entries}, {"Switch", entries}, {"Split", want.a + want.b}, {"Send email (hello)", want.a}, {"Exit", want.a}} {
		require.Contains(t, funnel, fmt.Sprintf("<title>%s: %d · %s</title>", step.node, step.count, pctOf(step.count)))
	}
	require.NotContains(t, funnel, "vip")
	require.NotContains(t, funnel, "Delay")

	// Messages by channel: a's emails went out.
	volume := regexp.MustCompile(`(?s)data-testid="chart-volume".*?</svg>`).FindString(page)
	require.Regexp(t, fmt.Sprintf(`<title>Send email: \d+ \([^<]*\b%d delivered\b`, want.a), volume)

	// Split variants: runs and conversions per variant, with intervals.
	variants := regexp.MustCompile(`(?s)data-testid="chart-variants".*?</svg>`).FindString(page)
	for _, v := range []struct {
		name      string
		runs, con int64
	}{{"a", want.a, want.convA}, {"b", want.b, want.convB}} {
		require.Contains(t, variants, fmt.Sprintf("<title>Split · %s: %d/%d converted = %.1f%% (95%% CI ", v.name, v.con, v.runs, 100*float64(v.con)/float64(v.runs)))
	}

	// A day later b's wait is over: everyone but gold has completed, and
	// the numbers still reconcile.
	clk.Add(25 * time.Hour)
	b.DrainDue(eng, clk)
	st = b.CheckReconciles(reader, jid, edges)
	n = map[string]uitest.NodeStats{}
	for _, s := range st.Nodes {
		n[s.NodeID] = s
	}
	require.Zero(t, st.Journey.Active)
	require.Equal(t, want.a+want.b, st.Journey.Completed)
	require.Equal(t, want.b, n["pause"].Ports["out"])
	require.Equal(t, want.a+want.b, n["done"].Exited)
}
