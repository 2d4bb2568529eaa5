package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", for fixtures
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// Handler tests for the editor's pages and forms, through app.Test.

func errorCode(t *testing.T, out map[string]any) string {
	t.Helper()
	e, _ := out["error"].(map[string]any)
	require.NotNil(t, e, "want a JSON error, got %v", out)
	code, _ := e["code"].(string)
	return code
}

func TestTemplatesGalleryMatchesTestdata(t *testing.T) {
	t.Parallel()
	want, err := filepath.Glob(filepath.Join(uitest.FlowsTestdataDir(), "*.json"))
	require.NoError(t, err)
	got, err := filepath.Glob("templates_gallery/*.json")
	require.NoError(t, err)
	require.Len(t, want, 6)
	require.Len(t, got, len(want), "one template per flows/testdata journey")
	for _, w := range want {
		a, err := os.ReadFile(w)
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join("templates_gallery", filepath.Base(w)))
		require.NoError(t, err, "copy %s into ui/web/templates_gallery", w)
		require.Equal(t, string(a), string(b), "ui/web/templates_gallery/%s differs from flows/testdata: copy it again", filepath.Base(w))
	}
}

func TestJourneyCreateForm(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)

	resp, page := c.Get("/journeys/new")
	require.Equal(t, 200, resp.StatusCode)
	for _, key := range []string{"abandoned_cart", "ad_retargeting", "birthday", "lead_scoring", "reengagement", "welcome_series"} {
		require.Contains(t, page, `data-testid="use-template-`+key+`"`)
	}

	tests := []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"no name", url.Values{"name": {"  "}}, "name-error", "Give the journey a name."},
		{"too long", url.Values{"name": {strings.Repeat("é", 257)}}, "name-error", "at most 256 characters"},
		{"control characters", url.Values{"name": {"a\nb"}}, "name-error", "single line"},
		{"unknown template", url.Values{"template": {"nope<script>"}}, "template-error", "There is no template named “nope&lt;script&gt;”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, page := c.Post("/journeys", tt.form)
			require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
			require.Contains(t, page, `data-testid="`+tt.field+`"`)
			require.Contains(t, page, tt.msg)
			require.NotContains(t, page, "<script>")
		})
	}
	list, _, err := b.Store.ListJourneys(b.Ctx, store.DefaultWorkspaceID, store.JourneyFilter{Status: "all"})
	require.NoError(t, err)
	require.Empty(t, list, "nothing created from a bad form")

	blank := c.Create(url.Values{"name": {"Trial onboarding"}})
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, blank)
	require.NoError(t, err)
	require.Equal(t, "Trial onboarding", j.Name)
	require.Equal(t, "editor@example.com", j.CreatedBy)
	doc, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	require.Empty(t, doc.Nodes)

	tpl := c.Create(url.Values{"template": {"abandoned_cart"}})
	j, err = b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, tpl)
	require.NoError(t, err)
	require.Equal(t, "Abandoned cart", j.Name)
	doc, err = flows.Parse(j.Draft)
	require.NoError(t, err)
	require.Len(t, doc.Nodes, 8)

	named := c.Create(url.Values{"template": {"birthday"}, "name": {"Birthdays 2026"}})
	j, err = b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, named)
	require.NoError(t, err)
	require.Equal(t, "Birthdays 2026", j.Name)

	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.create"})
	require.NoError(t, err)
	require.Len(t, audit, 3)
}

