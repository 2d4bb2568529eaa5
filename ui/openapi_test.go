package ui_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// openapiDoc fetches the document a server serves (no key needed).
func openapiDoc(t *testing.T, srv *ui.Server) ([]byte, map[string]any) {
	t.Helper()
	resp, err := srv.App().Test(httptest.NewRequest("GET", "/api/v1/openapi.json", nil), -1)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "public, no key needed")
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return raw, doc
}

// dig walks a decoded JSON document by keys.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		require.True(t, ok, "at %q: not an object", k)
		v, ok = m[k]
		require.True(t, ok, "no %q in %v", k, keysOf(m))
	}
	return v
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDescribesEveryRoute: every /api/v1 route is in the document
// with its scope, its path, query and header parameters, a success
// response with a schema and its error responses, and the document is
// valid OpenAPI 3.1 (libopenapi-validator checks it against the
// specification's schema).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	raw, doc := openapiDoc(t, b.Server)
	require.Equal(t, "3.1.0", doc["openapi"])
	require.NoError(t, uitest.BuildOpenAPICheck(raw).Err)
	paths := dig(t, doc, "paths").(map[string]any)
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	n := 0
	for _, rt := range b.Server.App().GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == "HEAD" {
			continue
		}
		p := param.ReplaceAllString(rt.Path, "{$1}")
		item, _ := paths[p].(map[string]any)
		op, ok := item[strings.ToLower(rt.Method)].(map[string]any)
		require.True(t, ok, "%s %s is not in the OpenAPI document: add it to apiOps in ui/openapi.go", rt.Method, p)
		require.NotEmpty(t, op["summary"])
		n++

		declared := map[string]bool{}
		params, _ := op["parameters"].([]any)
		for _, pa := range params {
			pa := pa.(map[string]any)
			declared[pa["in"].(string)+":"+pa["name"].(string)] = true
			require.NotNil(t, pa["schema"], "%s %s: parameter %s has a schema", rt.Method, p, pa["name"])
		}
		for _, m := range param.FindAllStringSubmatch(rt.Path, -1) {
			require.True(t, declared["path:"+m[1]], "%s %s declares its path parameter %s", rt.Method, p, m[1])
		}
		responses := op["responses"].(map[string]any)
		success := 0
		for code, r := range responses {
			r := r.(map[string]any)
			switch {
			case code >= "200" && code < "300":
				success++
				if code != "204" {
					content, ok := r["content"].(map[string]any)
					require.True(t, ok, "%s %s → %s has a body schema", rt.Method, p, code)
					for _, mt := range content {
						require.NotEmpty(t, mt.(map[string]any)["schema"], "%s %s → %s", rt.Method, p, code)
					}
				}
			default:
				require.Equal(t, "#/components/responses/"+code, r["$ref"], "%s %s → %s is the common error", rt.Method, p, code)
			}
		}
		require.Positive(t, success, "%s %s has a success response", rt.Method, p)
		require.Contains(t, responses, "500")
		if op["security"] != nil && len(op["security"].([]any)) > 0 {
			require.Contains(t, responses, "401", "%s %s: a key can be refused", rt.Method, p)
		}
	}
	require.Greater(t, n, 40)

	// The contracts the review found wrong, and a few the API promises.
	require.Contains(t, mustMarshal(t, dig(t, paths, "/api/v1/events", "post", "security")), "events:write")
	require.Contains(t, dig(t, paths, "/api/v1/suppressions", "post", "responses"), "201")
	require.NotContains(t, dig(t, paths, "/api/v1/suppressions", "post", "responses"), "200")
	require.Contains(t, dig(t, paths, "/api/v1/suppressions", "delete", "responses"), "204")
	require.Contains(t, dig(t, paths, "/api/v1/profiles", "post", "responses"), "201")
	require.Contains(t, dig(t, paths, "/api/v1/profiles", "post", "responses"), "200")
	require.Contains(t, dig(t, paths, "/api/v1/events", "post", "responses"), "202")
	var runParams []string
	for _, pa := range dig(t, paths, "/api/v1/runs", "get", "parameters").([]any) {
		runParams = append(runParams, pa.(map[string]any)["name"].(string))
	}
	require.ElementsMatch(t, []string{"journey_id", "profile_id", "status", "cursor", "limit"}, runParams)
	require.Contains(t, mustMarshal(t, dig(t, paths, "/api/v1/events", "post", "parameters")), `"Idempotency-Key"`)
	require.Contains(t, mustMarshal(t, dig(t, paths, "/api/v1/journeys/{id}/draft", "put", "parameters")), `"If-Match"`)
	require.Contains(t, mustMarshal(t, dig(t, paths, "/api/v1/journeys/{id}/runs.csv", "get", "responses", "200", "content")), "text/csv")
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestOpenAPINodeAndConnectorSchemasFollowTheSpecs: a journey document's
// node is one schema per registered kind, its config as the kind's spec
// declares it; a connector's create body one per connector type. A kind
// registered on this server only appears without any change to the
// document's code.
func TestOpenAPINodeAndConnectorSchemasFollowTheSpecs(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupConnectors(t)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	require.NoError(t, reg.Register(nodes.Spec{Kind: "stamp", Title: "Stamp", Category: nodes.Flow, Instant: true,
		Help: "A kind only this test registers.",
		Fields: []nodes.Field{
			{Name: "label", Title: "Label", Type: nodes.String, Required: true, MaxLength: 40},
			{Name: "colour", Title: "Colour", Type: nodes.Enum, Enum: []string{"red", "green"}, Default: "red"},
			{Name: "shade", Title: "Shade", Type: nodes.Integer, Required: true, Min: nodes.Bound(1), Max: nodes.Bound(9),
				When: &nodes.When{Field: "colour", Values: []string{"green"}}},
		},
		Ports: []nodes.Port{{Name: "out", IfUnconnected: nodes.Complete}}}))
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{Store: b.Store, Journeys: journeys.New(b.Store, reg),
		Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil))})
	require.NoError(t, err)
	raw, doc := openapiDoc(t, srv)
	require.NoError(t, uitest.BuildOpenAPICheck(raw).Err)
	schemas := dig(t, doc, "components", "schemas").(map[string]any)

	node := schemas["Node"].(map[string]any)
	mapping := dig(t, node, "discriminator", "mapping").(map[string]any)
	require.Equal(t, "kind", dig(t, node, "discriminator", "propertyName"))
	require.Len(t, node["oneOf"], len(reg.Specs()))
	for _, sp := range reg.Specs() {
		require.Equal(t, "#/components/schemas/Node_"+sp.Kind, mapping[sp.Kind], "kind %s", sp.Kind)
		s := schemas["Node_"+sp.Kind].(map[string]any)
		require.Equal(t, map[string]any{"const": sp.Kind}, dig(t, s, "properties", "kind"))
		cfg := dig(t, s, "properties", "config").(map[string]any)
		require.Equal(t, false, cfg["additionalProperties"], "kind %s: unknown config fields are refused", sp.Kind)
		require.Len(t, cfg["properties"], len(sp.Fields), "kind %s", sp.Kind)
	}
	stamp := dig(t, schemas, "Node_stamp", "properties", "config").(map[string]any)
	require.Equal(t, []any{"label"}, stamp["required"])
	require.Equal(t, map[string]any{"type": "string", "title": "Label", "maxLength": float64(40), "pattern": `^[^\r\n]*\S[^\r\n]*$`},
		dig(t, stamp, "properties", "label"))
	require.Equal(t, []any{"red", "green"}, dig(t, stamp, "properties", "colour", "enum"))
	require.Equal(t, "red", dig(t, stamp, "properties", "colour", "default"))
	require.Equal(t, float64(9), dig(t, stamp, "properties", "shade", "maximum"))
	require.Equal(t, []any{map[string]any{
		"if":   map[string]any{"properties": map[string]any{"colour": map[string]any{"enum": []any{"green"}}}, "required": []any{"colour"}},
		"then": map[string]any{"required": []any{"shade"}},
	}}, stamp["allOf"], "shade is required only while colour is green")
	delay := dig(t, schemas, "Node_delay", "properties", "config", "properties").(map[string]any)
	require.Equal(t, "^[+-]?([0-9]{1,9}[wdhms])+$", dig(t, delay, "duration", "pattern"))
	require.Equal(t, []any{"duration", "until_time", "until_date", "best_time"}, dig(t, delay, "mode", "enum"))
	require.Equal(t, "#/components/schemas/Node", dig(t, schemas, "JourneyDocument", "properties", "nodes", "items", "$ref"))
	require.Equal(t, "#/components/schemas/DraftNode", dig(t, schemas, "JourneyDraft", "properties", "nodes", "items", "$ref"))
	require.Equal(t, "#/components/schemas/JourneyDocument",
		dig(t, doc, "paths", "/api/v1/journeys", "post", "requestBody", "content", "application/json", "schema", "$ref"))

	// This server has no connector administration: the body is free-form
	// (and the API answers 503). The connectors bundle's server has one.
	require.Equal(t, map[string]any{"type": "object"}, schemas["ConnectorInput"])
	_, doc = openapiDoc(t, b.Server)
	schemas = dig(t, doc, "components", "schemas").(map[string]any)
	conn := schemas["ConnectorInput"].(map[string]any)
	require.Equal(t, "type", dig(t, conn, "discriminator", "propertyName"))
	require.NotContains(t, dig(t, conn, "discriminator", "mapping"), "sandbox", "the built-in sandbox cannot be created")
	hook := dig(t, schemas, "ConnectorInput_webhook", "properties").(map[string]any)
	require.Equal(t, map[string]any{"const": "webhook"}, hook["type"])
	require.Equal(t, true, dig(t, hook, "config", "properties", "secret", "writeOnly"))
	require.ElementsMatch(t, []any{"url", "secret"}, dig(t, hook, "config", "required"))
	require.Contains(t, dig(t, hook, "config", "properties"), "rate_limit", "the field every type gets")
}

