package ui

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// apiOp describes one /api/v1 operation for the OpenAPI document. The
// scope comes from the permission table (permissions.go); a test fails when
// an API route has no entry here, so the document cannot drift from the
// routes.
type apiOp struct {
	Summary  string
	Tag      string
	Request  string // component schema of the JSON body, if any
	Response string // component schema of the success body, if any
	Status   string // success status, default "200"
}

var apiOps = map[string]apiOp{
	"GET /api/v1/openapi.json": {Summary: "This document", Tag: "meta"},
	"GET /api/v1/whoami":       {Summary: "The calling API key", Tag: "meta"},
	"GET /api/v1/nodes":        {Summary: "The node catalogue: every kind's spec (fields, ports)", Tag: "journeys"},

	"POST /api/v1/journeys/validate":               {Summary: "Validate a journey document without saving it (connectors included)", Tag: "journeys", Request: "JourneyDocument", Response: "Validation"},
	"GET /api/v1/journeys":                         {Summary: "List journeys (?status=draft|live|paused|archived|all, q=, cursor=, limit=)", Tag: "journeys", Response: "JourneyList"},
	"POST /api/v1/journeys":                        {Summary: "Create a journey from a v1 document (?allow_invalid=true keeps work in progress)", Tag: "journeys", Request: "JourneyDocument", Response: "Journey", Status: "201"},
	"GET /api/v1/journeys/{id}":                    {Summary: "A journey with its draft; ETag is the draft revision", Tag: "journeys", Response: "Journey"},
	"GET /api/v1/journeys/{id}/export":             {Summary: "The canonical v1 document of the draft or ?version=N", Tag: "journeys", Response: "JourneyDocument"},
	"PUT /api/v1/journeys/{id}/draft":              {Summary: "Replace the draft; If-Match: \"<revision>\" refuses a stale save with 409", Tag: "journeys", Request: "JourneyDocument", Response: "Journey"},
	"POST /api/v1/journeys/{id}/publish":           {Summary: "Validate in full, compile and freeze the draft as the next version; optional body: a migration plan for the live version's waiting runs, or a dry run (docs/live-edits.md)", Tag: "journeys", Request: "PublishRequest", Response: "PublishResult"},
	"POST /api/v1/journeys/{id}/pause":             {Summary: "Pause: no entries; runs park at their next step", Tag: "journeys", Response: "Journey"},
	"POST /api/v1/journeys/{id}/resume":            {Summary: "Resume a paused journey; parked runs continue", Tag: "journeys", Response: "Journey"},
	"POST /api/v1/journeys/{id}/archive":           {Summary: "Archive (?exit_runs=true also exits live runs)", Tag: "journeys", Response: "Journey"},
	"GET /api/v1/journeys/{id}/versions":           {Summary: "Published versions, newest first", Tag: "journeys"},
	"GET /api/v1/journeys/{id}/versions/{version}": {Summary: "One published version's document", Tag: "journeys"},
	"GET /api/v1/journeys/{id}/diff":               {Summary: "Structural diff ?from=N&to=M|draft", Tag: "journeys"},
	"GET /api/v1/journeys/{id}/hook":               {Summary: "The webhook trigger's URL and signing secrets (created on first request)", Tag: "webhooks", Response: "Hook"},
	"PUT /api/v1/journeys/{id}/hook":               {Summary: "Choose the signature scheme: {\"scheme\": \"standard\"|\"github\"}", Tag: "webhooks", Response: "Hook"},
	"POST /api/v1/journeys/{id}/hook/rotate":       {Summary: "Add a new signing secret; the previous one stays valid for 24 h", Tag: "webhooks", Response: "Hook"},
	"GET /api/v1/journeys/{id}/triggers":           {Summary: "Segment sweeps and schedule ticks: progress and history", Tag: "journeys"},
	"GET /api/v1/journeys/{id}/stats":              {Summary: "Per-node and per-journey numbers from the ledger (?version=N)", Tag: "analytics"},
	"GET /api/v1/journeys/{id}/runs.csv":           {Summary: "The journey's runs as streamed CSV (?from=&to=; email and phone with profiles:read)", Tag: "analytics"},
	"GET /api/v1/journeys/{id}/deliveries.csv":     {Summary: "The journey's messages as streamed CSV (?from=&to=; recipient and subject with profiles:read)", Tag: "analytics"},

	"POST /api/v1/events":                        {Summary: "One event, or {\"events\": […]} (at most 1,000); Idempotency-Key replays the first response; an event's \"profile\" also needs profiles:write", Tag: "ingestion", Request: "EventOrBatch", Status: "202"},
	"POST /api/v1/profiles":                      {Summary: "Upsert a profile by external_id (201 when created)", Tag: "ingestion", Request: "Profile", Response: "Profile"},
	"GET /api/v1/profiles/{external_id}":         {Summary: "A profile", Tag: "ingestion", Response: "Profile"},
	"GET /api/v1/profiles/{external_id}/export":  {Summary: "Everything stored about a profile (privacy export)", Tag: "privacy"},
	"DELETE /api/v1/profiles/{external_id}":      {Summary: "Erase a profile: cancel its runs, delete personal data, keep an anonymous tombstone", Tag: "privacy"},
	"GET /api/v1/profiles/{external_id}/imports": {Summary: "Profile imports", Tag: "ingestion"},

	"GET /api/v1/runs":              {Summary: "List runs (?journey_id=, profile_id=<external id>, status=, cursor=, limit=)", Tag: "runs"},
	"GET /api/v1/runs/{id}":         {Summary: "One run with its step timeline and messages (recipients, subjects and the entry event need profiles:read)", Tag: "runs", Response: "Run"},
	"POST /api/v1/runs/{id}/cancel": {Summary: "End a live run", Tag: "runs", Response: "Run"},
	"POST /api/v1/runs/{id}/retry":  {Summary: "Retry a failed run from its failed node", Tag: "runs", Response: "Run"},
	"POST /api/v1/runs/{id}/move":   {Summary: "Move a live or failed run to another node of its version {\"node_id\"} (admin, audited)", Tag: "runs", Response: "Run"},

	"GET /api/v1/connector-types":       {Summary: "Connector types and their config fields", Tag: "connectors"},
	"GET /api/v1/connectors":            {Summary: "Connectors (secret fields are never returned)", Tag: "connectors"},
	"POST /api/v1/connectors":           {Summary: "Create a connector {\"type\", \"name\", \"config\"}", Tag: "connectors", Status: "201"},
	"GET /api/v1/connectors/{id}":       {Summary: "A connector, with its rate-limit state", Tag: "connectors"},
	"PATCH /api/v1/connectors/{id}":     {Summary: "Change a connector (fields merge; secrets left out are kept)", Tag: "connectors"},
	"DELETE /api/v1/connectors/{id}":    {Summary: "Delete a connector (refused while a live journey uses it)", Tag: "connectors"},
	"POST /api/v1/connectors/{id}/test": {Summary: "Check the connection or send a test message; the provider's answer is shown", Tag: "connectors"},
	"GET /api/v1/sandbox/messages":      {Summary: "Messages recorded by the sandbox (Test inbox)", Tag: "connectors"},
	"GET /api/v1/suppressions":          {Summary: "The suppression list", Tag: "connectors"},
	"POST /api/v1/suppressions":         {Summary: "Suppress an address on a channel", Tag: "connectors"},
	"DELETE /api/v1/suppressions":       {Summary: "Lift a suppression", Tag: "connectors"},

	// Simulator and test sends (issue 10).
	"POST /api/v1/journeys/{id}/simulate": {Summary: "Simulate the draft, a version or a document for existing, typed or generated profiles on a virtual clock; nothing is sent (docs/simulator.md)", Tag: "journeys", Request: "SimulationRequest", Response: "SimulationResult"},

	// Migration planner (issue 10).
	"POST /api/v1/journeys/{id}/rollback":  {Summary: "Make the previous version live again as a new version; waiting runs of the current version move back by node id (docs/live-edits.md)", Tag: "journeys", Response: "PublishResult"},
	"POST /api/v1/journeys/{id}/test-send": {Summary: "Send one action node's message to a chosen address through its connector, marked [Test]; recorded in test sends, not deliveries (docs/live-edits.md)", Tag: "journeys", Request: "TestSendRequest", Response: "TestSendResult"},
	"GET /api/v1/journeys/{id}/test-sends": {Summary: "A journey's test sends, newest first (?limit=)", Tag: "journeys"},

	// Intelligence (issue 12).
	"GET /api/v1/journeys/{id}/lift": {Summary: "Conversion lift versus holdout per split node and variant, with 95% intervals (docs/intelligence.md)", Tag: "journeys", Response: "Lift"},
}

var fiberParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openapiPath turns a fiber route path into an OpenAPI path.
func openapiPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

var openapiSchemas = map[string]any{
	// Migration planner and test sends (issue 10).
	"PublishRequest": obj(map[string]any{"dry_run": map[string]any{"type": "boolean"},
		"plan": map[string]any{"type": "object", "description": "live node id → {action: stay|move|exit, to: node id of the new version}",
			"additionalProperties": obj(map[string]any{"action": map[string]any{"enum": []string{"stay", "move", "exit"}}, "to": str()}, "action")}}),
	"PublishResult": obj(map[string]any{"journey": ref("Journey"), "version": map[string]any{"type": "integer"}, "published_at": str(), "dry_run": map[string]any{"type": "boolean"},
		"migration": obj(map[string]any{"from_version": map[string]any{"type": "integer"}, "version": map[string]any{"type": "integer"},
			"nodes": map[string]any{"type": "array", "items": obj(map[string]any{"node_id": str(), "title": str(), "kind": str(), "deleted": map[string]any{"type": "boolean"},
				"waiting": map[string]any{"type": "integer"}, "active": map[string]any{"type": "integer"}, "action": str(), "to": str()})},
			"stay": map[string]any{"type": "integer"}, "move": map[string]any{"type": "integer"}, "exit": map[string]any{"type": "integer"},
			"moved": map[string]any{"type": "integer"}, "exited": map[string]any{"type": "integer"}, "skipped": map[string]any{"type": "array", "items": str()}})}),
	"TestSendRequest": obj(map[string]any{"node": str(), "version": map[string]any{"type": "integer", "description": "0: the draft"},
		"to":                  map[string]any{"type": "string", "description": "email address (send_email) or E.164 phone (send_sms); unused for send_webhook"},
		"profile_external_id": map[string]any{"type": "string", "description": "render with this profile's data; default: a sample profile"}}, "node"),
	"TestSendResult": obj(map[string]any{"test_send": obj(map[string]any{"id": str(), "node": str(), "version": map[string]any{"type": "integer"}, "kind": str(),
		"connector": str(), "to": str(), "subject": str(), "body": str(), "status": str(), "provider_id": str(), "error": str(), "sent_by": str(), "created_at": str()})}),
	"Error": obj(map[string]any{"error": obj(map[string]any{
		"code": str(), "message": str(),
		"details": map[string]any{"type": "array", "items": ref("Detail")},
	}, "code", "message")}, "error"),
	"Detail": obj(map[string]any{"node_id": str(), "field": str(), "message": str()}, "message"),
	"JourneyDocument": map[string]any{"type": "object", "description": "A journey, format v1 (docs/journey-format.md)",
		"required": []string{"format", "name", "nodes", "edges"},
		"properties": map[string]any{"format": map[string]any{"const": 1}, "name": str(), "settings": map[string]any{"type": "object"},
			"nodes": map[string]any{"type": "array", "items": obj(map[string]any{"id": str(), "kind": str(), "title": str(),
				"position": map[string]any{"type": "object"}, "config": map[string]any{"type": "object"}}, "id", "kind")},
			"edges": map[string]any{"type": "array", "items": obj(map[string]any{"from": str(), "port": str(), "to": str()}, "from", "to")}}},
	"Validation":  obj(map[string]any{"valid": map[string]any{"type": "boolean"}, "problems": map[string]any{"type": "array", "items": ref("Detail")}}),
	"Journey":     obj(map[string]any{"id": str(), "name": str(), "status": str(), "draft_revision": map[string]any{"type": "integer"}, "live_version": map[string]any{"type": []string{"integer", "null"}}, "draft": ref("JourneyDocument")}),
	"JourneyList": obj(map[string]any{"journeys": map[string]any{"type": "array", "items": ref("Journey")}, "next": str()}),
	"Profile": obj(map[string]any{"external_id": str(), "email": str(), "phone": map[string]any{"type": "string", "description": "E.164"},
		"timezone": map[string]any{"type": "string", "description": "IANA"}, "locale": str(), "attributes": map[string]any{"type": "object"},
		"consent": map[string]any{"type": "object"}}, "external_id"),
	"Event": obj(map[string]any{"name": str(), "profile_id": str(), "properties": map[string]any{"type": "object"},
		"occurred_at": map[string]any{"type": "string", "format": "date-time"}, "profile": ref("Profile")}, "name", "profile_id"),
	"EventOrBatch": map[string]any{"oneOf": []any{ref("Event"), obj(map[string]any{"events": map[string]any{"type": "array", "items": ref("Event"), "maxItems": MaxEventBatch}}, "events")}},
	"Run": obj(map[string]any{"id": str(), "journey_id": str(), "version": map[string]any{"type": "integer"}, "profile_id": str(), "status": str(),
		"current_node": str(), "steps": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}, "deliveries": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}),
	"Hook": obj(map[string]any{"url": str(), "key": str(), "scheme": str(), "secrets": map[string]any{"type": "array", "items": str()}}),
	"Lift": obj(map[string]any{"journey_id": str(), "method": str(), "overall": map[string]any{"type": []string{"object", "null"}},
		"splits": map[string]any{"type": "array", "items": obj(map[string]any{"node_id": str(), "treatment": map[string]any{"type": "object"},
			"variants": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}})}}),
	"SimulationRequest": obj(map[string]any{"version": map[string]any{"type": "integer", "description": "a published version; default: the draft"},
		"document": ref("JourneyDocument"), "start": map[string]any{"type": "string", "format": "date-time"}, "horizon": map[string]any{"type": "string", "description": "e.g. 30d; at most 400d"},
		"profile_ids": map[string]any{"type": "array", "items": str(), "description": "existing profiles by external id (needs profiles:read)"},
		"profiles":    map[string]any{"type": "array", "items": ref("Profile")}, "cohort": map[string]any{"type": "object", "description": "{size, seed, attributes, timezones, locales, phone_share, consent}"},
		"entry":  map[string]any{"type": "object", "description": "{trigger, name, properties, body, headers}"},
		"events": map[string]any{"type": "array", "items": obj(map[string]any{"profile": str(), "name": str(), "properties": map[string]any{"type": "object"}, "after": str()}, "name", "after")}}),
	"SimulationResult": obj(map[string]any{"journey": str(), "start": str(), "end": str(), "stopped": str(), "profile_count": map[string]any{"type": "integer"},
		"entered": map[string]any{"type": "integer"}, "messages": map[string]any{"type": "integer"}, "statuses": map[string]any{"type": "object"},
		"paths": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}, "nodes": map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
		"timelines": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}),
}

