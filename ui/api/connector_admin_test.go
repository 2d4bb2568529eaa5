package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/twilio"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestConnectorTypesAPI(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	r := b.Call("GET", "/api/v1/connector-types", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	var out struct {
		Types []struct {
			Name      string   `json:"name"`
			Kinds     []string `json:"kinds"`
			RateLimit struct {
				PerSecond float64 `json:"per_second"`
			} `json:"rate_limit"`
			Fields []struct {
				Name     string `json:"name"`
				Type     string `json:"type"`
				Secret   bool   `json:"secret"`
				Required bool   `json:"required"`
				Help     string `json:"help"`
			} `json:"fields"`
		} `json:"connector_types"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &out))
	require.Len(t, out.Types, 9)
	byName := map[string]int{}
	for i, ty := range out.Types {
		byName[ty.Name] = i
	}
	smtp := out.Types[byName["smtp"]]
	require.Equal(t, []string{"send_email"}, smtp.Kinds)
	require.Equal(t, 10.0, smtp.RateLimit.PerSecond)
	secret := map[string]bool{}
	for _, f := range smtp.Fields {
		secret[f.Name] = f.Secret
	}
	require.True(t, secret["password"])
	require.False(t, secret["host"])
	for _, name := range []string{"sandbox", "twilio", "webhook", "meta_audiences", "google_customer_match"} {
		require.Contains(t, byName, name)
	}

	// Admin scope only.
	other := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.Call("GET", "/api/v1/connector-types", other, nil)
	require.Equal(t, 403, r.Status)
	r = b.Call("GET", "/api/v1/connectors", other, nil)
	require.Equal(t, 403, r.Status)
}

func TestConnectorAPILifecycle(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")

	// Validation: 422 naming each field.
	r := b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "smtp", "name": "Mail Server", "config": {"port": "x"}}`))
	require.Equal(t, 422, r.Status, string(r.Body))
	var verr struct {
		Error struct {
			Code    string   `json:"code"`
			Details []Detail `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &verr))
	require.Equal(t, "invalid_connector", verr.Error.Code)
	fields := map[string]bool{}
	for _, d := range verr.Error.Details {
		fields[d.Field] = true
	}
	require.Equal(t, map[string]bool{"name": true, "config.host": true, "config.port": true, "config.from": true}, fields)
	for _, bad := range []string{`nope`, `{"type": "smtp", "bogus": 1}`, ``, `[]`} {
		r = b.Call("POST", "/api/v1/connectors", key, []byte(bad))
		require.Equal(t, 400, r.Status, bad)
	}
	r = b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "fax", "name": "f"}`))
	require.Equal(t, 422, r.Status)

	// Create: the secret never comes back.
	r = b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "smtp", "name": "mail", "config": {"host": "smtp.example.com", "from": "Acme <news@acme.example>", "username": "apikey", "password": "sup3r-s3cret-pw"}}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), "sup3r-s3cret-pw")
	created := r.JSON(t)
	id := created["id"].(string)
	require.Equal(t, "/api/v1/connectors/"+id, r.Header.Get("Location"))
	require.Equal(t, []any{"password"}, created["secrets_set"])
	require.NotContains(t, created["config"], "password")

	r = b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "smtp", "name": "mail", "config": {"host": "h.example", "from": "a@b.example"}}`))
	require.Equal(t, 409, r.Status)

	r = b.Call("GET", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, 200, r.Status)
	require.NotContains(t, string(r.Body), "sup3r-s3cret-pw")
	got := r.JSON(t)
	require.Equal(t, "smtp.example.com", got["config"].(map[string]any)["host"])
	require.Contains(t, got, "backlog")

	r = b.Call("GET", "/api/v1/connectors", key, nil)
	require.Equal(t, 200, r.Status)
	list := r.JSON(t)["connectors"].([]any)
	require.Len(t, list, 2)
	require.Equal(t, "sandbox", list[0].(map[string]any)["name"])
	r = b.Call("GET", "/api/v1/connectors/sandbox", key, nil)
	require.Equal(t, 200, r.Status)

	// Patch: merge; an absent secret is kept; the change list is audited without values.
	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"config": {"port": 465, "tls": "implicit"}}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, []any{"password"}, r.JSON(t)["secrets_set"])
	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"config": {"password": "n3w-s3cret"}, "enabled": false}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, false, r.JSON(t)["enabled"])
	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"config": {"tls": "ssl"}}`))
	require.Equal(t, 422, r.Status)
	r = b.Call("PATCH", "/api/v1/connectors/sandbox", key, []byte(`{"enabled": false}`))
	require.Equal(t, 409, r.Status)
	r = b.Call("PATCH", "/api/v1/connectors/nope", key, []byte(`{}`))
	require.Equal(t, 404, r.Status)

	entries, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{})
	require.NoError(t, err)
	actions := []string{}
	for _, e := range entries {
		raw, _ := json.Marshal(e.Summary)
		require.NotContains(t, string(raw), "s3cret")
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"connector.update", "connector.update", "connector.create"}, actions)
	last, _ := json.Marshal(entries[0].Summary)
	require.JSONEq(t, `{"name": "mail", "changed": ["enabled", "password"]}`, string(last))

	r = b.Call("DELETE", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, 204, r.Status)
	r = b.Call("GET", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, 404, r.Status)

	// Another workspace sees none of it.
	otherKey := b.APIKey("acme", "admin")
	r = b.Call("GET", "/api/v1/connectors", otherKey, nil)
	require.Len(t, r.JSON(t)["connectors"], 1)
}

