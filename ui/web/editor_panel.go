package web

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The property panel: POST /journeys/:id/panel/node renders the form of
// one node. The canvas sends the node as JSON (field "node") when a node
// is selected; the form then posts its own fields back on every change.
// Each answer is the re-rendered form, with the server's validation inline
// (expressions compiled, templates parsed, connectors checked), and a JSON
// block with the config as the server read it, which the canvas stores in
// the node. The panel never saves: the canvas autosaves the document.

// panelNode is a node as the canvas sends it.
type panelNode struct {
	ID     string         `json:"id"`
	Kind   string         `json:"kind"`
	Title  string         `json:"title"`
	Config map[string]any `json:"config"`
}

// nodeResult goes back to the canvas in the form's JSON block.
type nodeResult struct {
	NodeID string         `json:"node_id"`
	Title  string         `json:"title"`
	Config map[string]any `json:"config"`
	// Ports are the node's output ports with this config: the canvas
	// redraws them from here.
	Ports   []canvasPort `json:"ports"`
	Applied bool         `json:"applied"`
	Errors  int          `json:"errors"`
}

func (h *Handler) nodePanel(c *fiber.Ctx) error {
	j, readonly, err := h.panelJourney(c)
	if err != nil {
		return err
	}
	var n panelNode
	applied := false
	op := ""
	formErrs := fieldProblems{}
	if raw := c.FormValue("node"); raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			return httpkit.BadRequest("node: invalid JSON: %v", err)
		}
	} else {
		n = panelNode{ID: c.FormValue("node_id"), Kind: c.FormValue("kind"), Title: strings.TrimSpace(c.FormValue("title"))}
		applied = !readonly
		op = c.FormValue("_op")
	}
	spec, ok := h.journeys.Registry().Lookup(n.Kind)
	if !ok {
		return httpkit.BadRequest("kind: unknown node kind %q", clipString(n.Kind, 64))
	}
	if n.ID == "" || len(n.ID) > flows.MaxNodeIDLength {
		return httpkit.BadRequest("node_id: required, at most %d characters", flows.MaxNodeIDLength)
	}
	if !applied {
		n.Config = plainJSON(n.Config)
	} else {
		n.Config = parseFields(spec.Fields, postedForm(c), "f.", "", op, formErrs)
	}
	ws := httpkit.Workspace(c)
	var who *previewPerson
	if hasTemplateField(spec.Fields) {
		if who, err = h.previewPerson(c, j.ID); err != nil {
			return err
		}
	}
	f, err := h.nodeForm(c.UserContext(), ws, j.ID, spec, n, readonly, formErrs, who)
	if err != nil {
		return err
	}
	if f.Trigger, err = h.triggerPanel(c, j, spec, n.Config, readonly); err != nil {
		return err
	}
	f.Result = nodeResult{NodeID: n.ID, Title: n.Title, Config: n.Config, Ports: canvasPorts(spec, n.Config), Applied: applied, Errors: countErrors(f)}
	return render(c, views.NodeFormView(h.page(c, ""), f, who.view(spec.Fields, n.Config)))
}

func countErrors(f views.NodeForm) int {
	n := len(f.Errors)
	if f.TitleError != "" {
		n++
	}
	var walk func([]views.FormField)
	walk = func(fs []views.FormField) {
		for _, x := range fs {
			if x.Error != "" {
				n++
			}
			for _, it := range x.Items {
				walk(it.Fields)
			}
		}
	}
	walk(f.Fields)
	return n
}

