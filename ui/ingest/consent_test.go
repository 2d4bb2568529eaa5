package ingest_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// Consent is written as the docs say on every write path: true, false, a
// status or {"status": …}, stored as {"status", "source", "at"}.
func TestConsentShapes(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")

	res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "consent": {
		"ads": true, "email": {"status": "granted"}, "sms": false, "push": "Denied", "whatsapp": {"status": "revoked", "source": "crm", "at": "2020-01-01T00:00:00Z"}}}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	status := func(p store.Profile, ch string) (string, string) {
		t.Helper()
		m, ok := p.Consent[ch].(map[string]any)
		require.True(t, ok, "consent %s: %v", ch, p.Consent[ch])
		return m["status"].(string), m["source"].(string)
	}
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	for ch, want := range map[string]string{"ads": "granted", "email": "granted", "sms": "denied", "push": "denied", "whatsapp": "revoked"} {
		got, source := status(p, ch)
		require.Equal(t, want, got, ch)
		require.Equal(t, "api", source, ch)
	}

	// An event's profile takes the same shapes.
	res = b.Call("POST", "/api/v1/events", w, []byte(`{"name": "consented", "profile_id": "u1", "profile": {"consent": {"ads": false, "email": {"status": "unsubscribed"}}}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	p, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	got, source := status(p, "ads")
	require.Equal(t, "denied", got)
	require.Equal(t, "event", source)
	got, _ = status(p, "email")
	require.Equal(t, "unsubscribed", got)
	got, _ = status(p, "sms")
	require.Equal(t, "denied", got, "channels the write does not name are kept")

	// A profile read back can be written back as it is.
	res = b.Call("GET", "/api/v1/profiles/u1", b.APIKey(store.DefaultWorkspaceID, "profiles:read"), nil)
	require.Equal(t, 200, res.Status)
	back := res.JSON(t)
	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "consent": {"sms": `+jsonOf(t, back["consent"].(map[string]any)["sms"])+`}}`))
	require.Equal(t, 200, res.Status, string(res.Body))
}

func TestConsentBadValues(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")
	for _, tc := range []struct{ name, consent, field, message string }{
		{"unknown status", `{"ads": "maybe"}`, "consent.ads", `status \"maybe\": want granted, denied, revoked, unsubscribed or opted_out`},
		{"number", `{"ads": 1}`, "consent.ads", "not a number"},
		{"null", `{"ads": null}`, "consent.ads", "null"},
		{"object without status", `{"ads": {"state": "granted"}}`, "consent.ads", `unknown key \"state\"`},
		{"status not a string", `{"ads": {"status": true}}`, "consent.ads", "status: want a string"},
		{"empty object", `{"ads": {}}`, "consent.ads", `no \"status\"`},
		{"bad channel", `{"a b": true}`, "consent", "not a channel name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "bad", "consent": `+tc.consent+`}`))
			require.Equal(t, 422, res.Status, string(res.Body))
			require.Contains(t, string(res.Body), `"field":"`+tc.field+`"`)
			require.Contains(t, string(res.Body), tc.message)
		})
	}
	// In a batch, the bad event is named and nothing is written.
	res := b.Call("POST", "/api/v1/events", w, []byte(`{"events": [
		{"name": "a", "profile_id": "ok", "profile": {"consent": {"ads": true}}},
		{"name": "b", "profile_id": "bad", "profile": {"consent": {"ads": "yes please"}}}]}`))
	require.Equal(t, 422, res.Status, string(res.Body))
	require.Contains(t, string(res.Body), `"field":"events[1].profile.consent.ads"`)
	for _, ext := range []string{"ok", "bad"} {
		_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, ext)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing written: %s", ext)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