// Detail mirrors the API's error detail.
type Detail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func TestConnectorDeleteRefusedWhilePublished(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin", "journeys:read", "journeys:write")
	hook, hits := uitest.WebhookReceiver(t)
	r := b.Call("POST", "/api/v1/connectors", key, []byte(`{"type": "webhook", "name": "crm", "config": {"url": "`+hook.URL+`", "secret": "`+uitest.WebhookSecret+`"}}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	// Test: the receiver's real answer.
	r = b.Call("POST", "/api/v1/connectors/"+id+"/test", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, true, r.JSON(t)["ok"])
	require.Contains(t, r.JSON(t)["detail"], `"ok": true`)
	require.EqualValues(t, 1, hits.Load())

	doc := `{"format": 1, "name": "Sync CRM", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
		{"id": "push", "kind": "send_webhook", "config": {"connector": "crm", "payload": "{}"}}],
		"edges": [{"from": "start", "to": "push"}]}`
	r = b.Call("POST", "/api/v1/journeys", key, []byte(doc))
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))

	r = b.Call("DELETE", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, 409, r.Status)
	var e struct {
		Error struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Details []Detail `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &e))
	require.Equal(t, "connector_in_use", e.Error.Code)
	require.Len(t, e.Error.Details, 1)
	require.Contains(t, e.Error.Details[0].Message, `"Sync CRM"`)
	require.Contains(t, e.Error.Details[0].Message, jid)
	require.Contains(t, e.Error.Details[0].Message, "push")
	r = b.Call("PATCH", "/api/v1/connectors/"+id, key, []byte(`{"name": "crm-2"}`))
	require.Equal(t, 409, r.Status, "renaming would break the journey")

	r = b.Call("POST", "/api/v1/journeys/"+jid+"/archive", key, nil)
	require.Equal(t, 200, r.Status)
	r = b.Call("DELETE", "/api/v1/connectors/"+id, key, nil)
	require.Equal(t, 204, r.Status)
}