func str() map[string]any            { return map[string]any{"type": "string"} }
func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
func obj(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// openapiDocument builds the OpenAPI 3.1 description of /api/v1 from the
// registered routes, their permission entries and apiOps. It is built per
// request (a few hundred microseconds): nothing to cache or keep in step.
func (s *Server) openapiDocument() []byte {
	paths := map[string]map[string]any{}
	seen := map[string]bool{}
	for _, rt := range s.app.GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == fiber.MethodHead {
			continue
		}
		p := openapiPath(rt.Path)
		key := rt.Method + " " + p
		if seen[key] {
			continue
		}
		seen[key] = true
		op, ok := apiOps[key]
		if !ok {
			continue // TestOpenAPIDescribesEveryRoute catches this
		}
		o := map[string]any{"summary": op.Summary, "tags": []string{op.Tag}, "operationId": strings.ToLower(rt.Method) + strings.NewReplacer("/api/v1", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(p)}
		if acc, ok := RoutePermission(rt.Method, rt.Path); ok && acc.Kind == AccessAPI {
			scopes := []string{}
			if acc.Need != "" {
				scopes = append(scopes, acc.Need)
			}
			o["security"] = []any{map[string]any{"apiKey": scopes}}
		} else {
			o["security"] = []any{}
		}
		var params []any
		for _, m := range fiberParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": str()})
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.Request != "" {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(op.Request)}}}
		}
		status := op.Status
		if status == "" {
			status = "200"
		}
		okResp := map[string]any{"description": "OK"}
		if op.Response != "" {
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.Response)}}
		}
		errResp := map[string]any{"description": "Error", "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		o["responses"] = map[string]any{status: okResp, "4XX": errResp}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.Method)] = o
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Waymark API", "version": "1",
			"description": "Journeys, ingestion, runs and connectors. Authenticate with 'Authorization: Bearer <API key>' (waymark apikeys create). Errors: {\"error\": {\"code\", \"message\", \"details\": [{\"node_id\", \"field\", \"message\"}]}}."},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"apiKey": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key; its scopes are listed per operation (admin implies all)"}},
			"schemas":         openapiSchemas,
		},
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return out
}

// openapiJSON: GET /api/v1/openapi.json (public).
func (s *Server) openapiJSON(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(s.openapiDocument())
}
