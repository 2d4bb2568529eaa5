package ui_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestProfilesAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.apiKey(store.DefaultWorkspaceID, "profiles:write")
	r := b.apiKey(store.DefaultWorkspaceID, "profiles:read")

	res := b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "email": "Ada@Example.com", "phone": "+33612345678",
		"timezone": "Europe/Paris", "locale": "fr-FR", "attributes": {"plan": "pro", "age": 36}, "consent": {"email": "granted"}}`))
	require.Equal(t, 201, res.status, string(res.body))
	got := res.json(t)
	require.Equal(t, "ada@example.com", got["email"])
	require.Equal(t, "granted", got["consent"].(map[string]any)["email"].(map[string]any)["status"])

	res = b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": null, "country": "FR"}}`))
	require.Equal(t, 200, res.status, string(res.body))
	res = b.call("GET", "/api/v1/profiles/u1", r, nil)
	require.Equal(t, 200, res.status)
	require.Equal(t, map[string]any{"age": float64(36), "country": "FR"}, res.json(t)["attributes"])
	require.Equal(t, "+33612345678", res.json(t)["phone"])

	res = b.call("GET", "/api/v1/profiles/nobody", r, nil)
	require.Equal(t, 404, res.status)
	res = b.call("GET", "/api/v1/profiles/u1", w, nil)
	require.Equal(t, 403, res.status, "write scope does not read")

	for _, tc := range []struct{ body, field string }{
		{`{"email": "a@b.co"}`, "external_id"},
		{`{"external_id": "x", "email": "not-an-email"}`, "email"},
		{`{"external_id": "x", "phone": "0612345678"}`, "phone"},
		{`{"external_id": "x", "timezone": "Mars/Olympus"}`, "timezone"},
		{`{"external_id": "x", "locale": "<script>"}`, "locale"},
		{`{"external_id": "x", "consent": {"email": "maybe"}}`, "consent.email"},
	} {
		res = b.call("POST", "/api/v1/profiles", w, []byte(tc.body))
		require.Equal(t, 422, res.status, tc.body)
		require.Contains(t, string(res.body), `"field":"`+tc.field+`"`, tc.body)
	}
	res = b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "x", "colour": "red"}`))
	require.Equal(t, 400, res.status, "unknown field")
	res = b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": `))
	require.Equal(t, 400, res.status)
	res = b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": 42}`))
	require.Equal(t, 400, res.status)
	require.Contains(t, string(res.body), "external_id")
	_, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "x")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing half-written")
}

// eventJourney is a live journey entered by "signed_up" that waits for "paid".
const eventJourney = `{"format": 1, "name": "Events", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up", "filter": "event.properties.plan != \"spam\""}},
	{"id": "wait", "kind": "wait_event", "config": {"event": "paid", "timeout": "1d"}},
	{"id": "thanks", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Thanks", "body": "<p>Thanks</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "port": "matched", "to": "thanks"}]}`

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	ev := b.apiKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // events that carry "profile"
	res := b.call("POST", "/api/v1/journeys", admin, []byte(eventJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	res = b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.status, string(res.body))

	// One event: the profile is created on the fly and enters the journey.
	res = b.call("POST", "/api/v1/events", ev, []byte(`{"name": "signed_up", "profile_id": "ada", "properties": {"plan": "pro"},
		"profile": {"external_id": "ada", "email": "ada@example.com"}}`))
	require.Equal(t, 202, res.status, string(res.body))
	first := res.json(t)["events"].([]any)[0].(map[string]any)
	require.Len(t, first["entered"], 1)
	runID := first["entered"].([]any)[0].(string)
	b.drain(b.engine)
	run, err := b.store.GetRun(b.ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunWaitingEvent, run.Status)

	// A batch: the payment wakes the run; the filtered signup enters nothing.
	res = b.call("POST", "/api/v1/events", ev, []byte(`{"events": [
		{"name": "paid", "profile_id": "ada", "properties": {"amount": 12}},
		{"name": "signed_up", "profile_id": "bot", "properties": {"plan": "spam"}}]}`))
	require.Equal(t, 202, res.status, string(res.body))
	results := res.json(t)["events"].([]any)
	require.Equal(t, []any{runID}, results[0].(map[string]any)["resumed"])
	require.Empty(t, results[1].(map[string]any)["entered"])
	b.drain(b.engine)
	run, err = b.store.GetRun(b.ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)

	// The run explorer shows it.
	res = b.call("GET", "/api/v1/runs?profile_id=ada", admin, nil)
	require.Equal(t, 200, res.status)
	require.Len(t, res.json(t)["runs"], 1)
	res = b.call("GET", "/api/v1/runs/"+runID, admin, nil)
	require.Equal(t, 200, res.status)
	body := string(res.body)
	require.Contains(t, body, `"outcome":"matched"`)
	require.Contains(t, body, `"subject":"Thanks"`)
	require.Contains(t, body, `"profile_id":"ada"`)
	res = b.call("GET", "/api/v1/runs?status=bogus", admin, nil)
	require.Equal(t, 400, res.status)
	res = b.call("GET", "/api/v1/runs/"+runID, b.apiKey("acme", "admin"), nil)
	require.Equal(t, 404, res.status, "another workspace")
	res = b.call("POST", "/api/v1/runs/"+runID+"/cancel", admin, nil)
	require.Equal(t, 409, res.status, "already ended")
	res = b.call("POST", "/api/v1/runs/"+runID+"/retry", admin, nil)
	require.Equal(t, 409, res.status, "only failed runs")
}

func TestEventsAPIBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := b.apiKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // events that carry "profile"
	ro := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	res := b.call("POST", "/api/v1/events", ro, []byte(`{"name": "x", "profile_id": "p"}`))
	require.Equal(t, 403, res.status)

	var big strings.Builder
	big.WriteString(`{"events": [`)
	for i := 0; i < 1001; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"name":"e","profile_id":"p%d"}`, i)
	}
	big.WriteString(`]}`)
	res = b.call("POST", "/api/v1/events", ev, []byte(big.String()))
	require.Equal(t, 413, res.status, string(res.body))
	require.Equal(t, "batch_too_large", res.json(t)["error"].(map[string]any)["code"])

	res = b.call("POST", "/api/v1/events", ev, []byte(`{"name": "x", "profile_id": "p-nul", "properties": {"note": "a\u0000"}}`))
	require.Equal(t, 422, res.status, string(res.body))
	require.Equal(t, "nul_character", res.json(t)["error"].(map[string]any)["code"])
	_, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "p-nul")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing written")

	res = b.call("POST", "/api/v1/events", ev, []byte(`{"events": [{"name": "ok", "profile_id": "p1"}, {"name": "", "profile_id": ""},
		{"name": "ok", "profile_id": "p3", "profile": {"email": "nope"}}]}`))
	require.Equal(t, 422, res.status)
	body := string(res.body)
	require.Contains(t, body, `"field":"events[1].name"`)
	require.Contains(t, body, `"field":"events[1].profile_id"`)
	require.Contains(t, body, `"field":"events[2].profile.email"`)
	_, err = b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "p1")
	require.ErrorIs(t, err, store.ErrNotFound, "a bad batch stores nothing")

	for _, bad := range []string{``, `[]`, `{"name": "x", "profile_id": "p", "extra": 1}`, `{"name": "x"`, `{"events": []}`} {
		res = b.call("POST", "/api/v1/events", ev, []byte(bad))
		require.Equal(t, 400, res.status, bad)
	}
}

func TestEventsIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := b.apiKey(store.DefaultWorkspaceID, "events:write")
	body := []byte(`{"name": "clicked", "profile_id": "idem"}`)
	first := b.call("POST", "/api/v1/events", ev, body, "Idempotency-Key", "abc")
	require.Equal(t, 202, first.status)
	again := b.call("POST", "/api/v1/events", ev, body, "Idempotency-Key", "abc")
	require.Equal(t, 202, again.status)
	require.Equal(t, string(first.body), string(again.body), "a replay gets the first response")
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	other := b.call("POST", "/api/v1/events", ev, []byte(`{"name": "clicked", "profile_id": "someone else"}`), "Idempotency-Key", "abc")
	require.Equal(t, 422, other.status)
	p, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "idem")
	require.NoError(t, err)
	evs, err := b.store.ListProfileEvents(b.ctx, p.ID, "clicked", p.CreatedAt.AddDate(-1, 0, 0), 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "stored once")

	// Concurrent duplicates: one runs, the others get 409 or the replay.
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- b.call("POST", "/api/v1/events", ev, []byte(`{"name": "race", "profile_id": "idem"}`), "Idempotency-Key", "race-key").status
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Contains(t, []int{202, 409}, c)
	}
	evs, err = b.store.ListProfileEvents(b.ctx, p.ID, "race", p.CreatedAt.AddDate(-1, 0, 0), 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

func TestRunMove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	writer := b.apiKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read", "events:write", "profiles:write")
	res := b.call("POST", "/api/v1/journeys", admin, []byte(eventJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	require.Equal(t, 200, b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).status)
	res = b.call("POST", "/api/v1/events", writer, []byte(`{"name": "signed_up", "profile_id": "mover", "profile": {"external_id": "mover", "email": "m@example.com"}}`))
	require.Equal(t, 202, res.status, string(res.body))
	runID := res.json(t)["events"].([]any)[0].(map[string]any)["entered"].([]any)[0].(string)
	b.drain(b.engine)

	res = b.call("POST", "/api/v1/runs/"+runID+"/move", writer, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 403, res.status, "admins only")
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "teleport"}`))
	require.Equal(t, 422, res.status)
	require.Contains(t, string(res.body), `"field":"node_id"`)
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "start"}`))
	require.Equal(t, 422, res.status, "not back to a trigger")
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{}`))
	require.Equal(t, 422, res.status)
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", b.apiKey("acme", "admin"), []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 404, res.status)

	// The run waits for "paid"; the admin moves it on to the thank-you mail.
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 200, res.status, string(res.body))
	require.Equal(t, "thanks", res.json(t)["current_node"])
	b.drain(b.engine)
	run, err := b.store.GetRun(b.ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)
	steps, err := b.store.ListRunSteps(b.ctx, runID)
	require.NoError(t, err)
	var outcomes []string
	for _, s := range steps {
		outcomes = append(outcomes, s.NodeID+":"+s.Outcome)
	}
	require.Equal(t, []string{"start:entered", "wait:moved", "thanks:sent"}, outcomes)
	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "run.move"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "wait", audit[0].Summary["from"])
	res = b.call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 409, res.status, "an ended run stays ended")
}
