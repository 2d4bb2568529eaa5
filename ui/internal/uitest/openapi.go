package uitest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/waymarkhq/waymark/ui"
)

// The OpenAPI document is checked against the server it describes. Every
// request and response the API tests make through Bundle.Call is
// replayed, as it happened, against the server's own GET
// /api/v1/openapi.json with libopenapi-validator (OpenAPI 3.1, JSON
// Schema 2020-12) in strict mode (a property, query parameter or header
// the document does not declare is an error, even where the schema would
// allow it):
//
//   - every response: its status must be declared for the operation, its
//     body must match that status's schema, its declared headers theirs;
//   - every request the server accepted (2xx): its path, query and header
//     parameters and its body must match the operation. A request the
//     server refused is not checked: refusing it was the point.
//
// A disagreement fails the test that made the call, naming the route and
// the validator's findings. Requests saved with ?allow_invalid=true may
// hold a draft that is not a valid journey yet: their body is checked as
// a JourneyDraft, which the document says such a save takes.

// openapiCheck validates exchanges against one document.
type OpenAPICheck struct {
	Mu     sync.Mutex // the validator's caches are not documented as safe for concurrent use
	V      validator.Validator
	Schema *base.Schema // JourneyDraft
	Ops    []DocumentedOp
	Err    error
}

type DocumentedOp struct {
	Method, Path string
	RE           *regexp.Regexp
}

var (
	OpenAPIByDoc    sync.Map // sha256 of a document → *openapiCheck
	OpenAPIByServer sync.Map // *ui.Server → *openapiCheck
	OpenAPIBuild    sync.Mutex
	// openapiCoverage counts, per server, the operations that had a
	// validated success exchange (openapiCovered).
	OpenAPICoverage sync.Map // *ui.Server → *coverage
)

type Coverage struct {
	Mu  sync.Mutex
	Ops map[string]int
}

// Headers the middleware puts on every response (ui/middleware.go), not
// repeated on each response of the document.
var EveryResponseHeader = []string{"content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
	"cross-origin-opener-policy", "strict-transport-security", "x-request-id"}

// openapiFor returns the check of b's server, building it (once per
// distinct document) from what the server serves.
func (b *Bundle) OpenAPIFor() *OpenAPICheck {
	if c, ok := OpenAPIByServer.Load(b.Server); ok {
		return c.(*OpenAPICheck)
	}
	resp, err := b.Server.App().Test(httptest.NewRequest("GET", "/api/v1/openapi.json", nil), -1)
	if err != nil {
		return &OpenAPICheck{Err: fmt.Errorf("fetching the document: %w", err)}
	}
	doc, _ := io.ReadAll(resp.Body)
	sum := sha256.Sum256(doc)
	OpenAPIBuild.Lock()
	defer OpenAPIBuild.Unlock()
	c, ok := OpenAPIByDoc.Load(sum)
	if !ok {
		c = BuildOpenAPICheck(doc)
		OpenAPIByDoc.Store(sum, c)
	}
	srv := b.Server
	OpenAPIByServer.Store(srv, c)
	OpenAPICoverage.Store(srv, &Coverage{Ops: map[string]int{}})
	b.T.Cleanup(func() { OpenAPIByServer.Delete(srv); OpenAPICoverage.Delete(srv) })
	return c.(*OpenAPICheck)
}

