package ingest_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestProfilesAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write")
	r := b.APIKey(store.DefaultWorkspaceID, "profiles:read")

	res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "email": "Ada@Example.com", "phone": "+33612345678",
		"timezone": "Europe/Paris", "locale": "fr-FR", "attributes": {"plan": "pro", "age": 36}, "consent": {"email": "granted"}}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	got := res.JSON(t)
	require.Equal(t, "ada@example.com", got["email"])
	require.Equal(t, "granted", got["consent"].(map[string]any)["email"].(map[string]any)["status"])

	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": null, "country": "FR"}}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	res = b.Call("GET", "/api/v1/profiles/u1", r, nil)
	require.Equal(t, 200, res.Status)
	require.Equal(t, map[string]any{"age": float64(36), "country": "FR"}, res.JSON(t)["attributes"])
	require.Equal(t, "+33612345678", res.JSON(t)["phone"])

	res = b.Call("GET", "/api/v1/profiles/nobody", r, nil)
	require.Equal(t, 404, res.Status)
	res = b.Call("GET", "/api/v1/profiles/u1", w, nil)
	require.Equal(t, 403, res.Status, "write scope does not read")

	for _, tc := range []struct{ body, field string }{
		{`{"email": "a@b.co"}`, "external_id"},
		{`{"external_id": "x", "email": "not-an-email"}`, "email"},
		{`{"external_id": "x", "phone": "0612345678"}`, "phone"},
		{`{"external_id": "x", "timezone": "Mars/Olympus"}`, "timezone"},
		{`{"external_id": "x", "locale": "<script>"}`, "locale"},
		{`{"external_id": "x", "consent": {"email": "maybe"}}`, "consent.email"},
	} {
		res = b.Call("POST", "/api/v1/profiles", w, []byte(tc.body))
		require.Equal(t, 422, res.Status, tc.body)
		require.Contains(t, string(res.Body), `"field":"`+tc.field+`"`, tc.body)
	}
	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "x", "colour": "red"}`))
	require.Equal(t, 400, res.Status, "unknown field")
	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": `))
	require.Equal(t, 400, res.Status)
	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": 42}`))
	require.Equal(t, 400, res.Status)
	require.Contains(t, string(res.Body), "external_id")
	_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "x")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing half-written")
}

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	ev := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // events that carry "profile"
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.EventJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))

	// One event: the profile is created on the fly and enters the journey.
	res = b.Call("POST", "/api/v1/events", ev, []byte(`{"name": "signed_up", "profile_id": "ada", "properties": {"plan": "pro"},
		"profile": {"external_id": "ada", "email": "ada@example.com"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	first := res.JSON(t)["events"].([]any)[0].(map[string]any)
	require.Len(t, first["entered"], 1)
	runID := first["entered"].([]any)[0].(string)
	b.Drain(b.Engine)
	run, err := b.Store.GetRun(b.Ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunWaitingEvent, run.Status)

	// A batch: the payment wakes the run; the filtered signup enters nothing.
	res = b.Call("POST", "/api/v1/events", ev, []byte(`{"events": [
		{"name": "paid", "profile_id": "ada", "properties": {"amount": 12}},
		{"name": "signed_up", "profile_id": "bot", "properties": {"plan": "spam"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	results := res.JSON(t)["events"].([]any)
	require.Equal(t, []any{runID}, results[0].(map[string]any)["resumed"])
	require.Empty(t, results[1].(map[string]any)["entered"])
	b.Drain(b.Engine)
	run, err = b.Store.GetRun(b.Ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)

	// The run explorer shows it.
	res = b.Call("GET", "/api/v1/runs?profile_id=ada", admin, nil)
	require.Equal(t, 200, res.Status)
	require.Len(t, res.JSON(t)["runs"], 1)
	res = b.Call("GET", "/api/v1/runs/"+runID, admin, nil)
	require.Equal(t, 200, res.Status)
	body := string(res.Body)
	require.Contains(t, body, `"outcome":"matched"`)
	require.Contains(t, body, `"subject":"Thanks"`)
	require.Contains(t, body, `"profile_id":"ada"`)
	res = b.Call("GET", "/api/v1/runs?status=bogus", admin, nil)
	require.Equal(t, 400, res.Status)
	res = b.Call("GET", "/api/v1/runs/"+runID, b.APIKey("acme", "admin"), nil)
	require.Equal(t, 404, res.Status, "another workspace")
	res = b.Call("POST", "/api/v1/runs/"+runID+"/cancel", admin, nil)
	require.Equal(t, 409, res.Status, "already ended")
	res = b.Call("POST", "/api/v1/runs/"+runID+"/retry", admin, nil)
	require.Equal(t, 409, res.Status, "only failed runs")
}

func TestEventsAPIBadInput(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	ev := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // events that carry "profile"
	ro := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	res := b.Call("POST", "/api/v1/events", ro, []byte(`{"name": "x", "profile_id": "p"}`))
	require.Equal(t, 403, res.Status)

	var big strings.Builder
	big.WriteString(`{"events": [`)
	for i := 0; i < 1001; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"name":"e","profile_id":"p%d"}`, i)
	}
	big.WriteString(`]}`)
	res = b.Call("POST", "/api/v1/events", ev, []byte(big.String()))
	require.Equal(t, 413, res.Status, string(res.Body))
	require.Equal(t, "batch_too_large", res.JSON(t)["error"].(map[string]any)["code"])

	res = b.Call("POST", "/api/v1/events", ev, []byte(`{"name": "x", "profile_id": "p-nul", "properties": {"note": "a\u0000"}}`))
	require.Equal(t, 422, res.Status, string(res.Body))
	require.Equal(t, "nul_character", res.JSON(t)["error"].(map[string]any)["code"])
	_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "p-nul")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing written")

	res = b.Call("POST", "/api/v1/events", ev, []byte(`{"events": [{"name": "ok", "profile_id": "p1"}, {"name": "", "profile_id": ""},
		{"name": "ok", "profile_id": "p3", "profile": {"email": "nope"}}]}`))
	require.Equal(t, 422, res.Status)
	body := string(res.Body)
	require.Contains(t, body, `"field":"events[1].name"`)
	require.Contains(t, body, `"field":"events[1].profile_id"`)
	require.Contains(t, body, `"field":"events[2].profile.email"`)
	_, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "p1")
	require.ErrorIs(t, err, store.ErrNotFound, "a bad batch stores nothing")

	for _, bad := range []string{``, `[]`, `{"name": "x", "profile_id": "p", "extra": 1}`, `{"name": "x"`, `{"events": []}`} {
		res = b.Call("POST", "/api/v1/events", ev, []byte(bad))
		require.Equal(t, 400, res.Status, bad)
	}
}

func TestEventsIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	ev := b.APIKey(store.DefaultWorkspaceID, "events:write")
	body := []byte(`{"name": "clicked", "profile_id": "idem"}`)
	first := b.Call("POST", "/api/v1/events", ev, body, "Idempotency-Key", "abc")
	require.Equal(t, 202, first.Status)
	again := b.Call("POST", "/api/v1/events", ev, body, "Idempotency-Key", "abc")
	require.Equal(t, 202, again.Status)
	require.Equal(t, string(first.Body), string(again.Body), "a replay gets the first response")
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	other := b.Call("POST", "/api/v1/events", ev, []byte(`{"name": "clicked", "profile_id": "someone else"}`), "Idempotency-Key", "abc")
	require.Equal(t, 422, other.Status)
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "idem")
	require.NoError(t, err)
	evs, err := b.Store.ListProfileEvents(b.Ctx, p.ID, "clicked", p.CreatedAt.AddDate(-1, 0, 0), 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "stored once")

	// Concurrent duplicates: one runs, the others get 409 or the replay.
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- b.Call("POST", "/api/v1/events", ev, []byte(`{"name": "race", "profile_id": "idem"}`), "Idempotency-Key", "race-key").Status
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Contains(t, []int{202, 409}, c)
	}
	evs, err = b.Store.ListProfileEvents(b.Ctx, p.ID, "race", p.CreatedAt.AddDate(-1, 0, 0), 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

func TestRunMove(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	writer := b.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read", "events:write", "profiles:write")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.EventJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", writer, []byte(`{"name": "signed_up", "profile_id": "mover", "profile": {"external_id": "mover", "email": "m@example.com"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	runID := res.JSON(t)["events"].([]any)[0].(map[string]any)["entered"].([]any)[0].(string)
	b.Drain(b.Engine)

	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", writer, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 403, res.Status, "admins only")
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "teleport"}`))
	require.Equal(t, 422, res.Status)
	require.Contains(t, string(res.Body), `"field":"node_id"`)
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "start"}`))
	require.Equal(t, 422, res.Status, "not back to a trigger")
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{}`))
	require.Equal(t, 422, res.Status)
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", b.APIKey("acme", "admin"), []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 404, res.Status)

	// The run waits for "paid"; the admin moves it on to the thank-you mail.
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Equal(t, "thanks", res.JSON(t)["current_node"])
	b.Drain(b.Engine)
	run, err := b.Store.GetRun(b.Ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)
	steps, err := b.Store.ListRunSteps(b.Ctx, runID)
	require.NoError(t, err)
	var outcomes []string
	for _, s := range steps {
		outcomes = append(outcomes, s.NodeID+":"+s.Outcome)
	}
	require.Equal(t, []string{"start:entered", "wait:moved", "thanks:sent"}, outcomes)
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "run.move"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "wait", audit[0].Summary["from"])
	res = b.Call("POST", "/api/v1/runs/"+runID+"/move", admin, []byte(`{"node_id": "thanks"}`))
	require.Equal(t, 409, res.Status, "an ended run stays ended")
}
