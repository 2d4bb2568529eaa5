package ui

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// apiOp describes one /api/v1 operation for the OpenAPI document. The
// scope comes from the permission table (permissions.go) and the path
// parameters from the route; bodies are Go values whose types the
// handlers encode or decode (openapi_schema.go reflects them), or
// schemas. TestOpenAPIDescribesEveryRoute fails when an API route has no
// entry here; the replay test (openapi_replay_test.go) checks every
// request and response of the API tests against the document.
type apiOp struct {
	Summary string
	Tag     string
	Params  []apiParam // query parameters and request headers
	// Body is the JSON request body: a Go value of the type the handler
	// decodes, or a schema (map[string]any). BodyOptional: it may be left
	// out.
	Body         any
	BodyOptional bool
	// Status is the success status (default 200); Result its JSON body (a
	// Go value or a schema; nil: none), or text when Media is set.
	Status int
	Result any
	Media  string
	// Also lists further success statuses with the same body.
	Also map[int]string
	// Headers are response headers of the success status.
	Headers map[string]apiHeader
	// Errors are the error statuses beyond those every operation has
	// (401, 403 with a scope, 404 with a path parameter, 400 and 413 with
	// a body, 431, 500).
	Errors []int
}

// apiParam is a query parameter or a request header.
type apiParam struct {
	Name, In, Description string
	Schema                map[string]any
	Required              bool
}

// apiHeader is a response header.
type apiHeader struct {
	Description string
	Required    bool
}

func queryParam(name, description string, schema map[string]any) apiParam {
	return apiParam{Name: name, In: "query", Description: description, Schema: schema}
}

func integer(min, max int) map[string]any {
	s := map[string]any{"type": "integer", "minimum": min}
	if max > 0 {
		s["maximum"] = max
	}
	return s
}

func boolParam(name, description string) apiParam {
	return queryParam(name, description, map[string]any{"type": "boolean", "default": false})
}

func limit(max, def int) apiParam {
	s := integer(1, max)
	s["default"] = def
	return queryParam("limit", fmt.Sprintf("Page size, 1 to %d (default %d).", max, def), s)
}

var (
	cursor       = queryParam("cursor", "The next value of the previous page; empty for the first page.", str())
	allowInvalid = boolParam("allow_invalid", "true keeps work in progress: an invalid document is saved (any JourneyDraft) and its problems are listed in the answer, instead of 422.")
	versionQuery = func(what string) apiParam {
		return queryParam("version", what, map[string]any{"oneOf": []any{integer(1, 0), map[string]any{"const": "draft"}}})
	}
	period = []apiParam{
		queryParam("from", "Start: a date (YYYY-MM-DD) or an RFC 3339 time.", str()),
		queryParam("to", "End: a date (YYYY-MM-DD, that whole day included) or an RFC 3339 time (excluded).", str()),
	}
	location = map[string]apiHeader{"Location": {Description: "The new resource's URL.", Required: true}}
	etag     = map[string]apiHeader{"ETag": {Description: "The draft revision, quoted: send it as If-Match to save over this revision only.", Required: true}}
)

