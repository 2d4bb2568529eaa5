package sim_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

// monday is the virtual start of the tests: Monday 1 June 2026, 10:00 UTC.
var monday = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func registry(t *testing.T) *nodes.Registry {
	t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	return reg
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "flows", "testdata", name))
	require.NoError(t, err)
	return b
}

func simulate(t *testing.T, doc []byte, req sim.Request) *sim.Result {
	t.Helper()
	if req.Start.IsZero() {
		req.Start = monday
	}
	s := sim.New(sim.Config{Registry: registry(t)})
	res, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, doc, req)
	require.NoError(t, err)
	return res
}

// path is a run's steps as node:port:outcome strings.
func path(r sim.RunResult) []string {
	out := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		out[i] = s.NodeID + ":" + s.Port + ":" + s.Outcome
	}
	return out
}

func timeline(t *testing.T, res *sim.Result, ext string) sim.ProfileTimeline {
	t.Helper()
	for _, tl := range res.Timelines {
		if tl.ExternalID == ext {
			return tl
		}
	}
	t.Fatalf("no timeline for %q", ext)
	return sim.ProfileTimeline{}
}

func TestSimulateWelcomeSeries(t *testing.T) {
	t.Parallel()
	res := simulate(t, testdata(t, "welcome_series.json"), sim.Request{
		Profiles: []sim.ProfileInput{
			{ExternalID: "ada", Email: "ada@example.com", Timezone: "Europe/Paris", Attributes: map[string]any{"first_name": "Ada", "country": "FR"}},
			{ExternalID: "bob", Email: "bob@example.com", Attributes: map[string]any{"first_name": "Bob"}},
		},
		Entry:  sim.Entry{Body: map[string]any{"plan": "pro"}},
		Events: []sim.ScriptedEvent{{Profile: "bob", Name: "subscription_started", Properties: map[string]any{"amount": 49.0}, After: "1d"}},
	})
	require.Equal(t, "done", res.Stopped)
	ada := timeline(t, res, "ada")
	require.Len(t, ada.Runs, 1)
	require.Equal(t, []string{"start:out:entered", "welcome:out:sent", "wait_2d:out:waited", "is_fr:yes:ok", "tips_fr:out:sent",
		"wait_morning:out:waited", "converted:out:ok", "nudge:out:sent", "done::completed"}, path(ada.Runs[0]))
	require.Equal(t, store.RunCompleted, ada.Runs[0].Status)
	msgs := ada.Runs[0].Messages
	require.Len(t, msgs, 3)
	require.Equal(t, "welcome", msgs[0].NodeID)
	require.Equal(t, "ada@example.com", msgs[0].To)
	require.Equal(t, "Welcome to Waymark, Ada!", msgs[0].Subject)
	require.Contains(t, msgs[0].Body, "Thanks for signing up on pro.")
	require.Equal(t, "3 astuces pour bien démarrer", msgs[1].Subject)
	cond := ada.Runs[0].Steps[3]
	require.Equal(t, true, cond.Detail["value"])
	require.Contains(t, cond.Expr, "profile.country")
	require.Contains(t, cond.Summary, "is true → yes")
	require.Equal(t, "2d", cond.Offset)
	// Next weekday 09:00 in Paris after Wednesday noon is Thursday 07:00 UTC.
	require.Equal(t, time.Date(2026, 6, 4, 7, 0, 0, 0, time.UTC), ada.Runs[0].Steps[5].At)

	bob := timeline(t, res, "bob")
	require.Equal(t, store.RunExited, bob.Runs[0].Status)
	require.Contains(t, strings.Join(path(bob.Runs[0]), " "), "converted::converted")
	require.NotContains(t, strings.Join(path(bob.Runs[0]), " "), "nudge")
	require.Equal(t, 5, res.Messages)
	require.Equal(t, 2, res.Entered)
}

