package web

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// editorData is the JSON the canvas starts from (editor/main.js reads it from
// the page). The document is the journey model's own format: the canvas
// converts it to and from the drawing library's cells.
type editorData struct {
	Journey  editorJourney    `json:"journey"`
	Document *flows.Journey   `json:"document"`
	Specs    []canvasSpec     `json:"specs"`
	Problems []labeledProblem `json:"problems"`
	// Ports are the output ports of the document's nodes, by node id
	// (nodes.Spec.PortsFor): the canvas has no port logic of its own.
	Ports map[string][]canvasPort `json:"ports"`
}

type editorJourney struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Revision    int    `json:"revision"`
	LiveVersion int    `json:"live_version"`
	Version     int    `json:"version"`
	ReadOnly    bool   `json:"readonly"`
}

// canvasSpec is what the canvas needs to know about a node kind: how to
// draw it and which ports a new node of the kind has. Forms and the ports
// of a configured node come from the server.
type canvasSpec struct {
	Kind         string              `json:"kind"`
	Title        string              `json:"title"`
	Category     string              `json:"category"`
	Help         string              `json:"help"`
	NewPorts     []canvasPort        `json:"new_ports"`
	NewConfig    map[string]any      `json:"new_config,omitempty"` // nodes.Spec.Starter
	DefaultPort  string              `json:"default_port,omitempty"`
	DynamicPorts *nodes.DynamicPorts `json:"dynamic_ports,omitempty"`
	Terminal     bool                `json:"terminal"`
	// Summary names the fields whose values describe a node on the
	// canvas, in order of preference.
	Summary []string `json:"summary"`
	// NeedsSetup: the kind has required fields (an empty node is not
	// set up yet).
	NeedsSetup bool `json:"needs_setup"`
}

// canvasPort is an output port as the canvas draws it.
type canvasPort struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// canvasPorts are the ports of a node of kind spec with config cfg (raw,
// as the document or the form has it), as nodes.Spec.PortsFor says; the
// canvas draws a name once.
func canvasPorts(spec nodes.Spec, cfg map[string]any) []canvasPort {
	ports := spec.PortsFor(cfg)
	out := make([]canvasPort, 0, len(ports))
	seen := make(map[string]bool, len(ports))
	for _, p := range ports {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		title := p.Title
		if title == "" {
			title = p.Name
		}
		out = append(out, canvasPort{Name: p.Name, Title: title})
	}
	return out
}

// documentPorts are the ports of each node of doc, by id (the first node
// with an id is the one the canvas draws).
func documentPorts(reg *nodes.Registry, doc *flows.Journey) map[string][]canvasPort {
	out := make(map[string][]canvasPort, len(doc.Nodes))
	seen := make(map[string]bool, len(doc.Nodes))
	for _, n := range doc.Nodes {
		if seen[n.ID] {
			continue
		}
		seen[n.ID] = true
		if spec, ok := reg.Lookup(n.Kind); ok {
			out[n.ID] = canvasPorts(spec, n.Config)
		}
	}
	return out
}

var categoryTitles = map[nodes.Category]string{nodes.Trigger: "Triggers", nodes.Flow: "Flow", nodes.Action: "Actions"}

func (h *Handler) canvasSpecs() ([]canvasSpec, []views.PaletteGroup) {
	specs := h.journeys.Registry().Specs()
	out := make([]canvasSpec, 0, len(specs))
	var groups []views.PaletteGroup
	for _, sp := range specs {
		cs := canvasSpec{
			Kind: sp.Kind, Title: sp.Title, Category: string(sp.Category), Help: sp.Help,
			NewPorts: canvasPorts(sp, sp.Starter), NewConfig: sp.Starter, DefaultPort: sp.DefaultPort, DynamicPorts: sp.DynamicPorts, Terminal: sp.Terminal,
		}
		for _, f := range sp.Fields {
			cs.NeedsSetup = cs.NeedsSetup || f.Required
			if info, _ := f.Type.Info(); info.Summary && (f.Required || len(cs.Summary) == 0) {
				cs.Summary = append(cs.Summary, f.Name)
			}
		}
		out = append(out, cs)
		if len(groups) == 0 || groups[len(groups)-1].Category != string(sp.Category) {
			groups = append(groups, views.PaletteGroup{Category: string(sp.Category), Title: categoryTitles[sp.Category]})
		}
		g := &groups[len(groups)-1]
		g.Items = append(g.Items, views.PaletteItem{Kind: sp.Kind, Title: sp.Title, Help: sp.Help, Category: string(sp.Category)})
	}
	return out, groups
}