var apiOps = map[string]apiOp{
	"GET /api/v1/openapi.json": {Summary: "This document (no API key needed)", Tag: "meta", Result: map[string]any{"type": "object"}},
	"GET /api/v1/whoami":       {Summary: "The calling API key", Tag: "meta", Result: whoamiJSON{}},
	"GET /api/v1/nodes":        {Summary: "The node catalogue: every kind's spec (fields, ports)", Tag: "journeys", Result: nodeCatalogJSON{}},

	"POST /api/v1/journeys/validate": {Summary: "Validate a journey document without saving it (connectors included); problems are listed, not refused",
		Tag: "journeys", Body: ref("JourneyDraft"), Result: validationJSON{}},
	"GET /api/v1/journeys": {Summary: "List journeys", Tag: "journeys", Result: journeyListJSON{}, Errors: []int{400},
		Params: []apiParam{
			queryParam("status", "Only journeys in this status (default: all but archived).", enum(append([]string{"all"}, journeyStatusEnum...), "")),
			queryParam("q", "Only journeys whose name contains this.", str()), cursor, limit(500, 50),
		}},
	"POST /api/v1/journeys": {Summary: "Create a journey from a v1 document", Tag: "journeys", Body: ref("JourneyDocument"), Params: []apiParam{allowInvalid},
		Status: 201, Result: journeyJSON{}, Headers: location, Errors: []int{422}},
	"GET /api/v1/journeys/{id}": {Summary: "A journey with its draft", Tag: "journeys", Result: journeyJSON{}, Headers: etag},
	"GET /api/v1/journeys/{id}/export": {Summary: "The canonical v1 document of the draft or of a version", Tag: "journeys", Result: ref("JourneyDraft"),
		Params: []apiParam{versionQuery("A version number, or draft (default).")}, Errors: []int{400}},
	"PUT /api/v1/journeys/{id}/draft": {Summary: "Replace the draft; with If-Match a stale save is refused (409)", Tag: "journeys",
		Body: ref("JourneyDocument"), Result: journeyJSON{}, Headers: etag, Errors: []int{409, 422},
		Params: []apiParam{
			{Name: "If-Match", In: "header", Description: "The ETag of GET (the draft revision, quoted): the save applies only over that revision.", Schema: str()},
			queryParam("revision", "The draft revision, as If-Match (which wins).", integer(1, 0)), allowInvalid,
		}},
	"POST /api/v1/journeys/{id}/publish": {Summary: "Validate in full, compile and freeze the draft as the next version; optional body: a migration plan for the live version's waiting runs, or a dry run (docs/live-edits.md)",
		Tag: "journeys", Body: publishBodyJSON{}, BodyOptional: true, Errors: []int{409, 422},
		Result: oneOf(publishResultJSON{}, dryRunJSON{})},
	"POST /api/v1/journeys/{id}/pause":  {Summary: "Pause: no entries; runs park at their next step", Tag: "journeys", Result: journeyJSON{}, Errors: []int{409}},
	"POST /api/v1/journeys/{id}/resume": {Summary: "Resume a paused journey; parked runs continue", Tag: "journeys", Result: journeyJSON{}, Errors: []int{409}},
	"POST /api/v1/journeys/{id}/archive": {Summary: "Archive the journey", Tag: "journeys", Result: journeyJSON{}, Errors: []int{400, 409},
		Params: []apiParam{boolParam("exit_runs", "true also exits the journey's live runs.")}},
	"GET /api/v1/journeys/{id}/versions":           {Summary: "Published versions, newest first", Tag: "journeys", Result: versionListJSON{}},
	"GET /api/v1/journeys/{id}/versions/{version}": {Summary: "One published version's document", Tag: "journeys", Result: versionJSON{}, Errors: []int{400}},
	"GET /api/v1/journeys/{id}/diff": {Summary: "Structural diff between two versions, or a version and the draft", Tag: "journeys", Result: diffJSON{}, Errors: []int{400},
		Params: []apiParam{
			queryParam("from", "A version number or draft (default: the live version).", map[string]any{"oneOf": []any{integer(1, 0), map[string]any{"const": "draft"}}}),
			queryParam("to", "A version number or draft (default).", map[string]any{"oneOf": []any{integer(1, 0), map[string]any{"const": "draft"}}}),
		}},
	"GET /api/v1/journeys/{id}/hook":         {Summary: "The webhook trigger's URL and signing secrets (created on first request)", Tag: "webhooks", Result: hooks.Hook{}},
	"PUT /api/v1/journeys/{id}/hook":         {Summary: "Choose how senders sign", Tag: "webhooks", Body: hookSchemeJSON{}, Result: hooks.Hook{}},
	"POST /api/v1/journeys/{id}/hook/rotate": {Summary: "Add a new signing secret; the previous one stays valid for 24 h", Tag: "webhooks", Result: hooks.Hook{}},
	"GET /api/v1/journeys/{id}/triggers":     {Summary: "Segment sweeps and schedule ticks: progress and history", Tag: "journeys", Result: triggerRunsJSON{}},
	"GET /api/v1/journeys/{id}/stats": {Summary: "Per-node and per-journey numbers from the ledger", Tag: "analytics", Result: statsJSON{}, Errors: []int{400},
		Params: []apiParam{queryParam("version", "A published version (default: the live one).", integer(1, 0))}},
	"GET /api/v1/journeys/{id}/runs.csv": {Summary: "The journey's runs as streamed CSV (email and phone columns with profiles:read)", Tag: "analytics",
		Params: period, Media: "text/csv", Errors: []int{400},
		Headers: map[string]apiHeader{"Content-Disposition": {Description: "attachment; filename=\"waymark-runs-….csv\"", Required: true}}},
	"GET /api/v1/journeys/{id}/deliveries.csv": {Summary: "The journey's messages as streamed CSV (recipient and subject columns with profiles:read)", Tag: "analytics",
		Params: period, Media: "text/csv", Errors: []int{400},
		Headers: map[string]apiHeader{"Content-Disposition": {Description: "attachment; filename=\"waymark-deliveries-….csv\"", Required: true}}},

	"POST /api/v1/events": {Summary: "One event, or {\"events\": […]} (at most 1,000); every event is validated before any is stored", Tag: "ingestion",
		Body:   oneOf(eventJSON{}, eventBatch{}),
		Status: 202, Result: eventBatchResultJSON{}, Errors: []int{409, 422},
		Params: []apiParam{{Name: "Idempotency-Key", In: "header", Schema: map[string]any{"type": "string", "maxLength": 255},
			Description: "Replays the first response for 24 h; the same key with another body is 422, while the first is running 409."}},
		Headers: map[string]apiHeader{"Idempotent-Replayed": {Description: "true: this is the first response to this Idempotency-Key, replayed."}}},
	"POST /api/v1/profiles": {Summary: "Upsert a profile by external_id: 201 when created, 200 when updated", Tag: "ingestion",
		Body:   withRequired(httpkit.ProfileJSON{}, "external_id"),
		Result: httpkit.ProfileJSON{}, Status: 201, Also: map[int]string{200: "Updated"}, Errors: []int{422}},
	"GET /api/v1/profiles/{external_id}": {Summary: "A profile", Tag: "ingestion", Result: httpkit.ProfileJSON{}},
	"GET /api/v1/profiles/{external_id}/export": {Summary: "Everything stored about a profile (privacy export)", Tag: "privacy", Result: profileExportJSON{},
		Headers: map[string]apiHeader{"Content-Disposition": {Description: "attachment; filename=\"profile-export.json\"", Required: true}}},
	"DELETE /api/v1/profiles/{external_id}": {Summary: "Erase a profile: cancel its runs, delete personal data, keep an anonymous tombstone (again: 200, already_erased)", Tag: "privacy", Result: erasureJSON{}},

	"GET /api/v1/runs": {Summary: "List runs, newest first", Tag: "runs", Result: runListJSON{}, Errors: []int{400},
		Params: []apiParam{
			queryParam("journey_id", "Only this journey's runs.", str()),
			queryParam("profile_id", "Only this profile's runs (its external id).", str()),
			queryParam("status", "Only runs in this status.", enum(runStatusEnum, "")), cursor, limit(1000, 50),
		}},
	"GET /api/v1/runs/{id}":         {Summary: "One run with its step timeline and messages", Tag: "runs", Result: runJSON{}},
	"POST /api/v1/runs/{id}/cancel": {Summary: "End a live run", Tag: "runs", Result: runJSON{}, Errors: []int{409}},
	"POST /api/v1/runs/{id}/retry":  {Summary: "Retry a failed run from its failed node", Tag: "runs", Result: runJSON{}, Errors: []int{409}},
	"POST /api/v1/runs/{id}/move": {Summary: "Move a live or failed run to another node of its version (admin, audited)", Tag: "runs",
		Body: runMoveJSON{}, Result: runJSON{}, Errors: []int{409, 422}},

	"GET /api/v1/connector-types": {Summary: "Connector types and their config fields", Tag: "connectors", Result: connectorTypesJSON{}, Errors: []int{503}},
	"GET /api/v1/connectors":      {Summary: "Connectors (secret fields are never returned)", Tag: "connectors", Result: connectorListJSON{}, Errors: []int{503}},
	"POST /api/v1/connectors": {Summary: "Create a connector", Tag: "connectors", Body: ref("ConnectorInput"),
		Status: 201, Result: connectorJSON{}, Headers: location, Errors: []int{409, 422, 503}},
	"GET /api/v1/connectors/{id}": {Summary: "A connector, with its backlog and rate-limit state", Tag: "connectors", Result: connectorJSON{}, Errors: []int{503}},
	"PATCH /api/v1/connectors/{id}": {Summary: "Change a connector (config keys merge; secrets left out are kept)", Tag: "connectors",
		Body: connectorPatchJSON{}, Result: connectorJSON{}, Errors: []int{409, 422, 503}},
	"DELETE /api/v1/connectors/{id}": {Summary: "Delete a connector (refused while a live journey uses it)", Tag: "connectors", Status: 204, Errors: []int{409, 503}},
	"POST /api/v1/connectors/{id}/test": {Summary: "Check the connection, or send a test message to {\"to\"}; a refusal is 200 with ok false and the provider's answer",
		Tag: "connectors", Body: connectorTestJSON{}, BodyOptional: true, Result: connectors.TestResult{}, Errors: []int{409, 422, 503}},
	"GET /api/v1/sandbox/messages": {Summary: "Messages recorded by the sandbox (Test inbox), newest first", Tag: "connectors", Result: messageListJSON{}, Errors: []int{400},
		Params: []apiParam{queryParam("run_id", "Only this run's messages.", str()), cursor, limit(500, 50)}},
	"GET /api/v1/suppressions": {Summary: "The suppression list", Tag: "connectors", Result: suppressionListJSON{}, Errors: []int{400},
		Params: []apiParam{queryParam("channel", "Only this channel.", enum(channelEnum, "")), queryParam("q", "Only addresses containing this.", str()), cursor, limit(500, 50)}},
	"POST /api/v1/suppressions": {Summary: "Suppress an address on a channel", Tag: "connectors", Body: suppressionAddJSON{}, Status: 201, Result: suppressionJSON{}, Errors: []int{422}},
	"DELETE /api/v1/suppressions": {Summary: "Lift a suppression", Tag: "connectors", Status: 204, Errors: []int{400, 404},
		Params: []apiParam{
			{Name: "channel", In: "query", Required: true, Schema: enum(channelEnum, "")},
			{Name: "address", In: "query", Required: true, Schema: map[string]any{"type": "string", "minLength": 1}},
		}},

	"POST /api/v1/journeys/{id}/simulate": {Summary: "Simulate the draft, a version or a document for existing, typed or generated profiles on a virtual clock; nothing is sent (docs/simulator.md)",
		Tag: "journeys", Body: simulateBody{}, Result: sim.Result{}, Errors: []int{422, 429, 503}},
	"POST /api/v1/journeys/{id}/rollback": {Summary: "Make the previous version live again as a new version; waiting runs of the current version move back by node id (docs/live-edits.md)",
		Tag: "journeys", Result: publishResultJSON{}, Errors: []int{409, 422}},
	"POST /api/v1/journeys/{id}/test-send": {Summary: "Send one action node's message to a chosen address through its connector, marked [Test]; recorded in test sends, not deliveries (docs/live-edits.md)",
		Tag: "journeys", Body: testSendRequest{}, Result: testSendResultJSON{}, Errors: []int{422, 429, 502, 503}},
	"GET /api/v1/journeys/{id}/test-sends": {Summary: "A journey's test sends, newest first", Tag: "journeys", Result: testSendListJSON{}, Errors: []int{400, 503},
		Params: []apiParam{limit(500, 50)}},
	"GET /api/v1/journeys/{id}/lift": {Summary: "Conversion lift versus holdout per split node and variant, with 95% intervals (docs/intelligence.md)", Tag: "journeys", Result: liftJSON{}},
}

