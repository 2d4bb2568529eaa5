package web_test

import (
	"fmt"
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

func TestJourneyReport(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(strings.Replace(statsJourney, `"name": "Stats"`, `"name": "Stats <i>"`, 1)))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	const entries = 40
	var evs []string
	for i := 0; i < entries; i++ {
		group := "y"
		if i%2 == 0 {
			group = "x"
		}
		evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "r%[1]d", "properties": {"group": %[2]q}, "profile": {"email": "r%[1]d@example.com"}}`, i, group))
	}
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.DrainDue(eng, clk)
	// Three runs convert.
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 100})
	require.NoError(t, err)
	require.Len(t, runs, entries)
	for _, r := range runs[:3] {
		ok, err := b.Store.RecordConversion(b.Ctx, r.ID, store.Conversion{At: time.Now(), Value: 1})
		require.NoError(t, err)
		require.True(t, ok)
	}
	vs, err := b.Store.JourneyVariants(b.Ctx, store.DefaultWorkspaceID, jid, 1)
	require.NoError(t, err)
	require.Len(t, vs, 2)
	vol, err := b.Store.JourneyMessageVolume(b.Ctx, store.DefaultWorkspaceID, jid, store.Period{})
	require.NoError(t, err)
	require.NotEmpty(t, vol)
	var emails int64
	for _, v := range vol {
		if v.Channel == "send_email" {
			emails += v.Count
		}
	}

	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	c := b.Client()
	c.Login("vi@example.com", "correct horse battery")
	resp, page := c.Get("/journeys/" + jid + "/report")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, "Stats &lt;i&gt;")
	require.NotContains(t, page, "Stats <i>")
	require.Contains(t, page, fmt.Sprintf(`data-testid="report-totals">%d entries, 3 conversions`, entries))
	today := time.Now().UTC().Format("2006-01-02")
	require.Contains(t, page, fmt.Sprintf("<title>%s: %d entries</title>", today, entries), "today's entries bar")
	require.Contains(t, page, fmt.Sprintf("<title>%s: 3 conversions</title>", today))
	timeline := regexp.MustCompile(`(?s)data-testid="chart-timeline".*?</svg>`).FindString(page)
	require.Equal(t, 60, len(regexp.MustCompile(`<rect [^>]*><title>`).FindAllString(timeline, -1)), "30 days × 2 bars")
	// Today's entries bar is the tallest: full height, up to the y axis's
	// round top (40 → 50).
	require.Regexp(t, `<rect class="bar-entries" x="[0-9.]+" y="48.0" width="[0-9.]+" height="160.0"><title>`+today, page)
	require.Contains(t, timeline, `>50</text>`, "the y axis's top")
	require.Contains(t, timeline, `>Today</text>`, "the last day is labelled")
	require.Contains(t, timeline, `>Day (UTC)</text>`)

	// Funnel: start → split → the bigger variant's branch.
	funnel := regexp.MustCompile(`(?s)data-testid="chart-funnel".*?</svg>`).FindString(page)
	require.Contains(t, funnel, fmt.Sprintf("<title>Event: %d · 100.0%%</title>", entries))
	require.Contains(t, funnel, fmt.Sprintf("<title>Split: %d · 100.0%%</title>", entries))
	require.Contains(t, funnel, fmt.Sprintf(">%d · 100.0%%</text>", entries), "the numbers after the bar, whole")

	// Messages by channel: the sandbox emails.
	volume := regexp.MustCompile(`(?s)data-testid="chart-volume".*?</svg>`).FindString(page)
	require.Contains(t, volume, fmt.Sprintf("<title>Send email: %d (", emails))

	// Variants with a Wilson interval each.
	variants := regexp.MustCompile(`(?s)data-testid="chart-variants".*?</svg>`).FindString(page)
	for _, v := range vs {
		rate := float64(v.Converted) / float64(v.Runs)
		require.Contains(t, variants, fmt.Sprintf("<title>Split · %s: %d/%d converted = %.1f%% (95%% CI ", v.Variant, v.Converted, v.Runs, 100*rate))
	}
	require.Equal(t, 6, strings.Count(variants, `<line class="whisker"`), "a line and two end caps per variant")

	resp, page = c.Get("/journeys/" + jid + "/report?range=48h")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, fmt.Sprintf(": %d entries</title>", entries))
	timeline = regexp.MustCompile(`(?s)data-testid="chart-timeline".*?</svg>`).FindString(page)
	require.Equal(t, 96, len(regexp.MustCompile(`<rect [^>]*><title>`).FindAllString(timeline, -1)))
	require.Contains(t, timeline, `>This hour</text>`)
	resp, _ = c.Get("/journeys/" + jid + "/report?range=week")
	require.Equal(t, 400, resp.StatusCode)
	resp, _ = c.Get("/journeys/nope/report")
	require.Equal(t, 404, resp.StatusCode)
}
