package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// Credential-like headers are never stored in a webhook run's entry event
// (security review F9); ordinary headers are.
func TestHookEntryDropsCredentialHeaders(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	entry := string(b.PersonalRun().EntryEvent)
	require.Contains(t, entry, "shop.example.com")
	require.NotContains(t, entry, "SECRET", "no credential header is stored")
	for _, h := range []string{"authorization", "cookie", "x-api-key", "x-auth-token", "x-client-secret", "x-db-password", "webhook-signature"} {
		require.NotContains(t, strings.ToLower(entry), `"`+h, h)
	}
}

// Recipients, rendered subjects, the entry event and the attribute values
// a step wrote are personal data: a viewer's run page and a journeys:read
// key's GET /api/v1/runs/{id} leave them out; profile readers see them
// (security review F6).
func TestRunPersonalDataNeedsProfilesRead(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	runID := b.PersonalRun().ID

	secrets := []string{"ada.private@example.com", "sensitive-condition"}

	// The UI: a viewer sees the run's path, not its personal data.
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	vi := b.Client()
	vi.Login("vi@example.com", "correct horse battery")
	resp, page := vi.Get("/runs/" + runID)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-node-id="hello"`, "the timeline is there")
	require.Contains(t, page, `data-testid="delivery-row"`, "and the message")
	for _, s := range secrets {
		require.NotContains(t, page, s)
	}
	require.NotContains(t, page, `data-testid="delivery-recipient"`)
	require.NotContains(t, page, `data-testid="run-entry"`)
	require.Contains(t, page, `data-testid="step-details-hidden"`)
	require.Contains(t, page, `data-testid="personal-hidden"`, "the page says what it leaves out")

	ed := b.Client()
	ed.Login("ed@example.com", "correct horse battery")
	resp, page = ed.Get("/runs/" + runID)
	require.Equal(t, 200, resp.StatusCode)
	for _, s := range secrets {
		require.Contains(t, page, s, "profile readers see it")
	}
	require.Contains(t, page, "Your sensitive-condition plan")
	require.NotContains(t, page, `data-testid="personal-hidden"`)

	// The API: journeys:read alone gets no recipient, subject, entry or
	// written values; with profiles:read it gets them all.
	type runBody struct {
		Steps []struct {
			Kind         string         `json:"kind"`
			Detail       map[string]any `json:"detail"`
			DetailHidden bool           `json:"detail_hidden"`
		} `json:"steps"`
		Deliveries []map[string]any `json:"deliveries"`
		Entry      json.RawMessage  `json:"entry"`
		Hidden     bool             `json:"personal_data_hidden"`
	}
	get := func(key string) (runBody, string) {
		t.Helper()
		res := b.Call("GET", "/api/v1/runs/"+runID, key, nil)
		require.Equal(t, 200, res.Status, string(res.Body))
		var rb runBody
		require.NoError(t, json.Unmarshal(res.Body, &rb))
		return rb, string(res.Body)
	}
	rb, raw := get(b.APIKey(store.DefaultWorkspaceID, "journeys:read"))
	for _, s := range secrets {
		require.NotContains(t, raw, s)
	}
	require.NotContains(t, raw, "shop.example.com", "no entry headers")
	require.True(t, rb.Hidden)
	require.Nil(t, rb.Entry)
	require.Len(t, rb.Deliveries, 1)
	require.NotContains(t, rb.Deliveries[0], "recipient")
	require.NotContains(t, rb.Deliveries[0], "subject")
	require.Equal(t, "delivered", rb.Deliveries[0]["status"], "the rest of the message is there")
	for _, st := range rb.Steps {
		if st.Kind == "update_profile" {
			require.True(t, st.DetailHidden)
			require.Nil(t, st.Detail)
		}
	}

	for _, key := range []string{b.APIKey(store.DefaultWorkspaceID, "journeys:read", "profiles:read"), admin} {
		rb, raw = get(key)
		for _, s := range secrets {
			require.Contains(t, raw, s)
		}
		require.False(t, rb.Hidden)
		require.Contains(t, string(rb.Entry), "shop.example.com")
		require.Equal(t, "ada.private@example.com", rb.Deliveries[0]["recipient"])
		require.Equal(t, "Your sensitive-condition plan", rb.Deliveries[0]["subject"])
	}
}