func TestJourneyListDuplicateArchive(t *testing.T) {
	t.Parallel()
	b, exec := uitest.SetupSQL(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"template": {"welcome_series"}})
	c.Create(url.Values{"name": {"Second <b>one</b>"}})

	// Entries in the last 7 days come from the runs.
	now := time.Now().UTC()
	exec("INSERT INTO profiles (id, workspace_id, external_id, created_at, updated_at) VALUES ('p1', ?, 'u1', ?, ?)", store.DefaultWorkspaceID, now, now)
	for i, at := range []time.Time{now.Add(-time.Hour), now.Add(-48 * time.Hour), now.Add(-10 * 24 * time.Hour)} {
		exec("INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, entered_at, updated_at) VALUES (?, ?, ?, 1, 'p1', 'completed', ?, ?)",
			"r"+string(rune('0'+i)), store.DefaultWorkspaceID, id, at, at)
	}

	resp, page := c.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Welcome series")
	require.Contains(t, page, "Second &lt;b&gt;one&lt;/b&gt;")
	require.Regexp(t, `data-journey-id="`+id+`"[\s\S]*?data-testid="journey-entries">2<`, page)
	require.Contains(t, page, "editor@example.com")

	resp, page = c.Get("/journeys?q=welcome")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 1, strings.Count(page, `data-testid="journey-row"`))
	resp, _ = c.Get("/journeys?status=nope")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Duplicate: a new draft with the same graph.
	resp, _ = c.Post("/journeys/"+id+"/duplicate", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	copyID := strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/journeys/"), "/edit")
	cp, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, copyID)
	require.NoError(t, err)
	require.Equal(t, "Copy of Welcome series", cp.Name)
	orig, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	a, _ := flows.Parse(orig.Draft)
	d, _ := flows.Parse(cp.Draft)
	require.Equal(t, a.Nodes, d.Nodes)
	resp, _ = c.Post("/journeys/nope/duplicate", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Archive from the list, back to the list.
	resp, _ = c.Post("/journeys/"+id+"/archive", url.Values{"next": {"/journeys?q=w"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/journeys?q=w", resp.Header.Get("Location"))
	resp, _ = c.Post("/journeys/"+id+"/archive", url.Values{"next": {"//evil.example"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode, "already archived")
	_, page = c.Get("/journeys")
	require.NotContains(t, page, `data-journey-id="`+id+`"`, "archived journeys leave the default list")
	_, page = c.Get("/journeys?status=archived")
	require.Contains(t, page, `data-journey-id="`+id+`"`)
}

func TestViewerIsReadOnly(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	ed := b.EditorClient(store.RoleEditor)
	id := ed.Create(url.Values{"template": {"birthday"}})
	v := b.EditorClient(store.RoleViewer)

	resp, page := v.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, `data-testid="new-journey"`)
	require.NotContains(t, page, `data-testid="journey-archive"`)

	resp, page = v.Get("/journeys/" + id + "/edit")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="readonly-banner"`)
	require.Contains(t, page, "view-only access")
	require.NotContains(t, page, `data-testid="palette"`)
	require.NotContains(t, page, `data-testid="publish"`)

	for _, path := range []string{"/journeys", "/journeys/" + id + "/duplicate", "/journeys/" + id + "/archive", "/journeys/" + id + "/pause", "/journeys/" + id + "/publish"} {
		resp, _ := v.Post(path, url.Values{"name": {"x"}, "revision": {"1"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, path)
	}
	resp, out := v.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": map[string]any{"format": 1, "name": "x"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "forbidden", errorCode(t, out))
	resp, _ = v.Get("/journeys/new")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Panels render read-only for viewers.
	resp, page = v.Post("/journeys/"+id+"/panel/node", url.Values{"node": {`{"id":"n1","kind":"condition","config":{"expr":"true"}}`}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `readonly`)
	require.NotContains(t, page, `data-testid="apply-node"`)
	require.Contains(t, page, `&#34;applied&#34;:false`)
}

func TestDraftAutosave(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Draft"}})
	path := "/journeys/" + id + "/draft"
	doc := map[string]any{"format": 1, "name": "Draft v2", "nodes": []any{
		map[string]any{"id": "start", "kind": "trigger_webhook", "position": map[string]any{"x": 10, "y": 20}, "config": map[string]any{"profile_id": "event.body.id"}},
		map[string]any{"id": "check", "kind": "condition", "position": map[string]any{"x": 300, "y": 20}, "config": map[string]any{"expr": "profle.x == 1"}},
	}, "edges": []any{map[string]any{"from": "start", "to": "check"}}}

	// Work in progress is saved with its problems.
	resp, out := c.PostJSON(path, map[string]any{"revision": 1, "document": doc})
	require.Equal(t, 200, resp.StatusCode, out)
	require.EqualValues(t, 2, out["revision"])
	problems, _ := out["problems"].([]any)
	require.NotEmpty(t, problems)
	require.Contains(t, uitest.MustJSON(t, problems), `"field":"expr","label":"Condition","message":"line 1, column 1: unknown name profle","node_id":"check"`)
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, "Draft v2", j.Name)
	require.Equal(t, "editor@example.com", j.UpdatedBy)

	// A save based on the old revision is refused: someone saved since.
	resp, out = c.PostJSON(path, map[string]any{"revision": 1, "document": doc})
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "stale_revision", errorCode(t, out))
	require.Contains(t, out["error"].(map[string]any)["message"], "editor@example.com saved this journey")

	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"not JSON", "nope", 400, "bad_request"},
		{"no revision", map[string]any{"document": doc}, 400, "bad_request"},
		{"no document", map[string]any{"revision": 2}, 400, "bad_request"},
		{"unknown field", map[string]any{"revision": 2, "document": doc, "extra": 1}, 400, "bad_request"},
		{"not a journey", map[string]any{"revision": 2, "document": map[string]any{"format": 2, "nodes": "x"}}, 400, "invalid_document"},
		{"no name", map[string]any{"revision": 2, "document": map[string]any{"format": 1, "name": " "}}, 422, "invalid_journey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := c.PostJSON(path, tt.body)
			require.Equal(t, tt.status, resp.StatusCode, out)
			require.Equal(t, tt.code, errorCode(t, out))
		})
	}
	resp, _ = c.PostJSON("/journeys/nope/draft", map[string]any{"revision": 1, "document": doc})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Without the CSRF header, nothing is saved.
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"revision":2,"document":{}}`))
	req.Header.Set("Content-Type", "application/json")
	require.Equal(t, http.StatusForbidden, c.Do(req).StatusCode)

	// Keeping my version as a copy after a conflict.
	resp, out = c.PostJSON("/journeys/copy", map[string]any{"revision": 1, "document": doc})
	require.Equal(t, http.StatusCreated, resp.StatusCode, out)
	cp, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, out["id"].(string))
	require.NoError(t, err)
	require.Equal(t, "Draft v2 (my copy)", cp.Name)
	resp, out = c.PostJSON("/journeys/copy", map[string]any{"revision": 1, "document": "x"})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid_document", errorCode(t, out))
}

var dataResult = regexp.MustCompile(`data-result="([^"]*)"`)