func TestSandboxMessagesAPI(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	mk := func(k, conn, channel, subject, body string, payload string) {
		_, err := b.Store.CreateDelivery(b.Ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, RunID: "r1", IdempotencyKey: k, Connector: conn,
			Channel: channel, Recipient: "ada@example.com", Subject: subject, Body: body, Payload: json.RawMessage(payload), Status: store.DeliveryDelivered})
		require.NoError(t, err)
	}
	mk("k1", "sandbox", "send_email", "Welcome", "<p>Hi</p>", "")
	mk("k2", "mail", "send_email", "Not sandbox", "x", "")
	mk("k3", "sandbox", "send_sms", "", "Your code is 1234", "")
	mk("k4", "sandbox", "send_webhook", "", "", `{"user": "ada"}`)

	r := b.Call("GET", "/api/v1/sandbox/messages", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	var out struct {
		Messages []struct {
			Kind    string          `json:"kind"`
			Subject string          `json:"subject"`
			Body    string          `json:"body"`
			Payload json.RawMessage `json:"payload"`
		} `json:"messages"`
		Next *string `json:"next"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &out))
	require.Len(t, out.Messages, 3)
	require.NotNil(t, out.Next)
	require.Equal(t, "send_webhook", out.Messages[0].Kind, "newest first")
	require.JSONEq(t, `{"user": "ada"}`, string(out.Messages[0].Payload))
	require.Equal(t, "Your code is 1234", out.Messages[1].Body)
	require.Equal(t, "Welcome", out.Messages[2].Subject)

	r = b.Call("GET", "/api/v1/sandbox/messages?limit=2", key, nil)
	page := r.JSON(t)
	require.Len(t, page["messages"], 2)
	r = b.Call("GET", "/api/v1/sandbox/messages?limit=2&cursor="+page["next"].(string), key, nil)
	rest := r.JSON(t)
	require.Len(t, rest["messages"], 1)
	require.Equal(t, "", rest["next"])
	r = b.Call("GET", "/api/v1/sandbox/messages?limit=0", key, nil)
	require.Equal(t, 400, r.Status)
}

func TestSuppressionsAPI(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	r := b.Call("POST", "/api/v1/suppressions", key, []byte(`{"channel": "email", "address": "Ada@Example.com"}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	require.Equal(t, "ada@example.com", r.JSON(t)["address"])
	require.Equal(t, "manual", r.JSON(t)["reason"])
	r = b.Call("POST", "/api/v1/suppressions", key, []byte(`{"channel": "fax", "address": "x"}`))
	require.Equal(t, 400, r.Status)
	r = b.Call("POST", "/api/v1/suppressions", key, []byte(`{"channel": "sms", "address": ""}`))
	require.Equal(t, 422, r.Status)
	r = b.Call("GET", "/api/v1/suppressions?channel=email", key, nil)
	require.Equal(t, 200, r.Status)
	require.Len(t, r.JSON(t)["suppressions"], 1)
	ok, err := b.Store.IsSuppressed(b.Ctx, store.DefaultWorkspaceID, "email", "ada@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	r = b.Call("DELETE", "/api/v1/suppressions?channel=email&address="+url.QueryEscape("ADA@example.com"), key, nil)
	require.Equal(t, 204, r.Status)
	r = b.Call("DELETE", "/api/v1/suppressions?channel=email&address=ada@example.com", key, nil)
	require.Equal(t, 404, r.Status)
	r = b.Call("GET", "/api/v1/suppressions?cursor=%25%25", key, nil)
	require.Equal(t, 400, r.Status)
}

var connectorLink = regexp.MustCompile(`href="/connectors/([0-9a-f-]{36})"`)

func TestConnectorAdminUI(t *testing.T) {
	t.Parallel()
	b, svc := uitest.SetupConnectors(t)
	b.CreateUser("root@example.com", "correct horse battery", store.RoleAdmin)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	tok := c.Login("root@example.com", "correct horse battery")

	resp, page := c.Get("/connectors")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="connectors-table"`)
	require.Contains(t, page, ">sandbox<")

	resp, page = c.Get("/connectors/new")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="choose-smtp"`)
	require.NotContains(t, page, `data-testid="choose-sandbox"`)

	// The form comes from the spec: one input per field, secrets as password inputs.
	resp, page = c.Get("/connectors/new?type=smtp")
	require.Equal(t, 200, resp.StatusCode)
	for _, f := range []string{"host", "port", "tls", "username", "password", "from", "reply_to", "dkim_private_key", "rate_limit"} {
		require.Contains(t, page, `name="config.`+f+`"`, f)
	}
	require.Regexp(t, `name="config.password" type="password" value=""`, page)
	require.Contains(t, page, `value="587"`, "defaults are filled in")
	resp, _ = c.Get("/connectors/new?type=sandbox")
	require.Equal(t, 404, resp.StatusCode)

	// CSRF is required.
	resp, _ = c.PostForm("/connectors", url.Values{"type": {"smtp"}, "name": {"mail"}})
	require.Equal(t, 403, resp.StatusCode)

	// Bad input re-renders with errors, keeping what was typed (not the secret).
	resp, page = c.PostForm("/connectors", url.Values{"_csrf": {tok}, "type": {"smtp"}, "name": {"Mail!"}, "config.host": {"smtp.example.com"},
		"config.password": {"typed-secret-1"}, "config.username": {"u"}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, page, `data-testid="name-error"`)
	require.Contains(t, page, `data-testid="config.from-error"`)
	require.Contains(t, page, `value="smtp.example.com"`)
	require.NotContains(t, page, "typed-secret-1")

	form := url.Values{"_csrf": {tok}, "type": {"smtp"}, "name": {"mail"}, "config.host": {"smtp.example.com"}, "config.port": {"587"},
		"config.tls": {"starttls"}, "config.username": {"apikey"}, "config.password": {"typed-secret-1"}, "config.from": {"news@acme.example"},
		"config.auth_mechanism": {"plain"}, "config.rate_limit": {"5"}}
	resp, _ = c.PostForm("/connectors", form)
	require.Equal(t, 303, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Regexp(t, `^/connectors/[0-9a-f-]{36}\?saved=1$`, loc)
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/connectors/"), "?saved=1")

	resp, page = c.Get(loc)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Connector saved.")
	require.NotContains(t, page, "typed-secret-1", "secrets are never rendered back")
	require.Contains(t, page, `data-testid="config.password-set"`)
	require.Contains(t, page, "5/s")

	// Saving with the password left blank keeps it (the host stays: a new
	// host needs the password again, see connector_retarget_test.go).
	form.Set("config.password", "")
	form.Set("config.from", "news2@acme.example")
	resp, _ = c.PostForm("/connectors/"+id, form)
	require.Equal(t, 303, resp.StatusCode)
	v, err := svc.Get(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, "news2@acme.example", v.Config["from"])
	require.Equal(t, []string{"password"}, v.SecretsSet)

	// Test: the provider's own answer is shown.
	hook, hits := uitest.WebhookReceiver(t)
	wh, err := svc.Create(b.Ctx, store.DefaultWorkspaceID, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": hook.URL, "secret": uitest.WebhookSecret}})
	require.NoError(t, err)
	resp, page = c.PostForm("/connectors/"+wh.ID+"/test", url.Values{"_csrf": {tok}})
	require.Equal(t, 200, resp.StatusCode)
	require.Regexp(t, `data-testid="test-result">HTTP 200: \{&#34;ok&#34;: true\}<`, page)
	require.EqualValues(t, 1, hits.Load())
	resp, _ = c.PostForm("/connectors/"+wh.ID+"/delete", url.Values{"_csrf": {tok}})
	require.Equal(t, 303, resp.StatusCode)

	resp, _ = c.PostForm("/connectors/"+id+"/disable", url.Values{"_csrf": {tok}})
	require.Equal(t, 303, resp.StatusCode)
	_, page = c.Get("/connectors/" + id)
	require.Contains(t, page, `data-testid="connector-state">disabled<`)
	resp, _ = c.PostForm("/connectors/"+id+"/enable", url.Values{"_csrf": {tok}})
	require.Equal(t, 303, resp.StatusCode)

	resp, _ = c.PostForm("/connectors/"+id+"/delete", url.Values{"_csrf": {tok}})
	require.Equal(t, 303, resp.StatusCode)
	_, page = c.Get("/connectors")
	require.Empty(t, connectorLink.FindAllString(page, -1))

	// Editors may not manage connectors, but see the Test inbox.
	ed := b.Client()
	ed.Login("ed@example.com", "correct horse battery")
	resp, _ = ed.Get("/connectors")
	require.Equal(t, 403, resp.StatusCode)
	resp, _ = ed.Get("/test-inbox")
	require.Equal(t, 200, resp.StatusCode)
	anon := b.Client()
	resp, _ = anon.Get("/connectors")
	require.Equal(t, 303, resp.StatusCode)
}

func TestConnectorDeleteInUseUI(t *testing.T) {
	t.Parallel()
	b, svc := uitest.SetupConnectors(t)
	b.CreateUser("root@example.com", "correct horse battery", store.RoleAdmin)
	v, err := svc.Create(b.Ctx, store.DefaultWorkspaceID, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": uitest.WebhookSecret}})
	require.NoError(t, err)
	doc := json.RawMessage(`{"format":1,"name":"Sync","nodes":[{"id":"start","kind":"trigger_event","config":{"event":"x"}},{"id":"push","kind":"send_webhook","config":{"connector":"crm"}}],"edges":[{"from":"start","to":"push"}]}`)
	j, err := b.Store.CreateJourney(b.Ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "Sync CRM", Draft: doc})
	require.NoError(t, err)
	_, err = b.Store.PublishJourney(b.Ctx, store.DefaultWorkspaceID, j.ID, doc, "t")
	require.NoError(t, err)
	c := b.Client()
	tok := c.Login("root@example.com", "correct horse battery")
	resp, page := c.PostForm("/connectors/"+v.ID+"/delete", url.Values{"_csrf": {tok}})
	require.Equal(t, 409, resp.StatusCode)
	require.Contains(t, page, `data-testid="delete-error"`)
	require.Contains(t, page, "Sync CRM")
	resp, page = c.PostForm("/connectors/"+v.ID, url.Values{"_csrf": {tok}, "type": {"webhook"}, "name": {"crm-renamed"}, "config.url": {"https://crm.example.com"}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, page, "Sync CRM")
}

func TestTestInboxUI(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	mk := func(k, channel, subject, body, payload string) store.Delivery {
		d, err := b.Store.CreateDelivery(b.Ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, RunID: "r1", NodeID: "n", IdempotencyKey: k, Connector: "sandbox",
			Channel: channel, Recipient: "ada@example.com", Subject: subject, Body: body, Payload: json.RawMessage(payload), Status: store.DeliveryDelivered})
		require.NoError(t, err)
		return d
	}
	email := mk("k1", "send_email", "Welcome <Ada>", `<p style="color:red">Hi</p><script>alert(1)</script>`, "")
	sms := mk("k2", "send_sms", "", "Your code is 1234", "")
	hook := mk("k3", "send_webhook", "", "", `{"user":"ada"}`)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")

	resp, page := c.Get("/test-inbox")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 3, strings.Count(page, `data-testid="inbox-row"`))
	require.Contains(t, page, "Welcome &lt;Ada&gt;")

	resp, page = c.Get("/test-inbox/" + email.ID)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `<iframe src="/test-inbox/`+email.ID+`/body" sandbox=""`)
	require.NotContains(t, page, "<script>alert(1)", "the HTML is not inlined into Waymark's page")

	resp, body := c.Get("/test-inbox/" + email.ID + "/body")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, `<p style="color:red">Hi</p>`)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "sandbox")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "frame-ancestors 'self'")
	require.NotContains(t, csp, "script-src")
	require.Equal(t, "SAMEORIGIN", resp.Header.Get("X-Frame-Options"))

	_, page = c.Get("/test-inbox/" + sms.ID)
	require.Contains(t, page, `data-testid="message-body">Your code is 1234<`)
	_, page = c.Get("/test-inbox/" + hook.ID)
	require.Contains(t, page, `&#34;user&#34;: &#34;ada&#34;`)
	resp, _ = c.Get("/test-inbox/" + sms.ID + "/body")
	require.Equal(t, 404, resp.StatusCode)

	// Not a sandbox delivery, or another workspace's: not found.
	other, err := b.Store.CreateDelivery(b.Ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, IdempotencyKey: "k9", Connector: "mail", Channel: "send_email"})
	require.NoError(t, err)
	resp, _ = c.Get("/test-inbox/" + other.ID)
	require.Equal(t, 404, resp.StatusCode)
}