// nodeForm builds the panel of node n: fields from the spec, values from
// its config, problems from validating it on its own.
func (h *Handler) nodeForm(ctx context.Context, ws, journeyID string, spec nodes.Spec, n panelNode, readonly bool, formErrs fieldProblems, who *previewPerson) (views.NodeForm, error) {
	problems, general, titleErr, err := h.nodeProblems(ctx, ws, spec, n)
	if err != nil {
		return views.NodeForm{}, err
	}
	for p, m := range formErrs {
		problems[p] = m // "enter a whole number" says more than "expected a number"
	}
	fs := formSpec{prefix: "nf-", kind: spec.Kind}
	if release, err := h.previewSlot(ctx); err == nil {
		fs.previews = previews(spec.Fields, n.Config, "", problems, who.env())
		release()
	} // else the panel shows no previews this time

	if hasConnectorField(spec.Fields) {
		if fs.connectors, err = h.connectorOptions(ctx, ws, spec.Kind); err != nil {
			return views.NodeForm{}, err
		}
	}
	var testSend *views.TestSendTarget
	if a := spec.Action; a != nil && a.Test != nil {
		testSend = &views.TestSendTarget{}
		if a.Test.To != "" {
			testSend.ToLabel = a.Test.To.Title()
		}
	}
	return views.NodeForm{
		Action: "/journeys/" + journeyID + "/panel/node",
		NodeID: n.ID, Kind: spec.Kind, KindTitle: spec.Title, Category: string(spec.Category), Help: spec.Help,
		Title: n.Title, TitleError: titleErr, ReadOnly: readonly, Explicit: explicitDefaults(spec.Fields, n.Config),
		Fields: buildFields(fs, spec.Fields, n.Config, "f.", "", problems),
		Errors: general, TestSend: testSend,
	}, nil
}

