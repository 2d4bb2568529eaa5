package openapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// Op describes one /api/v1 operation for the OpenAPI document. The
// scope comes from the permission table (ui/permissions.go) and the path
// parameters from the route; bodies are Go values whose types the
// handlers encode or decode (schema.go reflects them), or schemas.
// TestOpenAPIDescribesEveryRoute fails when an API route has no Op; the
// replay test checks every request and response of the API tests against
// the document.
type Op struct {
	Summary string
	Tag     string
	Params  []Param // query parameters and request headers
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
	Headers map[string]Header
	// Errors are the error statuses beyond those every operation has
	// (401, 403 with a scope, 404 with a path parameter, 400 and 413 with
	// a body, 431, 500).
	Errors []int
}

// Param is a query parameter or a request header.
type Param struct {
	Name, In, Description string
	Schema                map[string]any
	Required              bool
}

// Header is a response header.
type Header struct {
	Description string
	Required    bool
}

// QueryParam is a query parameter.
func QueryParam(name, description string, schema map[string]any) Param {
	return Param{Name: name, In: "query", Description: description, Schema: schema}
}

// Integer is an integer schema from min (to max when max > 0).
func Integer(min, max int) map[string]any {
	s := map[string]any{"type": "integer", "minimum": min}
	if max > 0 {
		s["maximum"] = max
	}
	return s
}

// BoolParam is a true/false query parameter (default false).
func BoolParam(name, description string) Param {
	return QueryParam(name, description, map[string]any{"type": "boolean", "default": false})
}

// Limit is the limit query parameter of a page.
func Limit(max, def int) Param {
	s := Integer(1, max)
	s["default"] = def
	return QueryParam("limit", fmt.Sprintf("Page size, 1 to %d (default %d).", max, def), s)
}

// Parameters and headers several operations share.
var (
	Cursor       = QueryParam("cursor", "The next value of the previous page; empty for the first page.", Str())
	AllowInvalid = BoolParam("allow_invalid", "true keeps work in progress: an invalid document is saved (any JourneyDraft) and its problems are listed in the answer, instead of 422.")
	VersionQuery = func(what string) Param {
		return QueryParam("version", what, map[string]any{"oneOf": []any{Integer(1, 0), map[string]any{"const": "draft"}}})
	}
	Period = []Param{
		QueryParam("from", "Start: a date (YYYY-MM-DD) or an RFC 3339 time.", Str()),
		QueryParam("to", "End: a date (YYYY-MM-DD, that whole day included) or an RFC 3339 time (excluded).", Str()),
	}
	Location = map[string]Header{"Location": {Description: "The new resource's URL.", Required: true}}
	ETag     = map[string]Header{"ETag": {Description: "The draft revision, quoted: send it as If-Match to save over this revision only.", Required: true}}
)

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

// Path turns a fiber route path into an OpenAPI path.
func Path(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// pathParams describes the path parameters of an API route.
var pathParams = map[string]Param{
	"id":          {Description: "The resource's id.", Schema: Str()},
	"external_id": {Description: "The profile's external id.", Schema: Str()},
	"version":     {Description: "A published version number.", Schema: Integer(1, 0)},
}

// schemaFunc builds a body schema that combines Go types.
type schemaFunc func(g *schemaGen, mode schemaMode) map[string]any

// OneOf: the body is one of these Go types.
func OneOf(vs ...any) schemaFunc {
	return func(g *schemaGen, mode schemaMode) map[string]any {
		var list []any
		for _, v := range vs {
			list = append(list, g.bodySchema(v, mode))
		}
		return map[string]any{"oneOf": list}
	}
}

// WithRequired: the body is v, with these fields required.
func WithRequired(v any, fields ...string) schemaFunc {
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

// Route is a registered route: its method and fiber path.
type Route struct {
	Method, Path string
}

// Input is what a document is made from.
type Input struct {
	// Parts are the edge's packages' operations and type tables (each
	// package's OpenAPI()); Base is added by Document.
	Parts []Part
	// Routes are the app's routes; the /api/v1 ones are described.
	Routes []Route
	// Access reports whether a route needs an API key, and which scope
	// ("" = any valid key): the permission table's entry.
	Access func(method, path string) (apiKey bool, scope string)
	// Specs and ConnectorTypes describe node and connector configs.
	Specs          []nodes.Spec
	ConnectorTypes []connectors.Type
}

// Document builds the OpenAPI 3.1 description of /api/v1 from the
// registered routes, their permission entries, the parts' operations and
// the node and connector registries. It is built per request (about a
// millisecond): nothing to cache or keep in step.
func Document(in Input) []byte {
	t := merge(append([]Part{Base}, in.Parts...))
	g := newSchemaGen(t)
	g.journeySchemas(in.Specs)
	g.connectorSchemas(in.ConnectorTypes)
	g.of(reflect.TypeFor[httpkit.ErrorBody](), readMode)

	paths := map[string]map[string]any{}
	seen := map[string]bool{}
	for _, rt := range in.Routes {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == fiber.MethodHead {
			continue
		}
		p := Path(rt.Path)
		key := rt.Method + " " + p
		if seen[key] {
			continue
		}
		seen[key] = true
		op, ok := t.ops[key]
		if !ok {
			continue // TestOpenAPIDescribesEveryRoute catches this
		}
		o := map[string]any{"summary": op.Summary, "tags": []string{op.Tag},
			"operationId": strings.ToLower(rt.Method) + strings.NewReplacer("/api/v1", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(p)}
		authed, scope := in.Access(rt.Method, rt.Path)
		if authed {
			scopes := []string{}
			if scope != "" {
				scopes = append(scopes, scope)
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
				pp = Param{Schema: Str()}
			}
			params = append(params, parameter(Param{Name: m[1], In: "path", Required: true, Description: pp.Description, Schema: pp.Schema}))
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
			success["content"] = map[string]any{op.Media: map[string]any{"schema": Str()}}
		case op.Result != nil:
			success["content"] = map[string]any{"application/json": map[string]any{"schema": g.bodySchema(op.Result, readMode)}}
		}
		if len(op.Headers) > 0 {
			hs := map[string]any{}
			for name, h := range op.Headers {
				hs[name] = map[string]any{"description": h.Description, "required": h.Required, "schema": Str()}
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
			if scope != "" {
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
		r := map[string]any{"description": d, "content": map[string]any{"application/json": map[string]any{"schema": Ref("Error")}}}
		if st == fiber.StatusTooManyRequests {
			r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "Seconds to wait, when known.", "schema": Integer(0, 0)}}
		}
		if st == fiber.StatusUnauthorized {
			r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"description": "Bearer realm=\"waymark\"…", "schema": Str()}}
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
func parameter(p Param) map[string]any {
	o := map[string]any{"name": p.Name, "in": p.In, "schema": p.Schema}
	if p.Required {
		o["required"] = true
	}
	if p.Description != "" {
		o["description"] = p.Description
	}
	return o
}