func TestUnsubscribeLink(t *testing.T) {
	t.Parallel()
	b, svc := uitest.SetupConnectors(t)
	link := svc.UnsubscribeURL(store.DefaultWorkspaceID, "email", "ada@example.com")
	path := strings.TrimPrefix(link, "https://waymark.example.com")
	c := b.Client()

	resp, page := c.Get(path)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "a•••@example.com")
	require.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie for a link from an email")
	ok, err := b.Store.IsSuppressed(b.Ctx, store.DefaultWorkspaceID, "email", "ada@example.com")
	require.NoError(t, err)
	require.False(t, ok, "GET changes nothing (mail scanners follow links)")

	// RFC 8058 one-click: a POST without cookies or CSRF token, answered in place.
	req := httptest.NewRequest("POST", path, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = b.Server.App().Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"))
	ok, err = b.Store.IsSuppressed(b.Ctx, store.DefaultWorkspaceID, "email", "ada@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	sups, _, err := b.Store.ListSuppressions(b.Ctx, store.DefaultWorkspaceID, store.SuppressionFilter{})
	require.NoError(t, err)
	require.Equal(t, store.ReasonUnsubscribed, sups[0].Reason)

	resp, _ = c.Get("/u/not-a-token")
	require.Equal(t, 404, resp.StatusCode)
	resp, _ = c.PostForm("/u/"+strings.Repeat("A", 80), url.Values{})
	require.Equal(t, 404, resp.StatusCode)
}

func TestTwilioStatusCallback(t *testing.T) {
	t.Parallel()
	b, svc := uitest.SetupConnectors(t)
	v, err := svc.Create(b.Ctx, store.DefaultWorkspaceID, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tw-token", "from": "+15017122661"}})
	require.NoError(t, err)
	d, err := b.Store.CreateDelivery(b.Ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, IdempotencyKey: "r:1", Connector: "sms", Channel: "send_sms", Status: store.DeliverySent, ProviderID: "SM42"})
	require.NoError(t, err)
	path := twilio.CallbackPath(v.ID)
	form := url.Values{"MessageSid": {"SM42"}, "MessageStatus": {"delivered"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
	post := func(sig string) *http.Response {
		req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := b.Server.App().Test(req, -1)
		require.NoError(t, err)
		return resp
	}
	require.Equal(t, 403, post("forged").StatusCode)
	require.Equal(t, 204, post(twilio.Signature("tw-token", "https://waymark.example.com"+path, form)).StatusCode)
	got, err := b.Store.GetDelivery(b.Ctx, store.DefaultWorkspaceID, d.ID)
	require.NoError(t, err)
	require.Equal(t, store.DeliveryDelivered, got.Status)

	req := httptest.NewRequest("POST", "/callbacks/twilio/nope", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, 404, resp.StatusCode)
}