func TestSimulateAbandonedCart(t *testing.T) {
	t.Parallel()
	res := simulate(t, testdata(t, "abandoned_cart.json"), sim.Request{
		Profiles: []sim.ProfileInput{
			{ExternalID: "buyer", Email: "buyer@example.com"},
			{ExternalID: "quitter", Email: "q@example.com", Phone: "+15551234567", Attributes: map[string]any{"sms_opt_in": true, "first_name": "Quinn"}},
		},
		Entry: sim.Entry{Properties: map[string]any{"cart_id": "c1", "total": 80.0, "items": []any{"x"}, "url": "https://shop/c1"}},
		Events: []sim.ScriptedEvent{
			{Profile: "buyer", Name: "order_completed", Properties: map[string]any{"cart_id": "c2"}, After: "5m"}, // another cart: no match
			{Profile: "buyer", Name: "order_completed", Properties: map[string]any{"cart_id": "c1"}, After: "10m"},
		},
	})
	buyer := timeline(t, res, "buyer")
	require.Equal(t, []string{"cart:out:entered", "wait_order:matched:matched", "bought::completed"}, path(buyer.Runs[0]))
	require.Equal(t, "10m", buyer.Runs[0].Steps[1].Offset)
	quitter := timeline(t, res, "quitter")
	require.Equal(t, []string{"cart:out:entered", "wait_order:timeout:timeout", "reminder:out:sent",
		"wait_order_2:timeout:timeout", "has_phone:yes:ok", "sms:out:sent"}, path(quitter.Runs[0]))
	msgs := quitter.Runs[0].Messages
	require.Len(t, msgs, 2)
	require.Equal(t, "You left 1 items in your cart", msgs[0].Subject)
	require.Equal(t, "send_sms", msgs[1].Kind)
	require.Equal(t, "+15551234567", msgs[1].To)
	require.Equal(t, "Quinn, your cart expires tonight: https://shop/c1", msgs[1].Body)
	require.Equal(t, "sandbox", msgs[1].Connector)
}

func TestSimulateAbandonedCartFilter(t *testing.T) {
	t.Parallel()
	res := simulate(t, testdata(t, "abandoned_cart.json"), sim.Request{
		Profiles: []sim.ProfileInput{{ExternalID: "small", Email: "s@example.com"}},
		Entry:    sim.Entry{Properties: map[string]any{"cart_id": "c3", "total": 10.0}},
	})
	small := timeline(t, res, "small")
	require.Empty(t, small.Runs)
	require.Contains(t, small.NotEntered, "did not match the trigger's filter")
	require.Equal(t, 0, res.Entered)
}

func TestSimulateLeadScoring(t *testing.T) {
	t.Parallel()
	var events []sim.ScriptedEvent
	for i := 1; i <= 4; i++ {
		events = append(events, sim.ScriptedEvent{Name: "page_viewed", Properties: map[string]any{"path": "/pricing/team"}, After: fmt.Sprintf("%dh", i)})
	}
	res := simulate(t, testdata(t, "lead_scoring.json"), sim.Request{
		Profiles: []sim.ProfileInput{{ExternalID: "lead", Email: "lead@example.com"}},
		Entry:    sim.Entry{Properties: map[string]any{"path": "/pricing/team"}},
		Events:   events,
	})
	lead := timeline(t, res, "lead")
	require.Len(t, lead.Runs, 5, "every page view enters the journey again")
	require.EqualValues(t, 100, lead.Attributes["lead_score"])
	require.Equal(t, true, lead.Attributes["sales_notified"])
	require.Equal(t, "sql", lead.Attributes["lifecycle_stage"])
	webhooks := 0
	for _, r := range lead.Runs {
		for _, m := range r.Messages {
			require.Equal(t, "send_webhook", m.Kind)
			require.Contains(t, string(m.Payload), `"lead"`)
			webhooks++
		}
	}
	require.Equal(t, 1, webhooks, "sales is told once")
	require.Len(t, res.Paths, 2, "%v", res.Paths)
}

func TestSimulateBirthday(t *testing.T) {
	t.Parallel()
	res := simulate(t, testdata(t, "birthday.json"), sim.Request{
		Profiles: []sim.ProfileInput{{ExternalID: "bday", Email: "bea@example.com", Attributes: map[string]any{"birthday": "1990-06-20", "first_name": "Bea"}}},
	})
	r := timeline(t, res, "bday").Runs[0]
	require.Equal(t, store.RunCompleted, r.Status)
	require.Len(t, r.Messages, 2)
	require.Equal(t, "Something is coming your way", r.Messages[0].Subject)
	require.Equal(t, time.Date(2026, 6, 17, 10, 0, 0, 0, time.UTC), r.Messages[0].At, "three days before at 10:00")
	require.Equal(t, "Happy birthday, Bea! 🎂", r.Messages[1].Subject)
	require.EqualValues(t, 2026, timeline(t, res, "bday").Attributes["last_birthday_greeting"])
}