// panelResult decodes the JSON a panel hands back to the canvas.
func panelResult(t *testing.T, page string) map[string]any {
	t.Helper()
	m := dataResult.FindStringSubmatch(page)
	require.NotNil(t, m, "no data-result in the panel")
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(htmlUnescape(m[1])), &out))
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func TestNodePanelForm(t *testing.T) {
	t.Parallel()
	b, exec := uitest.SetupSQL(t)
	c := b.EditorClient(store.RoleEditor)
	now := time.Now().UTC()
	exec("INSERT INTO connectors (id, workspace_id, name, type, enabled, created_at, updated_at) VALUES ('c1', ?, 'mailer', 'smtp', true, ?, ?), ('c2', ?, 'texter', 'twilio', true, ?, ?)",
		store.DefaultWorkspaceID, now, now, store.DefaultWorkspaceID, now, now)
	id := c.Create(url.Values{"name": {"Panels"}})
	path := "/journeys/" + id + "/panel/node"

	// Opening a node: the form is generated from the kind's spec.
	resp, page := c.Post(path, url.Values{"node": {`{"id":"mail","kind":"send_email","title":"<b>Hi</b>","config":{"subject":"Hi {{ profile.first_name }}"}}`}})
	require.Equal(t, 200, resp.StatusCode)
	for _, f := range []string{"f.connector", "f.subject", "f.body", "f.text", "f.from_name", "f.reply_to"} {
		require.Contains(t, page, `name="`+f+`"`)
	}
	require.Contains(t, page, `value="&lt;b&gt;Hi&lt;/b&gt;"`, "titles are escaped")
	require.Contains(t, page, `<option value="mailer">mailer (smtp)</option>`, "connectors that serve email")
	require.NotContains(t, page, `texter`, "an SMS connector cannot send email")
	require.Contains(t, page, `data-testid="error-f.body"`, "required fields are flagged")
	require.Contains(t, page, "Hi Ada", "the subject is previewed on the sample profile")
	r := panelResult(t, page)
	require.Equal(t, false, r["applied"])

	tests := []struct {
		name  string
		form  url.Values
		field string // data-testid of the error
		msg   string
	}{
		{"expression compile error", url.Values{"kind": {"condition"}, "f.expr": {`profile.country = "FR"`}}, "error-f.expr", "line 1"},
		{"condition not boolean", url.Values{"kind": {"condition"}, "f.expr": {`1 + 2`}}, "error-f.expr", "true or false"},
		{"required", url.Values{"kind": {"condition"}}, "error-f.expr", "required"},
		{"template error", url.Values{"kind": {"send_sms"}, "f.connector": {"sandbox"}, "f.body": {`Hi {{ profile.first_name `}}, "error-f.body", "{{"},
		{"unknown connector", url.Values{"kind": {"send_sms"}, "f.connector": {"ghost"}, "f.body": {"Hi"}}, "error-f.connector", "ghost"},
		{"duration", url.Values{"kind": {"delay"}, "f.duration": {"3 days"}}, "error-f.duration", "duration"},
		{"duration too long", url.Values{"kind": {"delay"}, "f.duration": {"800d"}}, "error-f.duration", "at most"},
		{"time of day", url.Values{"kind": {"delay"}, "f.mode": {"until_time"}, "f.time": {"25:00"}}, "error-f.time", "HH:MM"},
		{"timezone", url.Values{"kind": {"delay"}, "f.mode": {"until_time"}, "f.time": {"09:00"}, "f.timezone": {"Mars/Olympus"}}, "error-f.timezone", "Mars/Olympus"},
		{"whole number", url.Values{"kind": {"split"}, "f.holdout": {"ten"}, "f.variants.0.name": {"a"}, "f.variants.0.weight": {"100"}}, "error-f.holdout", "enter a whole number"},
		{"weights add up", url.Values{"kind": {"split"}, "f.variants.0.name": {"a"}, "f.variants.0.weight": {"50"}, "f.variants.1.name": {"b"}, "f.variants.1.weight": {"30"}}, "error-f.variants", "add up to 100, got 80"},
		{"list item", url.Values{"kind": {"switch"}, "f.cases.0.name": {"Big Spender"}, "f.cases.0.expr": {"true"}}, "error-f.cases.0.name", "not a valid port name"},
		{"json payload", url.Values{"kind": {"send_webhook"}, "f.connector": {"sandbox"}, "f.payload": {`{"a": }`}}, "error-f.payload", "JSON"},
		{"cron", url.Values{"kind": {"trigger_schedule"}, "f.mode": {"cron"}, "f.cron": {"every day"}, "f.expr": {"true"}}, "error-f.cron", "cron"},
		{"title", url.Values{"kind": {"exit"}, "title": {strings.Repeat("x", 300)}}, "error-title", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := tt.form
			form.Set("node_id", "n1")
			resp, page := c.Post(path, form)
			require.Equal(t, 200, resp.StatusCode)
			require.Contains(t, page, `data-testid="`+tt.field+`"`)
			i := strings.Index(page, `data-testid="`+tt.field+`"`)
			require.Contains(t, page[i:min(len(page), i+400)], tt.msg)
			r := panelResult(t, page)
			require.Equal(t, true, r["applied"])
			require.NotZero(t, r["errors"])
		})
	}

	// A valid change: the config comes back as the canvas stores it.
	resp, page = c.Post(path, url.Values{"node_id": {"wait"}, "kind": {"delay"}, "title": {"Wait"}, "f.mode": {"until_time"}, "f.time": {"09:30"},
		"f.weekdays": {"mon", "fri"}, "f.timezone": {"Europe/Paris"}, "f.duration": {"3d"}})
	require.Equal(t, 200, resp.StatusCode)
	r = panelResult(t, page)
	require.EqualValues(t, 0, r["errors"])
	require.Equal(t, map[string]any{"mode": "until_time", "time": "09:30", "weekdays": []any{"mon", "fri"}, "timezone": "Europe/Paris"}, r["config"],
		"fields of other modes are dropped")
	require.Contains(t, page, `name="f.weekdays" value="mon" checked`)

	// Defaults stay out of the document unless it wrote them.
	_, page = c.Post(path, url.Values{"node_id": {"wait"}, "kind": {"delay"}, "f.mode": {"duration"}, "f.duration": {"1d"}})
	require.Equal(t, map[string]any{"duration": "1d"}, panelResult(t, page)["config"])
	_, page = c.Post(path, url.Values{"node_id": {"wait"}, "kind": {"delay"}, "f.mode": {"duration"}, "f.duration": {"1d"}, "_explicit": {"mode"}})
	require.Equal(t, map[string]any{"mode": "duration", "duration": "1d"}, panelResult(t, page)["config"])

	// List fields: add and remove items; the running total of a split.
	split := url.Values{"node_id": {"ab"}, "kind": {"split"}, "f.variants.0.name": {"a"}, "f.variants.0.weight": {"45"},
		"f.variants.1.name": {"b"}, "f.variants.1.weight": {"45"}, "f.holdout": {"10"}}
	_, page = c.Post(path, split)
	require.Regexp(t, `data-testid="total-f.variants"[^>]*>\s*Total: <strong class="total-sum">100</strong>`, page)
	require.EqualValues(t, 0, panelResult(t, page)["errors"])
	add := url.Values{"_op": {"add:variants"}}
	for k, v := range split {
		add[k] = v
	}
	_, page = c.Post(path, add)
	require.Len(t, panelResult(t, page)["config"].(map[string]any)["variants"], 3)
	remove := url.Values{"_op": {"remove:variants:0"}}
	for k, v := range split {
		remove[k] = v
	}
	_, page = c.Post(path, remove)
	require.Equal(t, []any{map[string]any{"name": "b", "weight": float64(45)}}, panelResult(t, page)["config"].(map[string]any)["variants"])
	require.Contains(t, page, "got 55")

	// Bad requests.
	for _, form := range []url.Values{
		{"node": {"{"}},
		{"node": {`{"id":"x","kind":"nope"}`}},
		{"node_id": {""}, "kind": {"exit"}},
	} {
		resp, _ := c.Post(path, form)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, form)
	}
	resp, _ = c.Post("/journeys/nope/panel/node", url.Values{"node": {`{"id":"x","kind":"exit"}`}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestTemplatePreview(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Preview"}})
	path := "/journeys/" + id + "/panel/preview"
	req := func(form url.Values) (int, map[string]any) {
		form.Set("_csrf", c.Tok)
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Accept", "application/json")
		resp := c.Do(r)
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := req(url.Values{"kind": {"send_email"}, "field": {"body"}, "value": {`<p>{{ profile.first_name }} & {{ "<b>" }}</p>`}})
	require.Equal(t, 200, status)
	require.Equal(t, "<p>Ada & &lt;b&gt;</p>", out["preview"], "HTML bodies escape values")
	status, out = req(url.Values{"kind": {"send_email"}, "field": {"subject"}, "value": {`{{ nope( }}`}})
	require.Equal(t, 200, status)
	require.NotEmpty(t, out["error"])
	status, _ = req(url.Values{"kind": {"send_email"}, "field": {"connector"}, "value": {"x"}})
	require.Equal(t, http.StatusBadRequest, status)
}

func TestSettingsPanelForm(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"template": {"welcome_series"}})
	path := "/journeys/" + id + "/panel/settings"

	resp, page := c.Post(path, url.Values{"settings": {`{"reentry":"after_exit","quiet_hours":{"start":"21:00","end":"08:00"},"timezone":"Europe/Paris","entry_window":{"start":"2026-01-01T09:00:00Z"}}`}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `<option value="after_exit" selected>`)
	require.Contains(t, page, `value="21:00"`)
	require.Contains(t, page, `value="2026-01-01T09:00"`)
	require.Contains(t, page, `<option value="Europe/Paris" selected>`)

	tests := []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"min interval needs re-entry", url.Values{"s.reentry": {"never"}, "s.reentry_min_interval": {"1d"}}, "s.reentry_min_interval", "after_exit or always"},
		{"bad duration", url.Values{"s.reentry": {"always"}, "s.reentry_min_interval": {"soon"}}, "s.reentry_min_interval", "duration"},
		{"entry limit number", url.Values{"s.entry_limit.total": {"many"}}, "s.entry_limit.total", "whole number"},
		{"per profile needs re-entry", url.Values{"s.reentry": {"never"}, "s.entry_limit.per_profile": {"3"}}, "s.entry_limit.per_profile", "reentry"},
		{"window order", url.Values{"s.entry_window.start": {"2026-02-01T00:00"}, "s.entry_window.end": {"2026-01-01T00:00"}}, "s.entry_window.end", "after start"},
		{"exit criteria expression", url.Values{"s.exit_criteria.expr": {"event.x ="}}, "s.exit_criteria.expr", "line 1"},
		{"goal needs an event", url.Values{"s.goal.filter": {"true"}}, "s.goal.event", "required"},
		{"goal window", url.Values{"s.goal.event": {"buy"}, "s.goal.window": {"0d"}}, "s.goal.window", "longer than 0s"},
		{"quiet hours", url.Values{"s.quiet_hours.start": {"22:00"}}, "s.quiet_hours.end", "HH:MM"},
		{"frequency cap", url.Values{"s.frequency_cap.email.count": {"5000"}, "s.frequency_cap.email.period": {"day"}}, "s.frequency_cap.email.count", "between 1 and 1000"},
		{"rate limit", url.Values{"s.rate_limit.count": {"0"}}, "s.rate_limit.count", "exactly one"},
		{"timezone", url.Values{"s.timezone": {"Nowhere/Land"}}, "s.timezone", "Nowhere/Land"},
		{"step budget", url.Values{"s.step_budget": {"200000"}}, "s.step_budget", "between 1 and 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, page := c.Post(path, tt.form)
			require.Equal(t, 200, resp.StatusCode)
			marker := `data-testid="error-` + tt.field + `"`
			require.Contains(t, page, marker)
			i := strings.Index(page, marker)
			require.Contains(t, page[i:min(len(page), i+300)], tt.msg)
			require.NotZero(t, panelResult(t, page)["errors"])
		})
	}

	resp, page = c.Post(path, url.Values{"s.reentry": {"after_exit"}, "s.reentry_min_interval": {"30d"}, "s.goal.event": {"purchase"},
		"s.goal.window": {"14d"}, "s.goal.exit_on_conversion": {"true"}, "s.frequency_cap.sms.count": {"2"}, "s.frequency_cap.sms.period": {"week"},
		"s.rate_limit.count": {"600"}, "s.rate_limit.unit": {"per_minute"}, "s.timezone": {"UTC"}, "s.step_budget": {"1000"},
		"s.entry_window.start": {"2026-03-01T08:00"}})
	require.Equal(t, 200, resp.StatusCode)
	r := panelResult(t, page)
	require.EqualValues(t, 0, r["errors"])
	require.Equal(t, map[string]any{
		"reentry": "after_exit", "reentry_min_interval": "30d",
		"entry_window":  map[string]any{"start": "2026-03-01T08:00:00Z"},
		"goal":          map[string]any{"event": "purchase", "window": "14d", "exit_on_conversion": true},
		"frequency_cap": map[string]any{"sms": map[string]any{"count": float64(2), "period": "week"}},
		"rate_limit":    map[string]any{"per_minute": float64(600)},
	}, r["settings"], "defaults (UTC, 1000 steps) stay out")

	resp, _ = c.Post(path, url.Values{"settings": {"{"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestPublishFlow(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"template": {"birthday"}})
	pub := "/journeys/" + id + "/publish"

	// First publish: a summary, then live.
	resp, page := c.Get(pub)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="publish-first"`)
	resp, page = c.Post(pub, url.Values{"revision": {"1"}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Version 1 is live")
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, store.JourneyLive, j.Status)

	// Change the draft; the review shows the diff against v1.
	doc, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	doc.Nodes[1].Config["duration"] = "2d"
	doc.Nodes[0].Position.X += 40
	doc.Name = "Birthdays"
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": j.DraftRevision, "document": doc})
	require.Equal(t, 200, resp.StatusCode, out)
	resp, page = c.Get(pub)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="publish-diff"`)
	require.Contains(t, page, "Name: &#34;Birthday greetings&#34; → &#34;Birthdays&#34;")
	require.Contains(t, page, "1 step(s) moved on the canvas")
	require.Contains(t, page, "Publish v2")

	// A stale review is refused.
	resp, page = c.Post(pub, url.Values{"revision": {"1"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, page, `data-testid="publish-error"`)
	resp, _ = c.Post(pub, url.Values{"revision": {"x"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Problems are listed instead of a confirmation, each naming its node.
	bad := *doc
	bad.Nodes = append([]flows.Node{}, doc.Nodes...)
	bad.Nodes[2] = flows.Node{ID: bad.Nodes[2].ID, Kind: "send_email", Title: "<i>Greeting</i>", Position: bad.Nodes[2].Position, Config: map[string]any{"connector": "sandbox", "subject": "{{ oops"}}
	resp, out = c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": out["revision"], "document": bad})
	require.Equal(t, 200, resp.StatusCode, out)
	resp, page = c.Get(pub)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="publish-problems"`)
	require.Contains(t, page, `data-focus-node="`+bad.Nodes[2].ID+`"`)
	require.Contains(t, page, "&lt;i&gt;Greeting&lt;/i&gt;")
	require.NotContains(t, page, `data-testid="publish-confirm"`)
	j, err = b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	resp, page = c.Post(pub, url.Values{"revision": {strconv.Itoa(j.DraftRevision)}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="publish-problems"`)

	// History and the read-only view of a version.
	resp, page = c.Get("/journeys/" + id + "/history")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 1, strings.Count(page, `data-testid="version-row"`))
	resp, page = c.Get("/journeys/" + id + "/versions/1")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "You are looking at version 1")
	require.Contains(t, page, `"readonly":true`)
	resp, _ = c.Get("/journeys/" + id + "/versions/9")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = c.Get("/journeys/" + id + "/versions/x")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Pause, resume, archive.
	for _, step := range []struct {
		action, status string
		code           int
	}{
		{"resume", "", http.StatusConflict},
		{"pause", store.JourneyPaused, http.StatusSeeOther},
		{"pause", "", http.StatusConflict},
		{"resume", store.JourneyLive, http.StatusSeeOther},
		{"archive", store.JourneyArchived, http.StatusSeeOther},
	} {
		resp, _ := c.Post("/journeys/"+id+"/"+step.action, url.Values{"next": {"/journeys/" + id + "/edit"}})
		require.Equal(t, step.code, resp.StatusCode, step.action)
		if step.status != "" {
			j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
			require.NoError(t, err)
			require.Equal(t, step.status, j.Status)
			require.Equal(t, "/journeys/"+id+"/edit", resp.Header.Get("Location"))
		}
	}
	// Archived: read-only, and saving is refused.
	resp, page = c.Get("/journeys/" + id + "/edit")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "archived and read-only")
	resp, out = c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 5, "document": doc})
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "archived", errorCode(t, out))
	resp, page = c.Get(pub)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "archived")
	require.NotContains(t, page, `data-testid="publish-confirm"`)

	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, a := range audit {
		actions[a.Action]++
	}
	require.Equal(t, 1, actions["journey.publish"])
	require.Equal(t, 1, actions["journey.pause"])
	require.Equal(t, 1, actions["journey.resume"])
	require.Equal(t, 1, actions["journey.archive"])
}