// errorResponses are the error statuses the API answers, each with the
// common error body.
var errorResponses = map[int]string{
	400: "The request is malformed: not JSON, a wrong type, or a bad query parameter (details name it).",
	401: "No API key, or one that is unknown, revoked or expired.",
	403: "The API key lacks a scope this needs.",
	404: "Not found in the API key's workspace.",
	409: "Conflicts with the current state (details say what).",
	413: "The body is larger than the server's limit, or a batch holds too many items.",
	422: "Well-formed but invalid: details name every field or node at fault.",
	429: "Too many at once, or over a quota; Retry-After says when to try again.",
	431: "The request line and headers are larger than the server's limit.",
	500: "Internal error; the server logged it with the request id.",
	502: "The provider refused the message (details carry its answer).",
	503: "This server runs without the feature.",
}

var fiberParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openapiPath turns a fiber route path into an OpenAPI path.
func openapiPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// pathParams describes the path parameters of an API route.
var pathParams = map[string]apiParam{
	"id":          {Description: "The resource's id.", Schema: str()},
	"external_id": {Description: "The profile's external id.", Schema: str()},
	"version":     {Description: "A published version number.", Schema: integer(1, 0)},
}

// schemaFunc builds a body schema that combines Go types.
type schemaFunc func(g *schemaGen, mode schemaMode) map[string]any