func TestSimulateReengagementCohort(t *testing.T) {
	t.Parallel()
	doc := testdata(t, "reengagement.json")
	req := sim.Request{Cohort: &sim.CohortSpec{Size: 400, Seed: 7, Attributes: map[string]sim.AttributeSpec{
		"last_seen_at": {Values: []any{"2026-01-01T00:00:00Z"}},
	}}, Horizon: "1d"}
	res := simulate(t, doc, req)
	require.Equal(t, 400, res.Profiles)
	require.Equal(t, 400, res.Entered)
	require.Len(t, res.Timelines, 200, "the first 200 profiles in detail")
	require.True(t, res.Truncated)
	variants := map[string]int{}
	for _, n := range res.Nodes {
		if n.NodeID == "ab" {
			variants = n.Ports
			require.Equal(t, 400, n.Steps)
		}
	}
	require.Len(t, variants, 3, "%v", variants)
	require.InDelta(t, 0.10, float64(variants["holdout"])/400, 0.05, "%v", variants)
	sum := 0
	for _, p := range res.Paths {
		sum += p.Runs
	}
	require.Equal(t, 400, sum)
	require.GreaterOrEqual(t, len(res.Paths), 3)
}

func TestSimulateAdRetargeting(t *testing.T) {
	t.Parallel()
	viewed := map[string]any{"last_product_view_at": "2026-06-01T08:00:00Z"} // two hours before the start
	res := simulate(t, testdata(t, "ad_retargeting.json"), sim.Request{
		Profiles: []sim.ProfileInput{
			{ExternalID: "ads-yes", Email: "yes@example.com", Consent: map[string]any{"ads": "granted"}, Attributes: viewed},
			{ExternalID: "ads-no", Email: "no@example.com", Attributes: viewed},
			{ExternalID: "no-view", Email: "nv@example.com"},
		},
		Events: []sim.ScriptedEvent{
			{Profile: "ads-yes", Name: "order_completed", Properties: map[string]any{"total": 0.0}, After: "2d"},
			{Profile: "ads-no", Name: "order_completed", Properties: map[string]any{"total": 12.0}, After: "2d"},
		},
	})
	yes := timeline(t, res, "ads-yes").Runs[0]
	require.Equal(t, []string{"viewers:out:entered", "add:out:sent", "wait_purchase:matched:matched", "remove:out:sent", "end::completed"}, path(yes))
	require.Equal(t, "audience_add", yes.Messages[0].Kind)
	require.Equal(t, "yes@example.com", yes.Messages[0].To)
	no := timeline(t, res, "ads-no").Runs[0]
	require.Equal(t, store.RunExited, no.Status)
	require.Equal(t, "add:out:skipped", path(no)[1])
	require.Contains(t, no.Steps[1].Summary, "no ad-platform consent")
	require.Empty(t, no.Messages)
	require.Contains(t, timeline(t, res, "no-view").NotEntered, "does not match the trigger's condition", "the audience is recent product viewers")
}

func TestSimulateDeterministicCohort(t *testing.T) {
	t.Parallel()
	min, max := 18.0, 70.0
	spec := &sim.CohortSpec{Size: 50, Seed: 42, Timezones: []string{"Europe/Paris", "America/New_York"},
		Attributes: map[string]sim.AttributeSpec{
			"country": {Values: []any{"FR", "US"}, Weights: []float64{1, 3}},
			"age":     {Min: &min, Max: &max, Integer: true},
		}}
	doc := testdata(t, "welcome_series.json")
	a := simulate(t, doc, sim.Request{Cohort: spec, Horizon: "1h"})
	b := simulate(t, doc, sim.Request{Cohort: spec, Horizon: "1h"})
	require.Equal(t, a.Timelines[7].Attributes, b.Timelines[7].Attributes)
	require.Equal(t, a.Timelines[7].Timezone, b.Timelines[7].Timezone)
	for _, tl := range a.Timelines {
		age := tl.Attributes["age"].(float64)
		require.True(t, age >= 18 && age <= 70 && age == float64(int(age)), "age %v", age)
	}
	require.Equal(t, "horizon", a.Stopped, "the 2-day delay lies past a 1h horizon")
	require.Equal(t, 50, a.Statuses[store.RunWaiting])
}

