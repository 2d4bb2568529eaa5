package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// A test send rendered from an existing profile reads its event history;
// the sample profile has none, and the refusal says so.
func TestTestSendReadsHistory(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupTestSends(t, true)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:read")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "History", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
		{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox",
		  "subject": "{{ count(\"purchase\", within(\"30d\")) }} orders, last {{ last(\"purchase\").properties.total }}", "body": "<p>x</p>"}}],
		"edges": [{"from": "start", "to": "hello"}]}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	ada, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada"})
	require.NoError(t, err)
	now := time.Now().UTC()
	for i, ago := range []time.Duration{time.Hour, 3 * 24 * time.Hour, 60 * 24 * time.Hour} {
		_, err := b.Store.InsertEvent(b.Ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: ada.ID, Name: "purchase",
			Properties: map[string]any{"total": float64(i + 1)}, OccurredAt: now.Add(-ago)})
		require.NoError(t, err)
	}
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "hello", "to": "me@example.com", "profile_external_id": "ada"}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, "[Test] 2 orders, last 1", r.JSON(t)["test_send"].(map[string]any)["subject"])

	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.GreaterOrEqual(t, r.Status, 400, string(r.Body))
	require.Less(t, r.Status, 500, string(r.Body))
	require.Contains(t, string(r.Body), "event history is not available here")
}