func TestEditorPageEscapesAndServesAssets(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {`<img src=x onerror=alert(1)>`}})
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	doc, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	doc.Nodes = []flows.Node{{ID: "n", Kind: "exit", Title: `</script><script>alert(1)</script>`}}
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": doc})
	require.Equal(t, 200, resp.StatusCode, out)

	resp, page := c.Get("/journeys/" + id + "/edit")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "<img src=x")
	require.NotContains(t, page, "<script>alert")
	require.Contains(t, page, `value="&lt;img src=x onerror=alert(1)&gt;"`)
	require.Contains(t, page, `\u003c/script\u003e\u003cscript\u003ealert(1)`, "the editor data escapes </script>")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.NotRegexp(t, `<script>[^<]`, page, "no inline script")
	require.NotContains(t, page, ` style=`, "no inline style")
	require.NotRegexp(t, `\son[a-z]+="`, page, "no inline handlers")

	for _, asset := range regexp.MustCompile(`(?:src|href)="(/static/[0-9a-f]+/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		resp, _ := c.Get(asset[1])
		require.Equal(t, 200, resp.StatusCode, asset[1])
		require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	}
	require.Regexp(t, `/static/[0-9a-f]+/vendor/x6\.min\.js`, page)
	require.Regexp(t, `/static/[0-9a-f]+/vendor/htmx\.min\.js`, page)

	resp, _ = c.Get("/journeys/nope/edit")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	anon := b.Client()
	resp, _ = anon.Get("/journeys/" + id + "/edit")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}
