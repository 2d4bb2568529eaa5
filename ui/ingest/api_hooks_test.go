package ingest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestWebhookTrigger(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.HookJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/hook", b.APIKey(store.DefaultWorkspaceID, "journeys:read"), nil)
	require.Equal(t, 403, res.Status, "the signing secret is for admins")
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/hook", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	hook := res.JSON(t)
	url := hook["url"].(string)
	path := url[len("http://waymark.test"):]
	secret := hook["secrets"].([]any)[0].(string)
	require.Regexp(t, `^/hooks/wh_`, path)

	body := []byte(`{"user": {"id": "u-1", "email": "ada@example.com"}, "plan": "pro"}`)
	res = b.PostHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 409, res.Status, "not live yet: %s", res.Body)

	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	res = b.PostHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 202, res.Status, string(res.Body))
	runID := res.JSON(t)["run_id"].(string)
	run, err := b.Store.GetRun(b.Ctx, runID)
	require.NoError(t, err)
	p, err := b.Store.GetProfile(b.Ctx, run.ProfileID)
	require.NoError(t, err)
	require.Equal(t, "u-1", p.ExternalID)
	require.Equal(t, "ada@example.com", p.Email)
	require.Contains(t, string(run.EntryEvent), `"plan":"pro"`)
	require.NotContains(t, string(run.EntryEvent), "webhook-signature", "credentials are not kept")

	// The same webhook-id again: refused, pointing at the first run.
	res = b.PostHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 409, res.Status)
	require.Contains(t, string(res.Body), runID)

	// Re-entry "never": a new delivery for the same user enters nothing.
	res = b.PostHook(path, secret, "msg_2", time.Time{}, body)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Equal(t, false, res.JSON(t)["entered"])

	tests := []struct {
		name, secret, id string
		ts               time.Time
		body             []byte
		status           int
		code             string
	}{
		{"no signature", "", "", time.Time{}, body, 401, "missing_signature"},
		{"wrong secret", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m3", time.Time{}, body, 401, "bad_signature"},
		{"six minutes old", secret, "m4", time.Now().Add(-6 * time.Minute), body, 401, "stale_timestamp"},
		{"malformed JSON", secret, "m5", time.Time{}, []byte(`{"user": `), 400, "bad_request"},
		{"no profile id", secret, "m6", time.Time{}, []byte(`{"user": {"email": "x@example.com"}}`), 422, "unmapped_profile"},
		{"bad email", secret, "m7", time.Time{}, []byte(`{"user": {"id": "u-9", "email": "not-an-email"}}`), 422, "unmapped_profile"},
		{"NUL in the profile id", secret, "m11", time.Time{}, []byte(`{"user": {"id": "u-9\u0000"}}`), 422, "nul_character"},
		{"NUL elsewhere in the body", secret, "m12", time.Time{}, []byte(`{"user": {"id": "u-9"}, "note": "a\u0000b"}`), 422, "nul_character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.PostHook(path, tt.secret, tt.id, tt.ts, tt.body)
			require.Equal(t, tt.status, res.Status, string(res.Body))
			require.Equal(t, tt.code, res.JSON(t)["error"].(map[string]any)["code"])
		})
	}
	res = b.PostHook("/hooks/wh_unknown", secret, "m8", time.Time{}, body)
	require.Equal(t, 404, res.Status)
	_, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u-9")
	require.ErrorIs(t, err, store.ErrNotFound, "refused requests create nothing")

	// An escaped backslash before "u0000" is text, not a NUL.
	res = b.PostHook(path, secret, "m13", time.Time{}, []byte(`{"user": {"id": "u-13"}, "note": "C:\\u0000"}`))
	require.Equal(t, 202, res.Status, string(res.Body))

	// A failed request's webhook-id can be retried; a refused one too.
	res = b.PostHook(path, secret, "m6", time.Time{}, []byte(`{"user": {"id": "u-6"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))

	// Rotation: the old secret keeps working during the grace period.
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/hook/rotate", admin, nil)
	require.Equal(t, 200, res.Status)
	secrets := res.JSON(t)["secrets"].([]any)
	require.Len(t, secrets, 2)
	res = b.PostHook(path, secrets[0].(string), "m9", time.Time{}, []byte(`{"user": {"id": "u-10"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	res = b.PostHook(path, secret, "m10", time.Time{}, []byte(`{"user": {"id": "u-11"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))

	res = b.Call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "smoke-signals"}`))
	require.Equal(t, 400, res.Status)
	res = b.Call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "github"}`))
	require.Equal(t, 200, res.Status)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/hook", b.APIKey("acme", "admin"), nil)
	require.Equal(t, 404, res.Status, "another workspace")
	require.Equal(t, http.StatusOK, 200)
}