func BuildOpenAPICheck(served []byte) *OpenAPICheck {
	c := &OpenAPICheck{}
	// The document as served must be valid OpenAPI 3.1.
	sd, err := libopenapi.NewDocument(served)
	if err != nil {
		c.Err = fmt.Errorf("reading the document: %w", err)
		return c
	}
	sv, errs := validator.NewValidator(sd)
	if len(errs) > 0 {
		c.Err = fmt.Errorf("building a validator of the document: %v", errs)
		return c
	}
	if ok, errs := sv.ValidateDocument(); !ok {
		c.Err = fmt.Errorf("the document is not valid OpenAPI 3.1:\n%s", DescribeValidation(errs))
		return c
	}
	doc, err := DeclareMapKeys(served)
	if err != nil {
		c.Err = fmt.Errorf("reading the document: %w", err)
		return c
	}
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		c.Err = fmt.Errorf("reading the document: %w", err)
		return c
	}
	v, errs := validator.NewValidator(d, config.WithStrictMode(), config.WithFormatAssertions(),
		config.WithStrictIgnoredHeadersExtra(EveryResponseHeader...))
	if len(errs) > 0 {
		c.Err = fmt.Errorf("building the validator: %v", errs)
		return c
	}
	c.V = v
	m, err := d.BuildV3Model()
	if err != nil {
		c.Err = fmt.Errorf("building the document's model: %w", err)
		return c
	}
	if sp := m.Model.Components.Schemas.GetOrZero("JourneyDraft"); sp != nil {
		c.Schema = sp.Schema()
	}
	var raw struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		c.Err = err
		return c
	}
	for p, ops := range raw.Paths {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		for method := range ops {
			c.Ops = append(c.Ops, DocumentedOp{Method: strings.ToUpper(method), Path: p, RE: re})
		}
	}
	return c
}