// nodeProblems validates one node on its own, as flows does inside a
// journey (the same checks, connectors included), and sorts the problems
// by config path. Problems about the graph (ports, reachability) are the
// canvas's business and left out.
func (h *Handler) nodeProblems(ctx context.Context, ws string, spec nodes.Spec, n panelNode) (fieldProblems, []string, string, error) {
	const id = "node"
	doc, err := flows.Marshal(&flows.Journey{Format: flows.Format, Name: "panel", Nodes: []flows.Node{{ID: id, Kind: spec.Kind, Title: n.Title, Config: n.Config}}})
	if err != nil {
		return nil, nil, "", err
	}
	_, problems, err := h.journeys.Check(ctx, ws, doc)
	if ps, ok := journeys.IsInvalid(err); ok {
		problems, err = ps, nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	out := fieldProblems{}
	var general []string
	titleErr := ""
	for _, p := range problems {
		if p.NodeID != id {
			continue
		}
		root := p.Field
		if i := strings.IndexAny(root, ".["); i >= 0 {
			root = root[:i]
		}
		switch {
		case p.Field == "title":
			titleErr = p.Message
		case root == "":
		case strings.HasPrefix(p.Field, "ports") || root == "kind" || root == "id" || root == "position":
		default:
			if _, ok := spec.Field(root); ok {
				out.add(p.Field, p.Message)
			} else {
				general = append(general, p.Field+": "+p.Message)
			}
		}
	}
	return out, general, titleErr, nil
}

func hasConnectorField(fields []nodes.Field) bool {
	for _, f := range fields {
		if f.Type == nodes.Connector {
			return true
		}
	}
	return false
}

// connectorOptions lists the workspace's connectors that can carry a node
// of this kind; the sandbox first.
func (h *Handler) connectorOptions(ctx context.Context, ws, kind string) ([]views.Option, error) {
	types, err := h.store.ConnectorTypes(ctx, ws)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(types))
	for name, typ := range types {
		if name != flows.SandboxConnector && h.journeys.Serves(typ, kind) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	opts := []views.Option{{Value: flows.SandboxConnector, Label: "sandbox (test inbox)"}}
	for _, name := range names {
		opts = append(opts, views.Option{Value: name, Label: name + " (" + types[name] + ")"})
	}
	return opts, nil
}

// previews renders the template fields of cfg with env (the sample
// profile's or a real one's).
func previews(fields []nodes.Field, cfg map[string]any, pathPrefix string, problems fieldProblems, env *expression.Env) map[string]preview {
	out := map[string]preview{}
	for _, f := range fields {
		if !f.Type.IsTemplate() {
			continue
		}
		path := pathPrefix + f.Name
		src, _ := cfg[f.Name].(string)
		if strings.TrimSpace(src) == "" || problems[path] != "" {
			continue
		}
		out[path] = renderPreview(src, f.Type, env)
	}
	return out
}

const maxPreview = 4000

func renderPreview(src string, typ nodes.FieldType, env *expression.Env) preview {
	t, err := expression.ParseTemplate(src, flows.TemplateEscaping(typ))
	if err != nil {
		return preview{err: err.Error()}
	}
	text, err := t.Render(env)
	if err != nil {
		return preview{err: err.Error()}
	}
	if len(text) > maxPreview {
		cut := maxPreview
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return preview{text: text}
}

// sampleEnv is the sample profile and entry event that template previews
// use, documented in docs/editor.md.
func sampleEnv() *expression.Env {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	event := expression.Event{
		Name: "cart_abandoned",
		Properties: map[string]any{
			"cart_id": "c_1042", "total": 59.9, "currency": "EUR", "url": "https://shop.example/cart/c_1042",
			"items": []any{map[string]any{"sku": "tee-01", "name": "T-shirt", "price": 29.95}, map[string]any{"sku": "cap-02", "name": "Cap", "price": 29.95}},
		},
		Body:       map[string]any{"user_id": "u_1042", "email": "ada@example.com", "plan": "trial"},
		Headers:    map[string]string{"content-type": "application/json"},
		OccurredAt: now.Add(-time.Hour),
	}
	return &expression.Env{
		Profile: expression.Profile(expression.ProfileFields{
			ExternalID: "u_1042", Email: "ada@example.com", Phone: "+447700900123", Timezone: "Europe/London", Locale: "en-GB",
		}, map[string]any{
			"first_name": "Ada", "last_name": "Lovelace", "country": "GB", "plan": "trial", "lead_score": 42.0,
			"birthday": "1990-12-10", "signed_up_at": "2026-02-20T10:00:00Z", "sms_opt_in": true, "newsletter": true, "tier": "gold",
		}),
		Event:   event,
		Run:     expression.Run{ID: "run_sample", EnteredAt: now.Add(-time.Hour), Steps: 2, Entry: event},
		Journey: expression.Journey{ID: "journey_sample", Name: "Sample journey", Version: 1},
		Now:     now,
	}
}

// templatePreview renders one template field live, as the user types:
// POST with kind, field and value.
func (h *Handler) templatePreview(c *fiber.Ctx) error {
	if _, _, err := h.panelJourney(c); err != nil {
		return err
	}
	spec, ok := h.journeys.Registry().Lookup(c.FormValue("kind"))
	if !ok {
		return httpkit.BadRequest("kind: unknown node kind")
	}
	f, ok := spec.Field(c.FormValue("field"))
	if !ok || !f.Type.IsTemplate() {
		return httpkit.BadRequest("field: not a template field of %s", spec.Kind)
	}
	release, err := h.previewSlot(c.UserContext())
	if err != nil {
		c.Set(fiber.HeaderRetryAfter, "1")
		return err
	}
	defer release()
	who, err := h.previewPerson(c, c.Params("id"))
	if err != nil {
		return err
	}
	src := c.FormValue("value")
	p := renderPreview(src, f.Type, who.env())
	warnings := []views.PreviewWarning{}
	if p.err == "" {
		warnings = append(warnings, who.check(src)...)
	}
	return c.JSON(fiber.Map{"preview": p.text, "error": p.err, "html": f.Type == nodes.HTML,
		"label": (&views.NodePreview{As: who.as}).Label(), "warnings": warnings})
}

// Template previews render in the web process. A render is bounded
// (expression.MaxEvalBytes, expression.MaxRenderBytes); this bounds how
// many run at once, so memory stays bounded under concurrency.
const (
	maxConcurrentPreviews = 4
	previewWait           = 2 * time.Second
)

// previewSlot waits briefly for one of the preview slots; when all stay
// busy it answers 429.
func (h *Handler) previewSlot(ctx context.Context) (release func(), err error) {
	select {
	case h.previews <- struct{}{}:
		return func() { <-h.previews }, nil
	default:
	}
	t := time.NewTimer(previewWait)
	defer t.Stop()
	select {
	case h.previews <- struct{}{}:
		return func() { <-h.previews }, nil
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, httpkit.NewError(fiber.StatusTooManyRequests, "busy", "too many previews at once; try again in a moment")
}

// plainJSON converts json.Number values (from the canvas's JSON) to
// float64 or int64, so configs compare and marshal like the form's.
func plainJSON(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		return plainJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	}
	return v
}

// postedForm reads the urlencoded body with repeated keys.
func postedForm(c *fiber.Ctx) formFields {
	out := formFields{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		out[string(k)] = append(out[string(k)], string(v))
	})
	return out
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
