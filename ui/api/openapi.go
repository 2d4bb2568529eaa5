package api

import (
	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// apiOps describes the /api/v1 operations for the OpenAPI document
// (ui/internal/openapi builds it).
var apiOps = map[string]openapi.Op{
	"GET /api/v1/openapi.json": {Summary: "This document (no API key needed)", Tag: "meta", Result: map[string]any{"type": "object"}},
	"GET /api/v1/whoami":       {Summary: "The calling API key", Tag: "meta", Result: whoamiJSON{}},
	"GET /api/v1/nodes":        {Summary: "The node catalogue: every kind's spec (fields, ports)", Tag: "journeys", Result: nodeCatalogJSON{}},

	"POST /api/v1/journeys/validate": {Summary: "Validate a journey document without saving it (connectors included); problems are listed, not refused",
		Tag: "journeys", Body: openapi.Ref("JourneyDraft"), Result: validationJSON{}},
	"GET /api/v1/journeys": {Summary: "List journeys", Tag: "journeys", Result: journeyListJSON{}, Errors: []int{400},
		Params: []openapi.Param{
			openapi.QueryParam("status", "Only journeys in this status (default: all but archived).", openapi.Enum(append([]string{"all"}, openapi.JourneyStatuses...), "")),
			openapi.QueryParam("q", "Only journeys whose name contains this.", openapi.Str()), openapi.Cursor, openapi.Limit(500, 50),
		}},
	"POST /api/v1/journeys": {Summary: "Create a journey from a v1 document", Tag: "journeys", Body: openapi.Ref("JourneyDocument"), Params: []openapi.Param{openapi.AllowInvalid},
		Status: 201, Result: journeyJSON{}, Headers: openapi.Location, Errors: []int{422}},
	"GET /api/v1/journeys/{id}": {Summary: "A journey with its draft", Tag: "journeys", Result: journeyJSON{}, Headers: openapi.ETag},
	"GET /api/v1/journeys/{id}/export": {Summary: "The canonical v1 document of the draft or of a version", Tag: "journeys", Result: openapi.Ref("JourneyDraft"),
		Params: []openapi.Param{openapi.VersionQuery("A version number, or draft (default).")}, Errors: []int{400}},
	"PUT /api/v1/journeys/{id}/draft": {Summary: "Replace the draft; with If-Match a stale save is refused (409)", Tag: "journeys",
		Body: openapi.Ref("JourneyDocument"), Result: journeyJSON{}, Headers: openapi.ETag, Errors: []int{409, 422},
		Params: []openapi.Param{
			{Name: "If-Match", In: "header", Description: "The ETag of GET (the draft revision, quoted): the save applies only over that revision.", Schema: openapi.Str()},
			openapi.QueryParam("revision", "The draft revision, as If-Match (which wins).", openapi.Integer(1, 0)), openapi.AllowInvalid,
		}},
	"POST /api/v1/journeys/{id}/publish": {Summary: "Validate in full, compile and freeze the draft as the next version; optional body: a migration plan for the live version's waiting runs, or a dry run (docs/live-edits.md)",
		Tag: "journeys", Body: publishBodyJSON{}, BodyOptional: true, Errors: []int{409, 422},
		Result: openapi.OneOf(publishResultJSON{}, dryRunJSON{})},
	"POST /api/v1/journeys/{id}/pause":  {Summary: "Pause: no entries; runs park at their next step", Tag: "journeys", Result: journeyJSON{}, Errors: []int{409}},
	"POST /api/v1/journeys/{id}/resume": {Summary: "Resume a paused journey; parked runs continue", Tag: "journeys", Result: journeyJSON{}, Errors: []int{409}},
	"POST /api/v1/journeys/{id}/archive": {Summary: "Archive the journey", Tag: "journeys", Result: journeyJSON{}, Errors: []int{400, 409},
		Params: []openapi.Param{openapi.BoolParam("exit_runs", "true also exits the journey's live runs.")}},
	"GET /api/v1/journeys/{id}/versions":           {Summary: "Published versions, newest first", Tag: "journeys", Result: versionListJSON{}},
	"GET /api/v1/journeys/{id}/versions/{version}": {Summary: "One published version's document", Tag: "journeys", Result: versionJSON{}, Errors: []int{400}},
	"GET /api/v1/journeys/{id}/diff": {Summary: "Structural diff between two versions, or a version and the draft", Tag: "journeys", Result: diffJSON{}, Errors: []int{400},
		Params: []openapi.Param{
			openapi.QueryParam("from", "A version number or draft (default: the live version).", map[string]any{"oneOf": []any{openapi.Integer(1, 0), map[string]any{"const": "draft"}}}),
			openapi.QueryParam("to", "A version number or draft (default).", map[string]any{"oneOf": []any{openapi.Integer(1, 0), map[string]any{"const": "draft"}}}),
		}},
	"GET /api/v1/journeys/{id}/hook":         {Summary: "The webhook trigger's URL and signing secrets (created on first request)", Tag: "webhooks", Result: hooks.Hook{}},
	"PUT /api/v1/journeys/{id}/hook":         {Summary: "Choose how senders sign", Tag: "webhooks", Body: hookSchemeJSON{}, Result: hooks.Hook{}},
	"POST /api/v1/journeys/{id}/hook/rotate": {Summary: "Add a new signing secret; the previous one stays valid for 24 h", Tag: "webhooks", Result: hooks.Hook{}},
	"GET /api/v1/journeys/{id}/triggers":     {Summary: "Segment sweeps and schedule ticks: progress and history", Tag: "journeys", Result: triggerRunsJSON{}},
	"GET /api/v1/journeys/{id}/stats": {Summary: "Per-node and per-journey numbers from the ledger, and each message step's engagement", Tag: "analytics", Result: journeys.StatsWithMessages{}, Errors: []int{400},
		Params: []openapi.Param{openapi.QueryParam("version", "A published version (default: the live one).", openapi.Integer(1, 0))}},
	"GET /api/v1/journeys/{id}/runs.csv": {Summary: "The journey's runs as streamed CSV (email and phone columns with profiles:read)", Tag: "analytics",
		Params: openapi.Period, Media: "text/csv", Errors: []int{400},
		Headers: map[string]openapi.Header{"Content-Disposition": {Description: "attachment; filename=\"waymark-runs-….csv\"", Required: true}}},
	"GET /api/v1/journeys/{id}/deliveries.csv": {Summary: "The journey's messages as streamed CSV (recipient and subject columns with profiles:read)", Tag: "analytics",
		Params: openapi.Period, Media: "text/csv", Errors: []int{400},
		Headers: map[string]openapi.Header{"Content-Disposition": {Description: "attachment; filename=\"waymark-deliveries-….csv\"", Required: true}}},

	"GET /api/v1/profiles/{external_id}": {Summary: "A profile", Tag: "ingestion", Result: httpkit.ProfileJSON{}},
	"GET /api/v1/profiles/{external_id}/export": {Summary: "Everything stored about a profile (privacy export)", Tag: "privacy", Result: profileExportJSON{},
		Headers: map[string]openapi.Header{"Content-Disposition": {Description: "attachment; filename=\"profile-export.json\"", Required: true}}},
	"DELETE /api/v1/profiles/{external_id}": {Summary: "Erase a profile: cancel its runs, delete personal data, keep an anonymous tombstone (again: 200, already_erased)", Tag: "privacy", Result: erasureJSON{}},

	"GET /api/v1/runs": {Summary: "List runs, newest first", Tag: "runs", Result: runListJSON{}, Errors: []int{400},
		Params: []openapi.Param{
			openapi.QueryParam("journey_id", "Only this journey's runs.", openapi.Str()),
			openapi.QueryParam("profile_id", "Only this profile's runs (its external id).", openapi.Str()),
			openapi.QueryParam("status", "Only runs in this status.", openapi.Enum(openapi.RunStatuses, "")), openapi.Cursor, openapi.Limit(1000, 50),
		}},
	"GET /api/v1/runs/{id}":         {Summary: "One run with its step timeline and messages", Tag: "runs", Result: runJSON{}},
	"POST /api/v1/runs/{id}/cancel": {Summary: "End a live run", Tag: "runs", Result: runJSON{}, Errors: []int{409}},
	"POST /api/v1/runs/{id}/retry":  {Summary: "Retry a failed run from its failed node", Tag: "runs", Result: runJSON{}, Errors: []int{409}},
	"POST /api/v1/runs/{id}/move": {Summary: "Move a live or failed run to another node of its version (admin, audited)", Tag: "runs",
		Body: runMoveJSON{}, Result: runJSON{}, Errors: []int{409, 422}},

	"GET /api/v1/connector-types": {Summary: "Connector types and their config fields", Tag: "connectors", Result: connectorTypesJSON{}, Errors: []int{503}},
	"GET /api/v1/connectors":      {Summary: "Connectors (secret fields are never returned)", Tag: "connectors", Result: connectorListJSON{}, Errors: []int{503}},
	"POST /api/v1/connectors": {Summary: "Create a connector", Tag: "connectors", Body: openapi.Ref("ConnectorInput"),
		Status: 201, Result: connectorJSON{}, Headers: openapi.Location, Errors: []int{409, 422, 503}},
	"GET /api/v1/connectors/{id}": {Summary: "A connector, with its backlog and rate-limit state", Tag: "connectors", Result: connectorJSON{}, Errors: []int{503}},
	"PATCH /api/v1/connectors/{id}": {Summary: "Change a connector (config keys merge; secrets left out are kept)", Tag: "connectors",
		Body: connectorPatchJSON{}, Result: connectorJSON{}, Errors: []int{409, 422, 503}},
	"DELETE /api/v1/connectors/{id}": {Summary: "Delete a connector (refused while a live journey uses it)", Tag: "connectors", Status: 204, Errors: []int{409, 503}},
	"POST /api/v1/connectors/{id}/test": {Summary: "Check the connection, or send a test message to {\"to\"}; a refusal is 200 with ok false and the provider's answer",
		Tag: "connectors", Body: connectorTestJSON{}, BodyOptional: true, Result: connectors.TestResult{}, Errors: []int{409, 422, 503}},
	"GET /api/v1/sandbox/messages": {Summary: "Messages recorded by the sandbox (Test inbox), newest first; the first page (no cursor, no run_id) also lists test sends through the sandbox (test: true, ids test-…)", Tag: "connectors", Result: messageListJSON{}, Errors: []int{400},
		Params: []openapi.Param{openapi.QueryParam("run_id", "Only this run's messages.", openapi.Str()), openapi.Cursor, openapi.Limit(500, 50)}},
	"GET /api/v1/suppressions": {Summary: "The suppression list", Tag: "connectors", Result: suppressionListJSON{}, Errors: []int{400},
		Params: []openapi.Param{openapi.QueryParam("channel", "Only this channel.", openapi.Enum(openapi.Channels, "")), openapi.QueryParam("q", "Only addresses containing this.", openapi.Str()), openapi.Cursor, openapi.Limit(500, 50)}},
	"POST /api/v1/suppressions": {Summary: "Suppress an address on a channel", Tag: "connectors", Body: suppressionAddJSON{}, Status: 201, Result: suppressionJSON{}, Errors: []int{422}},
	"DELETE /api/v1/suppressions": {Summary: "Lift a suppression", Tag: "connectors", Status: 204, Errors: []int{400, 404},
		Params: []openapi.Param{
			{Name: "channel", In: "query", Required: true, Schema: openapi.Enum(openapi.Channels, "")},
			{Name: "address", In: "query", Required: true, Schema: map[string]any{"type": "string", "minLength": 1}},
		}},

	"POST /api/v1/journeys/{id}/simulate": {Summary: "Simulate the draft, a version or a document for existing, typed or generated profiles on a virtual clock; nothing is sent (docs/simulator.md)",
		Tag: "journeys", Body: httpkit.SimulateBody{}, Result: sim.Result{}, Errors: []int{422, 429, 503}},
	"POST /api/v1/journeys/{id}/rollback": {Summary: "Make the previous version live again as a new version; waiting runs of the current version move back by node id (docs/live-edits.md)",
		Tag: "journeys", Result: publishResultJSON{}, Errors: []int{409, 422}},
	"POST /api/v1/journeys/{id}/test-send": {Summary: "Send one action node's message to a chosen address through its connector, marked [Test]; recorded in test sends, not deliveries (docs/live-edits.md)",
		Tag: "journeys", Body: testSendRequest{}, Result: testSendResultJSON{}, Errors: []int{422, 429, 502, 503}},
	"GET /api/v1/journeys/{id}/test-sends": {Summary: "A journey's test sends, newest first", Tag: "journeys", Result: testSendListJSON{}, Errors: []int{400, 503},
		Params: []openapi.Param{openapi.Limit(500, 50)}},
	"GET /api/v1/journeys/{id}/lift": {Summary: "Conversion lift versus holdout per split node and variant, with 95% intervals (docs/intelligence.md)", Tag: "journeys", Result: liftJSON{}},
}

// OpenAPI describes the API's operations and the types its handlers
// encode and decode (openapi_components.go).
func OpenAPI() openapi.Part {
	return openapi.Part{Ops: apiOps, Names: componentNames, WriteRequired: writeRequired, Fields: fieldSchemas}
}