// declareMapKeys marks the keys of maps as declared for strict mode. A
// map (attributes, a node's ports, a config, any JSON value) is a schema
// whose additionalProperties is a schema, or one that does not say which
// properties it has; strict mode would report each of its keys as
// undeclared. The same schema under patternProperties (which strict mode
// counts as declared) says the same thing to JSON Schema, so the check
// stays exact.
func DeclareMapKeys(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	// Any JSON value, its keys and items declared all the way down.
	anyValue := map[string]any{"$ref": "#/components/schemas/StrictAnyValue"}
	var schema func(s any)
	schema = func(s any) {
		x, ok := s.(map[string]any)
		if !ok || x["$ref"] != nil || x["patternProperties"] != nil {
			return
		}
		for _, k := range []string{"items", "not", "if", "then", "else"} {
			schema(x[k])
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			list, _ := x[k].([]any)
			for _, e := range list {
				schema(e)
			}
		}
		props, _ := x["properties"].(map[string]any)
		for _, p := range props {
			schema(p)
		}
		switch ap := x["additionalProperties"].(type) {
		case map[string]any:
			schema(ap)
			x["patternProperties"] = map[string]any{"^": ap}
		case nil:
			open := props == nil && x["allOf"] == nil && x["anyOf"] == nil && x["oneOf"] == nil
			if t, has := x["type"]; has && t != "object" {
				open = false
			}
			if open {
				x["patternProperties"] = map[string]any{"^": anyValue}
				if x["type"] == nil {
					x["items"] = anyValue
				}
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "schema":
					schema(e)
				case "schemas":
					defs, _ := e.(map[string]any)
					for _, d := range defs {
						schema(d)
					}
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	comps, _ := v.(map[string]any)["components"].(map[string]any)
	defs, _ := comps["schemas"].(map[string]any)
	if defs == nil {
		return nil, fmt.Errorf("no components.schemas")
	}
	defs["StrictAnyValue"] = map[string]any{"patternProperties": map[string]any{"^": anyValue}, "items": anyValue}
	return json.Marshal(v)
}

// operation returns the documented operation of a request, or "".
func (c *OpenAPICheck) Operation(method, path string) string {
	for _, op := range c.Ops {
		if op.Method == method && op.RE.MatchString(path) {
			return op.Method + " " + op.Path
		}
	}
	return ""
}

// checkOpenAPI validates one exchange of testBundle.call.
func (b *Bundle) CheckOpenAPI(method, target string, reqHeader http.Header, reqBody []byte, status int, respHeader http.Header, respBody []byte) {
	b.T.Helper()
	if u, err := url.Parse(target); err != nil || !strings.HasPrefix(u.Path, "/api/v1/") {
		return
	}
	c := b.OpenAPIFor()
	if c.Err != nil {
		b.T.Errorf("OpenAPI document of this server: %v", c.Err)
		return
	}
	op, found := c.Validate(method, target, reqHeader, reqBody, status, respHeader, respBody)
	if op == "" {
		return // not an operation (an unknown endpoint's 404); TestOpenAPIDescribesEveryRoute covers the routes
	}
	if len(found) > 0 {
		body := respBody
		if len(body) > 600 {
			body = append(body[:600:600], "…"...)
		}
		b.T.Errorf("the OpenAPI document (ui/openapi*.go) disagrees with the server on %s %s (operation %s) → %d:\n%s\nresponse body: %s",
			method, target, op, status, DescribeValidation(found), body)
		return
	}
	if cv, ok := OpenAPICoverage.Load(b.Server); ok && status >= 200 && status < 300 {
		cv := cv.(*Coverage)
		cv.Mu.Lock()
		cv.Ops[op]++
		cv.Mu.Unlock()
	}
}

// validate checks one exchange: the response always, the request when the
// server accepted it. It returns the documented operation ("" when the
// request is not one) and what disagrees.
func (c *OpenAPICheck) Validate(method, target string, reqHeader http.Header, reqBody []byte, status int, respHeader http.Header, respBody []byte) (string, []*liberrors.ValidationError) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil
	}
	op := c.Operation(method, u.Path)
	if op == "" {
		return "", nil
	}
	newRequest := func() *http.Request {
		req := httptest.NewRequest(method, target, bytes.NewReader(reqBody))
		req.Header = reqHeader.Clone()
		return req
	}
	resp := &http.Response{StatusCode: status, Header: respHeader.Clone(), Body: io.NopCloser(bytes.NewReader(respBody)), Request: newRequest()}

	c.Mu.Lock()
	defer c.Mu.Unlock()
	var found []*liberrors.ValidationError
	if status >= 200 && status < 300 {
		req := newRequest()
		if u.Query().Get("allow_invalid") == "true" && c.Schema != nil {
			// The document says such a save takes any JourneyDraft.
			if ok, errs := schema_validation.NewSchemaValidator(config.WithStrictMode()).ValidateSchemaBytes(c.Schema, reqBody); !ok {
				found = append(found, errs...)
			}
			req.Body, req.ContentLength = http.NoBody, 0
			req.Header.Del("Content-Type")
			pv := c.V.GetParameterValidator()
			for _, check := range []func(*http.Request) (bool, []*liberrors.ValidationError){pv.ValidateQueryParams, pv.ValidateHeaderParams, pv.ValidatePathParams} {
				if ok, errs := check(req); !ok {
					found = append(found, errs...)
				}
			}
		} else if ok, errs := c.V.ValidateHttpRequestSync(req); !ok {
			found = append(found, errs...)
		}
	}
	if ok, errs := c.V.ValidateHttpResponse(newRequest(), resp); !ok {
		found = append(found, errs...)
	}
	return op, found
}

func DescribeValidation(errs []*liberrors.ValidationError) string {
	var lines []string
	for _, e := range errs {
		line := "  - " + e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			where := f.FieldPath
			if where == "" {
				where = "/" + strings.Join(f.InstancePath, "/")
			}
			line += fmt.Sprintf("\n      %s: %s (schema %s)", where, f.Reason, f.KeywordLocation)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// openapiCovered returns the operations of srv's document that had a
// validated success exchange, with how many.
func OpenAPICovered(srv *ui.Server) map[string]int {
	cv, ok := OpenAPICoverage.Load(srv)
	if !ok {
		return nil
	}
	c := cv.(*Coverage)
	c.Mu.Lock()
	defer c.Mu.Unlock()
	out := make(map[string]int, len(c.Ops))
	for k, v := range c.Ops {
		out[k] = v
	}
	return out
}
