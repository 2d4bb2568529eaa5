package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

const banditJourney = `{"format": 1, "name": "Bandit", "settings": {"reentry": "always", "goal": {"event": "purchase"}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "ab", "kind": "split", "config": {"strategy": "bandit", "holdout": 50, "min_share": 10,
		"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}},
	{"id": "done_a", "kind": "exit"}, {"id": "done_b", "kind": "exit"}],
	"edges": [{"from": "start", "to": "ab"}, {"from": "ab", "port": "a", "to": "done_a"}, {"from": "ab", "port": "b", "to": "done_b"}]}`

func TestLiftAndBanditViews(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "events:write")
	res := b.Call("POST", "/api/v1/journeys", key, []byte(banditJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", key, nil).Status)

	// Before any run: no lift yet.
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/lift", key, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Nil(t, res.JSON(t)["overall"])

	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	var evs []string
	for i := 0; i < 20; i++ {
		evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "b%d"}`, i))
	}
	res = b.Call("POST", "/api/v1/events", key, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.DrainDue(eng, clk)

	// The fixed dataset: 10 held out (exact), 2 of them convert; 5 of the
	// 10 treated runs convert.
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 100})
	require.NoError(t, err)
	require.Len(t, runs, 20)
	var held, treated []store.Run
	perVariant := map[string][2]int64{}
	for _, r := range runs {
		a, err := b.Store.GetSplitAssignment(b.Ctx, r.ID, "ab")
		require.NoError(t, err)
		if a.Variant == "holdout" {
			held = append(held, r)
		} else {
			treated = append(treated, r)
		}
	}
	require.Len(t, held, 10, "holdout exact")
	convert := append(append([]store.Run{}, held[:2]...), treated[:5]...)
	for _, r := range convert {
		_, err := b.Store.RecordConversion(b.Ctx, r.ID, store.Conversion{At: time.Now()})
		require.NoError(t, err)
	}
	for i, r := range treated {
		a, _ := b.Store.GetSplitAssignment(b.Ctx, r.ID, "ab")
		c := perVariant[a.Variant]
		c[1]++
		if i < 5 {
			c[0]++
		}
		perVariant[a.Variant] = c
	}

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/lift", key, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	var lift struct {
		Overall learn.Lift `json:"overall"`
		Splits  []struct {
			NodeID    string     `json:"node_id"`
			Treatment learn.Lift `json:"treatment"`
			Variants  []struct {
				Variant string `json:"variant"`
				learn.Lift
			} `json:"variants"`
		} `json:"splits"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &lift))
	// 5/10 against 2/10: +30 pp.
	require.Equal(t, learn.ComputeLift(5, 10, 2, 10), lift.Overall)
	require.InDelta(t, 0.3, lift.Overall.Absolute, 1e-12)
	require.Len(t, lift.Splits, 1)
	require.Equal(t, "ab", lift.Splits[0].NodeID)
	require.Equal(t, lift.Overall, lift.Splits[0].Treatment)
	for _, v := range lift.Splits[0].Variants {
		c := perVariant[v.Variant]
		require.Equal(t, learn.ComputeLift(c[0], c[1], 2, 10), v.Lift, v.Variant)
	}
	require.Equal(t, 404, b.Call("GET", "/api/v1/journeys/nope/lift", key, nil).Status)

	// The report shows it; the canvas JSON shows the bandit's state.
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	ed := b.Client()
	csrf := ed.Login("ed@example.com", "correct horse battery")
	resp, page := ed.Get("/journeys/" + jid + "/report")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `data-testid="lift-table"`)
	require.Contains(t, page, "5/10 = 50.0%")
	require.Contains(t, page, "2/10 = 20.0%")
	require.Contains(t, page, "+30.00 pp")

	resp, body := ed.Get("/journeys/" + jid + "/splits.json")
	require.Equal(t, 200, resp.StatusCode, body)
	var bj struct {
		CanFreeze bool `json:"can_freeze"`
		Splits    []struct {
			NodeID  string `json:"node_id"`
			Frozen  string `json:"frozen"`
			Holdout struct {
				Runs int64 `json:"runs"`
			} `json:"holdout"`
			MinShare   float64             `json:"min_share"`
			HoldoutPct int                 `json:"holdout_pct"`
			Arms       []learn.ArmEstimate `json:"arms"`
		} `json:"splits"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &bj))
	require.True(t, bj.CanFreeze)
	require.Len(t, bj.Splits, 1)
	require.Len(t, bj.Splits[0].Arms, 2)
	var total float64
	for _, a := range bj.Splits[0].Arms {
		require.GreaterOrEqual(t, a.Share, 0.1-1e-9)
		require.Less(t, a.Low, a.High)
		total += a.Share
	}
	require.InDelta(t, 1, total, 1e-9)
	require.Equal(t, int64(10), bj.Splits[0].Holdout.Runs)
	require.Contains(t, body, `"holdout":{"runs":10,`)
	require.Equal(t, 0.1, bj.Splits[0].MinShare)
	require.Equal(t, 50, bj.Splits[0].HoldoutPct)

	// Freeze: viewers may not; a bad variant is a 422 naming it; an editor
	// freezes, it is audited, and the canvas shows it.
	vi := b.Client()
	viCSRF := vi.Login("vi@example.com", "correct horse battery")
	resp, _ = vi.PostForm("/journeys/"+jid+"/splits/ab/freeze", url.Values{"_csrf": {viCSRF}, "variant": {"b"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = ed.PostForm("/journeys/"+jid+"/splits/ab/freeze", url.Values{"_csrf": {csrf}, "variant": {"zz"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
	require.Contains(t, body, `variant &#34;zz&#34; is not a variant of split &#34;ab&#34; (want one of a, b)`)
	resp, body = ed.PostForm("/journeys/"+jid+"/splits/nope/freeze", url.Values{"_csrf": {csrf}, "variant": {"b"}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
	resp, body = ed.PostForm("/journeys/"+jid+"/splits/ab/freeze", url.Values{"variant": {"b"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token: %s", body)
	resp, body = ed.PostForm("/journeys/"+jid+"/splits/ab/freeze", url.Values{"_csrf": {csrf}, "variant": {"b"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	_, body = ed.Get("/journeys/" + jid + "/splits.json")
	require.NoError(t, json.Unmarshal([]byte(body), &bj))
	require.Equal(t, "b", bj.Splits[0].Frozen)
	entries, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Limit: 50})
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		found = found || (e.Action == "journey.split_freeze" && e.TargetID == jid && e.Summary["variant"] == "b")
	}
	require.True(t, found, "freeze audited")

	// The engine honours it: new entries' non-holdout traffic all goes to b.
	evs = evs[:0]
	for i := 20; i < 30; i++ {
		evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "b%d"}`, i))
	}
	res = b.Call("POST", "/api/v1/events", key, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.DrainDue(eng, clk)
	counts, err := b.Store.SplitCounts(b.Ctx, jid, "ab")
	require.NoError(t, err)
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Variant] = c.Runs
	}
	require.Equal(t, int64(15), got["holdout"])
	require.Equal(t, int64(10)+5, got["a"]+got["b"])
	require.Equal(t, perVariant["a"][1], got["a"], "no new run went to a")

	resp, body = ed.PostForm("/journeys/"+jid+"/splits/ab/unfreeze", url.Values{"_csrf": {csrf}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	_, body = ed.Get("/journeys/" + jid + "/splits.json")
	require.NotContains(t, body, `"frozen"`)
}

func TestProfileShowsBestHour(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	tz := "Europe/Paris"
	p, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "owl", Timezone: &tz})
	require.NoError(t, err)
	paris, _ := time.LoadLocation(tz)
	now := time.Now().In(paris)
	for d := 1; d <= 6; d++ {
		at := time.Date(now.Year(), now.Month(), now.Day()-d, 20, 15, 0, 0, paris)
		_, err := b.Store.InsertEvent(b.Ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: "email_opened", OccurredAt: at})
		require.NoError(t, err)
	}
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")
	resp, page := c.Get("/profiles/owl")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `data-testid="best-hour">20:00–20:59 <span class="muted">(Europe/Paris)</span>`)
	require.Contains(t, page, `data-testid="best-hour-evidence">6 events`)
	require.Contains(t, page, `data-testid="chart-best-hour"`)

	_, _, err = b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "new"})
	require.NoError(t, err)
	_, page = c.Get("/profiles/new")
	require.Contains(t, page, "No engagement events")
}
