package api_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

const retargetSID = "AC0123456789abcdef0123456789abcdef"

// authRecorder is a Twilio-compatible API that records the Authorization
// header of every request it gets.
func authRecorder(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sid": "` + retargetSID + `", "status": "active"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// Security review F4: PATCHing only base_url must not send the stored
// Twilio token to the new host.
func TestAPIConnectorRetargetNeedsSecretAgain(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	legit, legitSaw := authRecorder(t)
	thief, thiefSaw := authRecorder(t)

	r := b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "twilio", "name": "tw", "config": {"account_sid": "`+retargetSID+
		`", "auth_token": "TWILIO-SECRET-TOKEN-123", "from": "+15017122661", "base_url": "`+legit.URL+`"}}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"config": {"base_url": "`+thief.URL+`"}}`))
	require.Equal(t, 422, r.Status, string(r.Body))
	var e struct {
		Error struct {
			Code    string   `json:"code"`
			Details []Detail `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &e))
	require.Equal(t, "invalid_connector", e.Error.Code)
	require.Len(t, e.Error.Details, 1)
	require.Equal(t, "config.auth_token", e.Error.Details[0].Field)
	require.Contains(t, e.Error.Details[0].Message, "enter it again: API base URL (base_url) changes")

	r = b.Call("GET", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, legit.URL, r.JSON(t)["config"].(map[string]any)["base_url"], "nothing was written")

	r = b.Call("POST", "/api/v1/connectors/"+id+"/test", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Empty(t, thiefSaw(), "the new host received nothing")
	require.Equal(t, []string{basicAuth(retargetSID, "TWILIO-SECRET-TOKEN-123")}, legitSaw())

	// Moving with the token given again is an ordinary change.
	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"config": {"base_url": "`+thief.URL+`", "auth_token": "the-new-providers-token"}}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/connectors/"+id+"/test", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, []string{basicAuth(retargetSID, "the-new-providers-token")}, thiefSaw())
}

// The same rule through the admin form, which tells the admin why.
func TestConnectorFormRetargetNeedsSecretAgain(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	b.CreateUser("root@example.com", "correct horse battery", store.RoleAdmin)
	c := b.Client()
	tok := c.Login("root@example.com", "correct horse battery")
	legit, legitSaw := authRecorder(t)
	thief, thiefSaw := authRecorder(t)

	form := url.Values{"_csrf": {tok}, "type": {"twilio"}, "name": {"tw"}, "config.account_sid": {retargetSID},
		"config.auth_token": {"TWILIO-SECRET-TOKEN-123"}, "config.from": {"+15017122661"}, "config.base_url": {legit.URL},
		"config.status_callbacks": {"true"}, "config.rate_limit": {"1"}}
	resp, _ := c.PostForm("/connectors", form)
	require.Equal(t, 303, resp.StatusCode)
	loc := resp.Header.Get("Location")
	id := loc[len("/connectors/") : len(loc)-len("?saved=1")]

	// The form says up front that a new base URL needs the token again.
	_, page := c.Get("/connectors/" + id)
	require.Contains(t, html.UnescapeString(page), "Changing API base URL needs it entered again.")

	form.Set("config.auth_token", "")
	form.Set("config.base_url", thief.URL)
	resp, page = c.PostForm("/connectors/"+id, form)
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, page, `data-testid="config.auth_token-error"`)
	require.Contains(t, html.UnescapeString(page), "Enter it again: API base URL (base_url) changes, and a stored secret is never sent to a new destination")
	require.Contains(t, page, `value="`+thief.URL+`"`, "what was typed is shown back")

	resp, _ = c.PostForm("/connectors/"+id+"/test", url.Values{"_csrf": {tok}})
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, thiefSaw(), "the new host received nothing")
	require.Len(t, legitSaw(), 1)

	form.Set("config.auth_token", "the-new-providers-token")
	resp, _ = c.PostForm("/connectors/"+id, form)
	require.Equal(t, 303, resp.StatusCode)
	resp, _ = c.PostForm("/connectors/"+id+"/test", url.Values{"_csrf": {tok}})
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, []string{basicAuth(retargetSID, "the-new-providers-token")}, thiefSaw())
}