// oneOf: the body is one of these Go types.
func oneOf(vs ...any) schemaFunc {
	return func(g *schemaGen, mode schemaMode) map[string]any {
		var list []any
		for _, v := range vs {
			list = append(list, g.bodySchema(v, mode))
		}
		return map[string]any{"oneOf": list}
	}
}

// withRequired: the body is v, with these fields required.
func withRequired(v any, fields ...string) schemaFunc {
	return func(g *schemaGen, mode schemaMode) map[string]any {
		return map[string]any{"allOf": []any{g.bodySchema(v, mode), map[string]any{"required": fields}}}
	}
}

// bodySchema returns the schema of a body given as a Go value, a schema
// or a schemaFunc.
func (g *schemaGen) bodySchema(v any, mode schemaMode) map[string]any {
	switch s := v.(type) {
	case map[string]any:
		return s
	case schemaFunc:
		return s(g, mode)
	}
	return g.of(reflect.TypeOf(v), mode)
}

// openapiDocument builds the OpenAPI 3.1 description of /api/v1 from the
// registered routes, their permission entries, apiOps and the node and
// connector registries. It is built per request (about a millisecond):
// nothing to cache or keep in step.
func (s *Server) openapiDocument() []byte {
	g := newSchemaGen()
	g.journeySchemas(s.journeys.Registry().Specs())
	var types []connectors.Type
	if s.connectors != nil {
		types = s.connectors.Registry().Types()
	}
	g.connectorSchemas(types)
	g.of(reflect.TypeFor[httpkit.ErrorBody](), readMode)

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
		o := map[string]any{"summary": op.Summary, "tags": []string{op.Tag},
			"operationId": strings.ToLower(rt.Method) + strings.NewReplacer("/api/v1", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(p)}
		acc, _ := RoutePermission(rt.Method, rt.Path)
		authed := acc.Kind == AccessAPI
		if authed {
			scopes := []string{}
			if acc.Need != "" {
				scopes = append(scopes, acc.Need)
			}
			o["security"] = []any{map[string]any{"apiKey": scopes}}
		} else {
			o["security"] = []any{}
		}

		var params []any
		names := fiberParam.FindAllStringSubmatch(rt.Path, -1)
		for _, m := range names {
			pp, ok := pathParams[m[1]]
			if !ok {
				pp = apiParam{Schema: str()}
			}
			params = append(params, parameter(apiParam{Name: m[1], In: "path", Required: true, Description: pp.Description, Schema: pp.Schema}))
		}
		for _, pa := range op.Params {
			params = append(params, parameter(pa))
		}
		if len(params) > 0 {
			o["parameters"] = params
		}

		if op.Body != nil {
			o["requestBody"] = map[string]any{"required": !op.BodyOptional,
				"content": map[string]any{"application/json": map[string]any{"schema": g.bodySchema(op.Body, writeMode)}}}
		}

		responses := map[string]any{}
		status := op.Status
		if status == 0 {
			status = fiber.StatusOK
		}
		success := map[string]any{"description": httpkit.StatusText(status)}
		switch {
		case op.Media != "":
			success["content"] = map[string]any{op.Media: map[string]any{"schema": str()}}
		case op.Result != nil:
			success["content"] = map[string]any{"application/json": map[string]any{"schema": g.bodySchema(op.Result, readMode)}}
		}
		if len(op.Headers) > 0 {
			hs := map[string]any{}
			for name, h := range op.Headers {
				hs[name] = map[string]any{"description": h.Description, "required": h.Required, "schema": str()}
			}
			success["headers"] = hs
		}
		responses[strconv.Itoa(status)] = success
		for st, d := range op.Also {
			also := map[string]any{}
			for k, v := range success {
				also[k] = v
			}
			also["description"] = d
			if hs, has := success["headers"].(map[string]any); has && op.Headers["Location"].Required {
				// Location comes with a creation only.
				rest := map[string]any{}
				for k, v := range hs {
					if k != "Location" {
						rest[k] = v
					}
				}
				also["headers"] = rest
			}
			responses[strconv.Itoa(st)] = also
		}
		errs := map[int]bool{431: true, 500: true}
		if authed {
			errs[401] = true
			if acc.Need != "" {
				errs[403] = true
			}
		}
		if len(names) > 0 {
			errs[404] = true
		}
		if op.Body != nil {
			errs[400], errs[413] = true, true
		}
		for _, st := range op.Errors {
			errs[st] = true
		}
		for st := range errs {
			if errorResponses[st] == "" {
				panic(fmt.Sprintf("openapi: %s lists status %d, which has no error response", key, st))
			}
			responses[strconv.Itoa(st)] = map[string]any{"$ref": "#/components/responses/" + strconv.Itoa(st)}
		}
		o["responses"] = responses

		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.Method)] = o
	}

	errResponses := map[string]any{}
	for st, d := range errorResponses {
		r := map[string]any{"description": d, "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		if st == fiber.StatusTooManyRequests {
			r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "Seconds to wait, when known.", "schema": integer(0, 0)}}
		}
		if st == fiber.StatusUnauthorized {
			r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"description": "Bearer realm=\"waymark\"…", "schema": str()}}
		}
		errResponses[strconv.Itoa(st)] = r
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Waymark API", "version": "1",
			"description": "Journeys, ingestion, runs and connectors. Authenticate with 'Authorization: Bearer <API key>' (waymark apikeys create); " +
				"each operation lists the scope it needs. Errors: {\"error\": {\"code\", \"message\", \"details\": [{\"node_id\", \"field\", \"message\"}]}}. " +
				"Request bodies are read strictly: an unknown field is a 400. Node and connector configs are described from the server's node kinds and connector types."},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"apiKey": map[string]any{"type": "http", "scheme": "bearer",
				"description": "An API key; its scopes are listed per operation (admin implies all)"}},
			"schemas":   g.defs,
			"responses": errResponses,
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("openapi: encoding the document: %v", err))
	}
	return out
}

// parameter is an OpenAPI parameter object.
func parameter(p apiParam) map[string]any {
	o := map[string]any{"name": p.Name, "in": p.In, "schema": p.Schema}
	if p.Required {
		o["required"] = true
	}
	if p.Description != "" {
		o["description"] = p.Description
	}
	return o
}

// openapiJSON: GET /api/v1/openapi.json (public).
func (s *Server) openapiJSON(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(s.openapiDocument())
}
