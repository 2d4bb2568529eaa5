package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// Handler tests of the trigger panel (trigger_panel.go): who sees the
// hook URL and secret, rotation and scheme, listening for a test request,
// the event trigger's names, and the curl examples run for real.

const webhookNode = `{"id": "start", "kind": "trigger_webhook", "title": "", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}}`

// hookFixture is a journey with a webhook trigger (reentry always), an
// editor, a viewer and an admin API key.
type hookFixture struct {
	b              *uitest.Bundle
	editor, viewer *uitest.EditorClient
	admin          string
	id             string
}

func newHookFixture(t *testing.T) hookFixture {
	t.Helper()
	b := uitest.Setup(t)
	f := hookFixture{b: b, editor: b.EditorClient(store.RoleEditor), viewer: b.EditorClient(store.RoleViewer),
		admin: b.APIKey(store.DefaultWorkspaceID, "admin")}
	r := b.Call("POST", "/api/v1/journeys", f.admin, []byte(strings.Replace(uitest.HookJourney, `"reentry": "never"`, `"reentry": "always"`, 1)))
	require.Equal(t, 201, r.Status, string(r.Body))
	f.id = r.JSON(t)["id"].(string)
	return f
}

// apiHook is the hook as the admin API answers it.
func (f hookFixture) apiHook(t *testing.T) (path, scheme string, secrets []string) {
	t.Helper()
	r := f.b.Call("GET", "/api/v1/journeys/"+f.id+"/hook", f.admin, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	m := r.JSON(t)
	for _, s := range m["secrets"].([]any) {
		secrets = append(secrets, s.(string))
	}
	return strings.TrimPrefix(m["url"].(string), "http://waymark.test"), m["scheme"].(string), secrets
}

func (f hookFixture) panel(c *uitest.EditorClient) (*http.Response, string) {
	return c.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {webhookNode}})
}

var (
	hookURLRE = regexp.MustCompile(`data-testid="hook-url">([^<]+)<`)
	secretRE  = regexp.MustCompile(`data-testid="hook-secret">([^<]+)<`)
	curlRE    = regexp.MustCompile(`(?s)data-testid="(?:hook|event)-curl">(.*?)</pre>`)
	pollRE    = regexp.MustCompile(`hx-get="([^"]+/hook/samples\?[^"]+)"`)
)