func TestSimulateQuietHoursAndCaps(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format":1,"name":"Quiet","settings":{"reentry":"always","timezone":"UTC",
	  "quiet_hours":{"start":"21:00","end":"08:00"},"frequency_cap":{"email":{"count":1,"period":"day"}}},
	  "nodes":[{"id":"t","kind":"trigger_event","config":{"event":"ping"}},
	    {"id":"mail","kind":"send_email","config":{"connector":"smtp-main","subject":"Hi {{ profile.first_name }}","body":"x"}}],
	  "edges":[{"from":"t","to":"mail"}]}`)
	res := simulate(t, doc, sim.Request{
		Start:    time.Date(2026, 6, 1, 22, 0, 0, 0, time.UTC),
		Profiles: []sim.ProfileInput{{ExternalID: "p", Email: "p@example.com", Attributes: map[string]any{"first_name": "Pat"}}},
		Events:   []sim.ScriptedEvent{{Name: "ping", After: "11h"}},
	})
	runs := timeline(t, res, "p").Runs
	require.Len(t, runs, 2)
	require.Equal(t, []string{"t:out:entered", "mail::deferred", "mail:out:sent"}, path(runs[0]))
	require.Contains(t, runs[0].Steps[1].Summary, "quiet hours until 2026-06-02T08:00:00Z")
	require.Equal(t, "Hi Pat", runs[0].Messages[0].Subject)
	require.Equal(t, "smtp-main", runs[0].Messages[0].Connector, "every connector goes to the simulation inbox")
	require.Equal(t, []string{"t:out:entered", "mail:out:skipped"}, path(runs[1]))
	require.Contains(t, runs[1].Steps[1].Summary, "frequency cap")
}

func TestSimulateBadInput(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.Config{Registry: registry(t), Limits: sim.Limits{MaxProfiles: 10, MaxHorizon: 30 * nodes.Day, MaxEvents: 100,
		Timeout: time.Minute, MaxTasksPerProfile: 100, MaxDetailed: 10}})
	doc := testdata(t, "welcome_series.json")
	for _, tc := range []struct {
		name  string
		req   sim.Request
		field string
	}{
		{"no profiles", sim.Request{}, "profiles"},
		{"cohort too large", sim.Request{Cohort: &sim.CohortSpec{Size: 11}}, "cohort.size"},
		{"cohort size wraps the total", sim.Request{Cohort: &sim.CohortSpec{Size: math.MaxInt}, Profiles: []sim.ProfileInput{{ExternalID: "x"}}}, "cohort.size"},
		{"negative cohort", sim.Request{Cohort: &sim.CohortSpec{Size: -5}, ProfileIDs: []string{"a", "b"}}, "cohort.size"},
		{"profiles too many", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "1"}, {ExternalID: "2"}, {ExternalID: "3"}, {ExternalID: "4"}, {ExternalID: "5"}, {ExternalID: "6"}},
			Cohort: &sim.CohortSpec{Size: 5}}, "profiles"},
		{"existing profiles offline", sim.Request{ProfileIDs: []string{"ada"}}, "profile_ids[0]"},
		{"bad email", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x", Email: "nope"}}}, "profiles[0].email"},
		{"bad offset", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}, Events: []sim.ScriptedEvent{{Name: "e", After: "soon"}}}, "events[0].after"},
		{"offset past horizon", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}, Events: []sim.ScriptedEvent{{Name: "e", After: "40d"}}}, "events[0].after"},
		{"unknown event profile", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}, Events: []sim.ScriptedEvent{{Name: "e", Profile: "y", After: "1d"}}}, "events[0].profile"},
		{"horizon too long", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}, Horizon: "31d"}, "horizon"},
		{"unknown trigger", sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}, Entry: sim.Entry{Trigger: "welcome"}}, "entry.trigger"},
		{"bad cohort attribute", sim.Request{Cohort: &sim.CohortSpec{Size: 2, Attributes: map[string]sim.AttributeSpec{"a": {}}}}, "cohort.attributes.a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, doc, tc.req)
			var ie *sim.InputError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Problems[0].Field, "%v", ie.Problems)
		})
	}
	// A document that cannot run names the node.
	bad := []byte(`{"format":1,"name":"Bad","nodes":[{"id":"t","kind":"trigger_event","config":{"event":"x"}},{"id":"c","kind":"condition","config":{"expr":"profile.("}}],"edges":[{"from":"t","to":"c"}]}`)
	_, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, bad, sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "x"}}})
	var inv *sim.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "c", inv.Problems[0].NodeID)
}

// A large cohort runs in several private worlds at once; the result is the
// same as one world's: every profile counted, timelines in request order,
// scripted events reaching their profile wherever it runs.
func TestSimulateLargeCohort(t *testing.T) {
	t.Parallel()
	doc := testdata(t, "abandoned_cart.json")
	res := simulate(t, doc, sim.Request{
		Cohort:   &sim.CohortSpec{Size: 510, Seed: 5, Attributes: map[string]sim.AttributeSpec{"first_name": {Values: []any{"Kim"}}}},
		Profiles: []sim.ProfileInput{{ExternalID: "late", Email: "late@example.com"}},
		Entry:    sim.Entry{Properties: map[string]any{"cart_id": "c1", "total": 50.0, "items": []any{"a"}, "url": "https://shop/c1"}},
		Events: []sim.ScriptedEvent{
			{Profile: "late", Name: "order_completed", Properties: map[string]any{"cart_id": "c1"}, After: "30m"},
			{Profile: "sim-510", Name: "order_completed", Properties: map[string]any{"cart_id": "c1"}, After: "20m"},
		},
	})
	require.Equal(t, 511, res.Profiles)
	require.Equal(t, 511, res.Entered)
	require.Len(t, res.Timelines, 200)
	require.Equal(t, "late", res.Timelines[0].ExternalID, "typed profiles come before the cohort")
	require.Equal(t, "sim-1", res.Timelines[1].ExternalID)
	require.Equal(t, "sim-199", res.Timelines[199].ExternalID)
	ports := map[string]int{}
	for _, n := range res.Nodes {
		if n.NodeID == "wait_order" {
			ports = n.Ports
		}
	}
	require.Equal(t, 2, ports["matched"], "%v", ports)
	require.Equal(t, 509, ports["timeout"], "%v", ports)
	require.Equal(t, 511, res.Statuses[store.RunCompleted])
}

func TestSimulateSegmentCondition(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format":1,"name":"Pro users","settings":{"reentry":"never"},
	  "nodes":[{"id":"seg","kind":"trigger_segment","config":{"expr":"profile.plan == \"pro\""}},
	    {"id":"hi","kind":"send_email","config":{"connector":"sandbox","subject":"Welcome to Pro, {{ profile.first_name }}","body":"x"}}],
	  "edges":[{"from":"seg","to":"hi"}]}`)
	res := simulate(t, doc, sim.Request{Profiles: []sim.ProfileInput{
		{ExternalID: "pro", Email: "pro@example.com", Attributes: map[string]any{"plan": "pro", "first_name": "Pia"}},
		{ExternalID: "free", Email: "free@example.com", Attributes: map[string]any{"plan": "free"}},
	}})
	require.Equal(t, 1, res.Entered)
	require.Equal(t, "Welcome to Pro, Pia", timeline(t, res, "pro").Runs[0].Messages[0].Subject)
	free := timeline(t, res, "free")
	require.Empty(t, free.Runs)
	require.Contains(t, free.NotEntered, `does not match the trigger's condition (profile.plan == "pro")`)
}