// editorPage is the editor's page with its assets. The classic scripts
// (X6, htmx, app.js, the trigger panel) run first, in order; the editor is
// ES modules under static/editor/, entered at main.js, which imports the
// others by relative URL under the same hashed prefix (assets_modules.go).
func (h *Handler) editorPage(c *fiber.Ctx, title string) views.Page {
	p := h.page(c, title)
	p.App = true
	p.Styles = []string{h.assetURLs["vendor/x6.css"], h.assetURLs["editor.css"], h.assetURLs["trigger_panel.css"]}
	p.Scripts = []string{h.assetURLs["vendor/x6.min.js"], h.assetURLs["vendor/htmx.min.js"], h.assetURLs["app.js"], h.assetURLs["trigger_panel.js"]}
	p.Modules = []string{h.assetURLs["editor/main.js"]}
	return p
}

func (h *Handler) journeyEdit(c *fiber.Ctx) error {
	return h.renderEditor(c, 0)
}

func (h *Handler) journeyVersionView(c *fiber.Ctx) error {
	n, err := strconv.Atoi(c.Params("version"))
	if err != nil || n < 1 {
		return httpkit.BadRequest("version: want a version number, got %q", c.Params("version"))
	}
	return h.renderEditor(c, n)
}

// renderEditor shows the draft (version 0) or a published version
// (read-only).
func (h *Handler) renderEditor(c *fiber.Ctx, version int) error {
	ctx := c.UserContext()
	ws := httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	e, err := h.editorState(ctx, ws, j, version, canEdit(c))
	if err != nil {
		return err
	}
	title := j.Name
	if version > 0 {
		title += " (v" + strconv.Itoa(version) + ")"
	}
	return render(c, views.EditorPageView(h.editorPage(c, title), e))
}

// editorState gathers what the editor page shows.
func (h *Handler) editorState(ctx context.Context, ws string, j store.Journey, version int, mayEdit bool) (views.EditorPage, error) {
	e := views.EditorPage{
		JourneyID: j.ID, Name: j.Name, Status: j.Status, LiveVersion: j.LiveVersion, Version: version, CanEdit: mayEdit,
		StatsVersion: j.LiveVersion,
	}
	if version > 0 {
		e.StatsVersion = version
	}
	var raw []byte
	switch {
	case version > 0:
		v, err := h.store.GetJourneyVersion(ctx, ws, j.ID, version)
		if err != nil {
			return e, httpkit.JourneyError(err)
		}
		raw = v.Document
		e.ReadOnly, e.ReadOnlyWhy = true, "You are looking at version "+strconv.Itoa(version)+", which is read-only."
		e.VersionNote = "Published by " + v.PublishedBy + " on " + v.PublishedAt.UTC().Format("2 Jan 2006 at 15:04 UTC") + "."
	default:
		raw = j.Draft
		switch {
		case !mayEdit:
			e.ReadOnly, e.ReadOnlyWhy = true, "You have view-only access to journeys."
		case j.Status == store.JourneyArchived:
			e.ReadOnly, e.ReadOnlyWhy = true, "This journey is archived and read-only. Duplicate it from the journeys list to reuse it."
		}
	}
	doc, problems, err := h.journeys.Check(ctx, ws, raw)
	if ps, ok := journeys.IsInvalid(err); ok {
		// A draft that does not parse (written by hand through the API):
		// open an empty canvas and say why.
		doc, problems, err = &flows.Journey{Format: flows.Format, Name: j.Name}, ps, nil
	}
	if err != nil {
		return e, err
	}
	if e.Name == "" {
		e.Name = doc.Name
	}
	if doc.Nodes == nil {
		doc.Nodes = []flows.Node{}
	}
	if doc.Edges == nil {
		doc.Edges = []flows.Edge{}
	}
	if problems == nil {
		problems = []flows.Problem{}
	}
	specs, palette := h.canvasSpecs()
	e.Palette = palette
	e.Data = editorData{
		Journey: editorJourney{
			ID: j.ID, Name: doc.Name, Status: j.Status, Revision: j.DraftRevision, LiveVersion: j.LiveVersion,
			Version: version, ReadOnly: e.ReadOnly,
		},
		Document: doc, Specs: specs, Problems: labelProblems(h.journeys.Registry(), raw, problems), Ports: documentPorts(h.journeys.Registry(), doc),
	}
	return e, nil
}