// TestOpenAPIReplayCatchesDrift: the replay is not a formality. A real
// exchange that agrees with the document is accepted; the same exchange
// against a document that is wrong about it (a status code, a response
// field, a request field, a query parameter) is refused, naming what.
func TestOpenAPIReplayCatchesDrift(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	raw, _ := openapiDoc(t, b.Server)

	type exchange struct {
		method, target string
		header         http.Header
		body           []byte
		resp           uitest.APIResp
	}
	do := func(method, target string, body []byte) exchange {
		r := b.Call(method, target, key, body)
		require.Less(t, r.Status, 300, string(r.Body))
		h := http.Header{}
		h.Set("Authorization", "Bearer "+key)
		h.Set("Content-Type", "application/json")
		return exchange{method, target, h, body, r}
	}
	add := do("POST", "/api/v1/suppressions", []byte(`{"channel": "email", "address": "ada@example.com", "reason": "manual"}`))
	create := do("POST", "/api/v1/journeys", []byte(`{"format": 1, "name": "One", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
		{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}}],
		"edges": [{"from": "start", "to": "hi"}]}`))
	list := do("GET", "/api/v1/suppressions?channel=email", nil)
	check := func(doc []byte, x exchange) []string {
		c := uitest.BuildOpenAPICheck(doc)
		require.NoError(t, c.Err)
		op, found := c.Validate(x.method, x.target, x.header, x.body, x.resp.Status, x.resp.Header, x.resp.Body)
		require.NotEmpty(t, op)
		var out []string
		for _, e := range found {
			out = append(out, e.Message+" "+e.Reason+" "+mustMarshal(t, e.SchemaValidationErrors))
		}
		return out
	}
	require.Empty(t, check(raw, add))
	require.Empty(t, check(raw, list))
	require.Empty(t, check(raw, create))

	mutate := func(change func(doc map[string]any)) []byte {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(raw, &doc))
		change(doc)
		out, err := json.Marshal(doc)
		require.NoError(t, err)
		return out
	}
	for _, tc := range []struct {
		name   string
		x      exchange
		change func(doc map[string]any)
		want   string
	}{
		{"the success status", add, func(doc map[string]any) {
			rs := dig(t, doc, "paths", "/api/v1/suppressions", "post", "responses").(map[string]any)
			rs["200"] = rs["201"]
			delete(rs, "201")
		}, "201"},
		{"a response field", add, func(doc map[string]any) {
			delete(dig(t, doc, "components", "schemas", "Suppression", "properties").(map[string]any), "source")
		}, "source"},
		{"a request field", add, func(doc map[string]any) {
			delete(dig(t, doc, "components", "schemas", "SuppressionInput", "properties").(map[string]any), "reason")
		}, "reason"},
		{"a query parameter", list, func(doc map[string]any) {
			op := dig(t, doc, "paths", "/api/v1/suppressions", "get").(map[string]any)
			var keep []any
			for _, p := range op["parameters"].([]any) {
				if p.(map[string]any)["name"] != "channel" {
					keep = append(keep, p)
				}
			}
			op["parameters"] = keep
		}, "channel"},
		{"a node kind's config", create, func(doc map[string]any) {
			cfg := dig(t, doc, "components", "schemas", "Node_send_email", "properties", "config").(map[string]any)
			delete(cfg["properties"].(map[string]any), "subject")
		}, "subject"},
		{"a response field's type", list, func(doc map[string]any) {
			dig(t, doc, "components", "schemas", "Suppression", "properties").(map[string]any)["created_at"] = map[string]any{"type": "integer"}
		}, "created_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found := check(mutate(tc.change), tc.x)
			require.NotEmpty(t, found)
			require.Contains(t, strings.Join(found, "\n"), tc.want)
		})
	}
}