// suppressAll says every address is on the suppression list.
type suppressAll struct{}

func (suppressAll) IsSuppressed(context.Context, string, string, string) (bool, error) {
	return true, nil
}

// The real suppression list answers for typed addresses only when the
// caller may read it (AllSuppressions): otherwise anyone who may simulate
// could learn whether any address is on it.
func TestSimulateSuppressionsOnlyForCallersWhoMayReadThem(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.Config{Registry: registry(t), Suppressions: suppressAll{}})
	req := sim.Request{Start: monday, Profiles: []sim.ProfileInput{{ExternalID: "ada", Email: "ada@example.com", Attributes: map[string]any{"first_name": "Ada"}}}}
	welcome := func(res *sim.Result) string {
		for _, st := range timeline(t, res, "ada").Runs[0].Steps {
			if st.NodeID == "welcome" {
				return st.Outcome
			}
		}
		return ""
	}
	res, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, testdata(t, "welcome_series.json"), req)
	require.NoError(t, err)
	require.Equal(t, "sent", welcome(res), "a typed address is not checked against the real list")
	req.AllSuppressions = true
	res, err = s.Simulate(context.Background(), store.DefaultWorkspaceID, testdata(t, "welcome_series.json"), req)
	require.NoError(t, err)
	require.Equal(t, "skipped", welcome(res), "an admin's simulation checks it")
}