func secretsIn(page string) []string {
	var out []string
	for _, m := range secretRE.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestHookPanelRoles: the editor's first look creates the hook; viewers
// see its URL but never the secret, and cannot reveal, rotate, change the
// scheme or listen; editors reveal the same secrets the API gives.
func TestHookPanelRoles(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t)

	resp, page := f.panel(f.viewer)
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `data-testid="hook-none"`, "a viewer's look creates nothing")

	resp, page = f.panel(f.editor)
	require.Equal(t, 200, resp.StatusCode, page)
	m := hookURLRE.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	require.Regexp(t, `^http://waymark\.test/hooks/wh_`, m[1])
	require.Contains(t, page, `data-testid="reveal-secret"`)
	require.Contains(t, page, `data-testid="listen-start"`)
	require.NotContains(t, page, "whsec_", "the secret is shown on demand only")
	path, scheme, secrets := f.apiHook(t)
	require.Equal(t, "http://waymark.test"+path, m[1], "the API's URL")
	require.Equal(t, "standard", scheme)

	resp, page = f.panel(f.viewer)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, m[1], "viewers see the URL")
	require.Contains(t, page, `data-testid="hook-secret-hidden"`)
	require.NotContains(t, page, `data-testid="reveal-secret"`)
	require.NotContains(t, page, `data-testid="listen-start"`, "a request's body is personal data")
	require.NotContains(t, page, "whsec_")
	resp, page = f.viewer.Get("/journeys/" + f.id + "/hook")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "whsec_")
	for _, p := range []string{"reveal", "rotate", "scheme", "listen"} {
		resp, _ = f.viewer.Post("/journeys/"+f.id+"/hook/"+p, url.Values{"scheme": {"github"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, p)
	}
	resp, _ = f.viewer.Get("/journeys/" + f.id + "/hook/samples?since=1&until=2")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Reveal: the API's secret, and an example signed with it.
	resp, page = f.editor.Post("/journeys/"+f.id+"/hook/reveal", url.Values{"f.profile_id": {"event.body.user.id"}})
	require.Equal(t, 200, resp.StatusCode, page)
	require.Equal(t, secrets, secretsIn(page))
	require.Contains(t, page, `data-revealed="true"`)
	curl := html.UnescapeString(curlRE.FindStringSubmatch(page)[1])
	require.Contains(t, curl, "SECRET='"+secrets[0]+"'")
	require.Contains(t, curl, `BODY='{"user":{"id":"u_1042"}}'`, "the body the mapping reads")
	resp, page = f.editor.Get("/journeys/" + f.id + "/hook")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "whsec_", "hidden again")

	// Rotate: both secrets are valid, the older for a day; audited.
	resp, page = f.editor.Post("/journeys/"+f.id+"/hook/rotate", nil)
	require.Equal(t, 200, resp.StatusCode, page)
	_, _, rotated := f.apiHook(t)
	require.Len(t, rotated, 2)
	require.Equal(t, secrets[0], rotated[1])
	require.Equal(t, rotated, secretsIn(page))
	require.Contains(t, page, "Previous secret, valid until")
	require.Contains(t, page, `data-testid="hook-notice"`)
	audit, err := f.b.Store.ListAudit(f.b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.hook_rotate"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "user", audit[0].ActorType)

	// The scheme: a bad value is a 422 naming the choices.
	resp, page = f.editor.Post("/journeys/"+f.id+"/hook/scheme", url.Values{"scheme": {"carrier-pigeon"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="hook-error"`)
	require.Contains(t, html.UnescapeString(page), `scheme: choose "standard" (Standard Webhooks) or "github" (GitHub-style), not "carrier-pigeon"`)
	resp, page = f.editor.Post("/journeys/"+f.id+"/hook/scheme", url.Values{"scheme": {"github"}})
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `data-scheme="github"`)
	require.Contains(t, html.UnescapeString(page), "X-Hub-Signature-256: sha256=$SIG")
	_, scheme, _ = f.apiHook(t)
	require.Equal(t, "github", scheme)

	// Another workspace's or a missing journey: 404.
	resp, _ = f.editor.Post("/journeys/nope/hook/reveal", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = f.editor.Get("/journeys/" + f.id + "/hook/samples?since=yesterday&until=2")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = f.editor.Get("/journeys/" + f.id + "/hook/samples?since=1000&until=9999999")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a window longer than a listen")
}

// TestHookListen: listening shows the next signed request's body, with
// each value's expression, and what the sender was answered; requests are
// processed as usual (a draft starts no run, a live journey does); a
// refused signature is listed without its body; nothing is kept while
// nobody listens.
func TestHookListen(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t)
	_, page := f.panel(f.editor)
	require.Contains(t, page, `data-testid="listen-start"`)
	path, _, secrets := f.apiHook(t)
	body := []byte(`{"user": {"id": "u1", "email": "ada@example.com", "first-name": "Ada"}, "items": [{"sku": "a1"}]}`)

	r := f.b.PostHook(path, secrets[0], "before", time.Time{}, body)
	require.Equal(t, http.StatusConflict, r.Status, "a draft")

	resp, page := f.editor.Post("/journeys/"+f.id+"/hook/listen", nil)
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `data-state="listening"`)
	require.Contains(t, page, `data-testid="listen-waiting"`)
	poll := html.UnescapeString(pollRE.FindStringSubmatch(page)[1])
	resp, page = f.editor.Get(poll)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-state="listening"`, "nothing arrived since")
	require.NotContains(t, page, `data-testid="arrival"`, "the request before listening is not shown")

	r = f.b.PostHook(path, "whsec_"+strings.Repeat("A", 43)+"=", "forged", time.Time{}, body)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	resp, page = f.editor.Get(poll)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-state="listening"`, "a refused request does not end the listening")
	require.Contains(t, page, `data-status="401"`)
	require.Contains(t, page, "bad_signature")
	require.NotContains(t, page, "ada@example.com", "an unsigned body is never shown")

	r = f.b.PostHook(path, secrets[0], "test-1", time.Time{}, body)
	require.Equal(t, http.StatusConflict, r.Status, "listening changes nothing in how the request is answered")
	resp, page = f.editor.Get(poll)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-state="idle"`, "a signed request ends the listening")
	require.Contains(t, page, `data-status="409"`)
	require.Contains(t, page, "journey_not_live")
	for _, expr := range []string{`event.body.user.id`, `event.body.user.email`, `event.body.user[&#34;first-name&#34;]`, `event.body.items[0].sku`} {
		require.Contains(t, page, `data-tp-expr="`+expr+`"`)
	}
	require.Contains(t, page, `data-tp-target="f.profile_id"`)
	require.Contains(t, page, "ada@example.com")
	runs, _, err := f.b.Store.ListRuns(f.b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: f.id})
	require.NoError(t, err)
	require.Empty(t, runs, "a draft starts no run")

	// Reopened later, the panel still offers the last sample to pick from.
	_, page = f.panel(f.editor)
	require.Contains(t, page, `data-tp-expr="event.body.user.id"`)

	// Live: the request listened to starts a run, as any other.
	r = f.b.Call("POST", "/api/v1/journeys/"+f.id+"/publish", f.admin, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	_, page = f.editor.Post("/journeys/"+f.id+"/hook/listen", nil)
	poll = html.UnescapeString(pollRE.FindStringSubmatch(page)[1])
	r = f.b.PostHook(path, secrets[0], "live-1", time.Time{}, body)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	runID := r.JSON(t)["run_id"].(string)
	_, page = f.editor.Get(poll)
	require.Contains(t, page, `data-status="202"`)
	require.Contains(t, page, `href="/runs/`+runID+`"`)

	// Stop keeps what arrived and stops polling.
	_, page = f.editor.Get(poll + "&stop=1")
	require.Contains(t, page, `data-state="idle"`)
	require.NotContains(t, page, `hx-trigger="load delay:1s"`)
}

// TestListenWindowEnds: a listen that saw nothing says so when its window
// is over, and a request after it is not kept.
func TestListenWindowEnds(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t)
	f.panel(f.editor)
	_, page := f.editor.Post("/journeys/"+f.id+"/hook/listen", nil)
	poll := html.UnescapeString(pollRE.FindStringSubmatch(page)[1])
	u, err := url.Parse(poll)
	require.NoError(t, err)
	q := u.Query()
	// The same window, ended: since and until one minute back.
	since := time.Now().Add(-3 * time.Minute).UnixMilli()
	q.Set("since", strconv.FormatInt(since, 10))
	q.Set("until", strconv.FormatInt(since+60_000, 10))
	u.RawQuery = q.Encode()
	resp, page := f.editor.Get(u.String())
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-state="timeout"`)
	require.Contains(t, page, `data-testid="listen-timeout"`)
	require.Contains(t, page, `data-testid="listen-start"`, "listen again")
}

// TestHookCurlExample runs the panel's example, as copied, in a shell
// against a real listener: openssl signs, curl sends, a run starts. Then
// the same with GitHub-style signatures.
func TestHookCurlExample(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "curl", "openssl", "base64", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	f := newHookFixture(t)
	base := f.b.Listen()
	f.panel(f.editor)
	r := f.b.Call("POST", "/api/v1/journeys/"+f.id+"/publish", f.admin, nil)
	require.Equal(t, 200, r.Status, string(r.Body))

	run := func(page string) string {
		t.Helper()
		m := curlRE.FindStringSubmatch(page)
		require.NotNil(t, m, page)
		script := html.UnescapeString(m[1])
		// The server's public URL is http://waymark.test in tests: point
		// the example at the listener instead.
		script = strings.Replace(script, "URL='http://waymark.test", "URL='"+base, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "sh", "-c", script).CombinedOutput()
		require.NoError(t, err, "%s\n%s", script, out)
		return string(out)
	}
	mapping := url.Values{"f.profile_id": {"event.body.user.id"}, "f.email": {"event.body.user.email"}}
	_, page := f.editor.Post("/journeys/"+f.id+"/hook/reveal", mapping)
	out := run(page)
	require.Contains(t, out, `"entered":true`, out)
	p, err := f.b.Store.GetProfileByExternalID(f.b.Ctx, store.DefaultWorkspaceID, "u_1042")
	require.NoError(t, err, "the example's body maps to a profile")
	require.Equal(t, "ada@example.com", p.Email)
	out = run(page)
	require.Contains(t, out, `"entered":true`, "each run has its own webhook-id: %s", out)

	// After a rotation the example uses the new secret.
	_, page = f.editor.Post("/journeys/"+f.id+"/hook/rotate", mapping)
	out = run(page)
	require.Contains(t, out, `"entered":true`, out)

	_, page = f.editor.Post("/journeys/"+f.id+"/hook/scheme", url.Values{"scheme": {"github"}, "f.profile_id": {"event.body.user.id"}})
	out = run(page)
	require.Contains(t, out, `"entered":true`, out)
	out = run(page)
	require.Contains(t, out, "duplicate_webhook", "the github scheme refuses the same body within a day, as the example says")
}

// TestEventPanel: an event trigger's panel offers the names the workspace
// received (its own name marked) and an example request that, run in a
// shell with an events:write key, sends the event.
func TestEventPanel(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	editor := b.EditorClient(store.RoleEditor)
	viewer := b.EditorClient(store.RoleViewer)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "events:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.EventJourney))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	node := `{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}}`

	_, page := editor.Post("/journeys/"+id+"/panel/node", url.Values{"node": {node}})
	require.Contains(t, page, `data-testid="recent-events-none"`)
	require.Contains(t, html.UnescapeString(page), `"name":"signed_up"`)

	for _, name := range []string{"paid", "signed_up", "page viewed"} {
		r = b.Call("POST", "/api/v1/events", key, []byte(`{"name": "`+name+`", "profile_id": "u1"}`))
		require.Equal(t, 202, r.Status, string(r.Body))
	}
	other := b.APIKey("elsewhere", "events:write")
	r = b.Call("POST", "/api/v1/events", other, []byte(`{"name": "secret_event", "profile_id": "u1"}`))
	require.Equal(t, 202, r.Status, string(r.Body))

	_, page = editor.Post("/journeys/"+id+"/panel/node", url.Values{"node": {node}})
	require.Contains(t, page, `data-tp-event="signed_up" aria-pressed="true"`)
	require.Contains(t, page, `data-tp-event="paid" aria-pressed="false"`)
	require.Contains(t, page, `data-tp-event="page viewed"`)
	require.NotContains(t, page, "secret_event", "another workspace's names")
	_, page = viewer.Post("/journeys/"+id+"/panel/node", url.Values{"node": {node}})
	require.Contains(t, page, `data-tp-event="paid" aria-pressed="false" disabled`, "viewers see the names, cannot pick")

	// The form's own posts re-render the example with the field's name.
	_, page = editor.Post("/journeys/"+id+"/panel/node", url.Values{"node_id": {"start"}, "kind": {"trigger_event"}, "f.event": {"it's_paid"}})
	m := curlRE.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	script := html.UnescapeString(m[1])
	require.Contains(t, script, `--data-raw '{"name":"it'\''s_paid","profile_id":"u_1042","properties":{}}'`, "shell-quoted")

	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	base := b.Listen()
	_, page = editor.Post("/journeys/"+id+"/panel/node", url.Values{"node_id": {"start"}, "kind": {"trigger_event"}, "f.event": {"signed_up"}})
	script = html.UnescapeString(curlRE.FindStringSubmatch(page)[1])
	script = strings.Replace(script, "'http://example.com", "'"+base, 1)
	require.Contains(t, script, base+"/api/v1/events", "the example posts to the server's own URL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(cmd.Environ(), "WAYMARK_API_KEY="+key)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, out)
	require.Contains(t, string(out), `"entered":["`, "the event entered the journey: %s", out)
	require.Contains(t, string(out), `"profile_id":"u_1042"`)
}
