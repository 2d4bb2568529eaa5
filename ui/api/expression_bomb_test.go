package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// amplifier nests join(split(e, ""), "x"*100) levels times: each level
// multiplies the length of e by 101. Five levels from ten characters
// asked for a 15 GB block and killed the process before expressions had
// a budget.
func amplifier(levels int) string {
	e := `"0123456789"`
	for range levels {
		e = fmt.Sprintf(`join(split(%s, ""), "%s")`, e, strings.Repeat("x", 100))
	}
	return e
}

func bombDocument(t *testing.T) []byte {
	t.Helper()
	doc := map[string]any{
		"format": 1, "name": "Bomb",
		"nodes": []any{
			map[string]any{"id": "start", "kind": "trigger_webhook", "config": map[string]any{"profile_id": "event.body.user_id"}},
			map[string]any{"id": "check", "kind": "condition", "config": map[string]any{"expr": "len(" + amplifier(5) + ") > 0"}},
		},
		"edges": []any{map[string]any{"from": "start", "to": "check"}},
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

// TestExpressionBombIsRefused: the 628-byte amplification bomb of the
// security review is refused wherever an expression comes in (preview
// as a viewer, validate, create, simulate with an inline document),
// and the server lives on.
func TestExpressionBombIsRefused(t *testing.T) {
	t.Parallel()
	b := uitest.SetupSim(t)

	// A viewer previews a template: the answer is an error, not a crash.
	editor := b.EditorClient(store.RoleEditor)
	id := editor.Create(url.Values{"name": {"Preview"}})
	viewer := b.EditorClient(store.RoleViewer)
	for _, levels := range []int{3, 5} {
		form := url.Values{"kind": {"send_email"}, "field": {"subject"}, "value": {"{{ len(" + amplifier(levels) + ") }}"}, "_csrf": {viewer.Tok}}
		r := httptest.NewRequest(http.MethodPost, "/journeys/"+id+"/panel/preview", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Accept", "application/json")
		resp := viewer.Do(r)
		require.Equal(t, 200, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Contains(t, out["error"], "can build more than 2 MiB", "level %d", levels)
		require.Empty(t, out["preview"])
	}

	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := bombDocument(t)

	r := b.Call("POST", "/api/v1/journeys/validate", key, doc)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, false, r.JSON(t)["valid"], string(r.Body))
	require.Contains(t, string(r.Body), `"node_id":"check"`)
	require.Contains(t, string(r.Body), "can build more than 2 MiB")

	r = b.Call("POST", "/api/v1/journeys", key, doc)
	require.Equal(t, 422, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"field":"expr"`)

	r = b.Call("POST", "/api/v1/journeys", key, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	sim := fmt.Sprintf(`{"document": %s, "profiles": [{"external_id": "sam"}], "entry": {"trigger": "start", "body": {"user_id": "sam"}}}`, doc)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/simulate", key, []byte(sim))
	require.Equal(t, 422, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "can build more than 2 MiB")

	// Still serving.
	r = b.Call("GET", "/api/v1/journeys/"+jid, key, nil)
	require.Equal(t, 200, r.Status)
}

// TestAmplificationOfAnEntryIsBoundedInSimulation: an expression that
// passes validation but multiplies a large entry body stops at the
// evaluation budget; the simulation finishes and shows why.
func TestAmplificationOfAnEntryIsBoundedInSimulation(t *testing.T) {
	t.Parallel()
	b := uitest.SetupSim(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := map[string]any{
		"format": 1, "name": "Grows its input",
		"nodes": []any{
			map[string]any{"id": "start", "kind": "trigger_webhook", "config": map[string]any{"profile_id": "event.body.user_id"}},
			map[string]any{"id": "check", "kind": "condition", "config": map[string]any{
				"expr": `len(join(split(event.body.s, ""), "` + strings.Repeat("x", 100) + `")) > 0`}},
		},
		"edges": []any{map[string]any{"from": "start", "to": "check"}},
	}
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	r := b.Call("POST", "/api/v1/journeys", key, raw)
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	body := strings.Repeat("0123456789", 10_000) // 100 KB: joined with 100 x's it would be 10 MB
	req := fmt.Sprintf(`{"profiles": [{"external_id": "sam"}], "entry": {"trigger": "start", "body": {"user_id": "sam", "s": %q}}}`, body)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/simulate", key, []byte(req))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "output too large")
}
