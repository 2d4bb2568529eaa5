package ingest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// An event's "profile" field writes the profile: it needs profiles:write,
// not just events:write (security review F7). One such event refuses the
// whole request and nothing is written.
func TestEventProfileNeedsProfilesWrite(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	events := b.APIKey(store.DefaultWorkspaceID, "events:write")
	res := b.Call("POST", "/api/v1/profiles", admin, []byte(`{"external_id": "u1", "email": "u1@example.com", "attributes": {"plan": "free"}}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	before, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)

	for _, tc := range []struct {
		name, body, field string
	}{
		{"email and attributes", `{"name": "page_view", "profile_id": "u1",
			"profile": {"email": "attacker@evil.example", "attributes": {"plan": "owned"}}}`, "profile"},
		{"ad consent", `{"name": "page_view", "profile_id": "u1", "profile": {"consent": {"ads": "granted"}}}`, "profile"},
		{"phone", `{"name": "page_view", "profile_id": "u1", "profile": {"phone": "+14155550123"}}`, "profile"},
		{"an empty profile object", `{"name": "page_view", "profile_id": "u1", "profile": {}}`, "profile"},
		{"one event of a batch", `{"events": [{"name": "page_view", "profile_id": "newcomer"},
			{"name": "page_view", "profile_id": "u1", "profile": {"email": "attacker@evil.example"}}]}`, "events[1].profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.Call("POST", "/api/v1/events", events, []byte(tc.body))
			require.Equal(t, 403, res.Status, string(res.Body))
			e := res.JSON(t)["error"].(map[string]any)
			require.Equal(t, "insufficient_scope", e["code"])
			require.Contains(t, e["message"], `"profiles:write"`)
			require.Contains(t, e["message"], tc.field+":")
			require.Equal(t, tc.field, e["details"].([]any)[0].(map[string]any)["field"])
		})
	}
	after, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	require.Equal(t, before.Email, after.Email)
	require.Equal(t, before.Phone, after.Phone)
	require.Equal(t, before.Attributes, after.Attributes)
	require.Equal(t, before.Consent, after.Consent)
	require.Equal(t, before.UpdatedAt, after.UpdatedAt, "the profile was not written")
	_, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "newcomer")
	require.ErrorIs(t, err, store.ErrNotFound, "the refused batch stored none of its events")
	evs, err := b.Store.ListRecentProfileEvents(b.Ctx, after.ID, 10)
	require.NoError(t, err)
	require.Empty(t, evs)

	// events:write alone still sends events, profiles created on the fly.
	res = b.Call("POST", "/api/v1/events", events, []byte(`{"events": [{"name": "page_view", "profile_id": "u1"}, {"name": "page_view", "profile_id": "newcomer"}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	// With profiles:write the profile field is taken.
	writer := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write")
	res = b.Call("POST", "/api/v1/events", writer, []byte(`{"name": "page_view", "profile_id": "u1", "profile": {"attributes": {"plan": "pro"}}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	after, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	require.Equal(t, "pro", after.Attributes["plan"])
	require.Equal(t, "u1@example.com", after.Email)
}
