package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// TestBroadcastAPI: an editor's key creates a broadcast, the worker's
// trigger pass enters the audience, the read key follows its progress to
// done; cancel of an ended one is 409; a read key cannot create.
func TestBroadcastAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	write := b.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	read := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	for i := 0; i < 6; i++ {
		email := fmt.Sprintf("p%d@example.com", i)
		u := store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("p", i), Email: &email, Attributes: map[string]any{"plan": "pro"}}
		if i == 0 {
			u.Consent = map[string]string{"email": "unsubscribed"}
		}
		if i == 5 {
			u.Attributes["plan"] = "free"
		}
		_, _, err := b.Store.UpsertProfile(b.Ctx, u)
		require.NoError(t, err)
	}
	body := `{"name": "Pro news", "audience": "profile.plan == \"pro\"", "channel": "email", "connector": "sandbox",
		"subject": "Hi {{ profile.external_id }}", "html": "<p>News</p>", "frequency_cap": {"count": 3, "period": "week"}}`
	r := b.Call("POST", "/api/v1/broadcasts", read, []byte(body))
	require.Equal(t, 403, r.Status, string(r.Body))

	r = b.Call("POST", "/api/v1/broadcasts", write, []byte(body))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.Equal(t, "/api/v1/broadcasts/"+id, r.Header.Get("Location"))
	require.Contains(t, []string{"scheduled", "sending"}, r.JSON(t)["status"])

	// The web request only recorded it: nobody has entered yet.
	n, err := b.Store.CountRuns(b.Ctx, r.JSON(t)["journey_id"].(string), "")
	require.NoError(t, err)
	require.Zero(t, n)

	require.NoError(t, worker.NewTriggers(b.Engine, b.Store, nil, worker.TriggersConfig{Batch: 2}).RunOnce(b.Ctx))
	b.Drain(b.Engine)

	r = b.Call("GET", "/api/v1/broadcasts/"+id, read, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	got := r.JSON(t)
	require.Equal(t, "done", got["status"])
	p := got["progress"].(map[string]any)
	require.EqualValues(t, 5, p["matched"])
	require.EqualValues(t, 5, p["entered"])
	require.EqualValues(t, 4, p["sent"])
	require.EqualValues(t, 1, p["skipped"].(map[string]any)["no_consent"])

	r = b.Call("GET", "/api/v1/broadcasts?limit=10", read, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Len(t, r.JSON(t)["broadcasts"], 1)

	r = b.Call("POST", "/api/v1/broadcasts/"+id+"/cancel", write, nil)
	require.Equal(t, 409, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/broadcasts/"+id+"/cancel", read, nil)
	require.Equal(t, 403, r.Status, string(r.Body))
	r = b.Call("GET", "/api/v1/broadcasts/01a00000-0000-7000-8000-000000000000", read, nil)
	require.Equal(t, 404, r.Status, string(r.Body))

	// A scheduled one is cancelled before its time and never sends.
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = b.Call("POST", "/api/v1/broadcasts", write, []byte(`{"name": "Later", "audience": "true", "channel": "sms", "connector": "sandbox", "text": "Hi", "scheduled_at": "`+at+`"}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	require.Equal(t, "scheduled", r.JSON(t)["status"])
	r = b.Call("POST", "/api/v1/broadcasts/"+r.JSON(t)["id"].(string)+"/cancel", write, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, "cancelled", r.JSON(t)["status"])
}

// TestBroadcastAPIBadInput: each bad input is a 400 or a 422 naming the
// field, never a 500, and nothing is created.
func TestBroadcastAPIBadInput(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	email := `"channel": "email", "connector": "sandbox", "subject": "S", "html": "<p>H</p>"`
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"no name", `{"audience": "true", ` + email + `}`, 422, "name"},
		{"long name", `{"name": "` + strings.Repeat("n", 201) + `", "audience": "true", ` + email + `}`, 422, "name"},
		{"no audience", `{"name": "x", ` + email + `}`, 422, "audience"},
		{"bad audience", `{"name": "x", "audience": "profle.plan ==", ` + email + `}`, 422, "audience"},
		{"channel", `{"name": "x", "audience": "true", "channel": "fax", "connector": "sandbox"}`, 422, "channel"},
		{"no connector", `{"name": "x", "audience": "true", "channel": "sms", "text": "hi"}`, 422, "connector"},
		{"unknown connector", `{"name": "x", "audience": "true", "channel": "sms", "connector": "nope", "text": "hi"}`, 422, "connector"},
		{"email without subject", `{"name": "x", "audience": "true", "channel": "email", "connector": "sandbox", "html": "<p>H</p>"}`, 422, "subject"},
		{"bad template", `{"name": "x", "audience": "true", "channel": "email", "connector": "sandbox", "subject": "{{ nope( }}", "html": "<p>H</p>"}`, 422, "subject"},
		{"sms with a subject", `{"name": "x", "audience": "true", "channel": "sms", "connector": "sandbox", "text": "hi", "subject": "S"}`, 422, "subject"},
		{"sms without text", `{"name": "x", "audience": "true", "channel": "sms", "connector": "sandbox"}`, 422, "text"},
		{"webhook bad payload", `{"name": "x", "audience": "true", "channel": "webhook", "connector": "sandbox", "payload": "{not json"}`, 422, "payload"},
		{"past", `{"name": "x", "audience": "true", ` + email + `, "scheduled_at": "` + past + `"}`, 422, "scheduled_at"},
		{"far", `{"name": "x", "audience": "true", ` + email + `, "scheduled_at": "2999-01-01T00:00:00Z"}`, 422, "scheduled_at"},
		{"quiet hours", `{"name": "x", "audience": "true", ` + email + `, "quiet_hours": {"start": "25:00", "end": "08:00"}}`, 422, "quiet_hours.start"},
		{"cap", `{"name": "x", "audience": "true", ` + email + `, "frequency_cap": {"count": 0, "period": "day"}}`, 422, "frequency_cap.count"},
		{"cap period", `{"name": "x", "audience": "true", ` + email + `, "frequency_cap": {"count": 2, "period": "year"}}`, 422, "frequency_cap.period"},
		{"timezone", `{"name": "x", "audience": "true", ` + email + `, "timezone": "Mars/Olympus"}`, 422, "timezone"},
		{"not a time", `{"name": "x", "audience": "true", ` + email + `, "scheduled_at": "tomorrow"}`, 400, ""},
		{"unknown field", `{"name": "x", "audience": "true", ` + email + `, "segment_id": "s"}`, 400, ""},
		{"not an object", `[]`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Call("POST", "/api/v1/broadcasts", key, []byte(tc.body))
			require.Equal(t, tc.status, r.Status, string(r.Body))
			if tc.field != "" {
				e := r.JSON(t)["error"].(map[string]any)
				require.Equal(t, tc.field, e["details"].([]any)[0].(map[string]any)["field"], string(r.Body))
			}
		})
	}
	bs, _, err := b.Store.ListBroadcasts(b.Ctx, store.DefaultWorkspaceID, "", 10)
	require.NoError(t, err)
	require.Empty(t, bs)
}
