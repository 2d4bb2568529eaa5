package web

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// People read steps by their titles and fields by their labels; node ids
// and field paths stay for support, as secondary text or a tooltip. These
// helpers name them for every page that shows steps (runs, the run
// timeline, the report, the publish review, the simulator).

// stepNames maps a version's node ids to what people call the steps.
type stepNames map[string]string

// newStepNames names each node of doc: its title, else its kind's title
// (Send email), else its id.
func newStepNames(reg *nodes.Registry, doc *flows.Journey) stepNames {
	out := stepNames{}
	if doc == nil {
		return out
	}
	for _, n := range doc.Nodes {
		out[n.ID] = stepTitle(reg, n)
	}
	return out
}

func stepTitle(reg *nodes.Registry, n flows.Node) string {
	if t := strings.TrimSpace(n.Title); t != "" {
		return t
	}
	if reg != nil {
		if spec, ok := reg.Lookup(n.Kind); ok && spec.Title != "" {
			return spec.Title
		}
	}
	return n.ID
}

// name is the step's title, or its id when the version has no such node
// (a step of an older version a run was moved from).
func (s stepNames) name(id string) string {
	if t, ok := s[id]; ok {
		return t
	}
	return id
}

// kindTitle is a node kind as the palette names it.
func kindTitle(reg *nodes.Registry, kind string) string {
	if reg != nil {
		if spec, ok := reg.Lookup(kind); ok && spec.Title != "" {
			return spec.Title
		}
	}
	return kind
}

// versionSteps reads the step names of journeys' versions once per page.
type versionSteps struct {
	h     *Handler
	ws    string
	cache map[string]stepNames
}

func (h *Handler) versionSteps(ws string) *versionSteps {
	return &versionSteps{h: h, ws: ws, cache: map[string]stepNames{}}
}

// of returns the step names of a journey's version (0: the draft); a
// journey or version that is gone has none.
func (v *versionSteps) of(ctx context.Context, journeyID string, version int) (stepNames, error) {
	key := journeyID + "\x00" + strconv.Itoa(version)
	if s, ok := v.cache[key]; ok {
		return s, nil
	}
	doc, err := v.h.journeys.Document(ctx, v.ws, journeyID, version)
	var pe *flows.ParseError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &pe) {
		doc, err = nil, nil // gone, or unreadable: the pages show node ids
	}
	if err != nil {
		return nil, err
	}
	s := newStepNames(v.h.journeys.Registry(), doc)
	v.cache[key] = s
	return s, nil
}

// fieldLabel says a problem's field path with the labels of the node's
// spec: "variants[0].name" → "Variant 1 › Port name",
// "ports.yes" → "Exit “yes”", "settings.entry_limit.per_profile" →
// "Settings › Entry limit › Per profile". Unknown parts are written out
// from their names.
func fieldLabel(spec *nodes.Spec, path string) string {
	if path == "" {
		return ""
	}
	switch path {
	case "id":
		return "Step id"
	case "title":
		return "Title"
	case "kind":
		return "Kind"
	}
	if port, ok := strings.CutPrefix(path, "ports."); ok {
		return "Exit “" + port + "”"
	}
	var fields []nodes.Field
	if spec != nil {
		fields = spec.Fields
	}
	var out []string
	for _, seg := range splitPath(path) {
		if n, err := strconv.Atoi(seg); err == nil && seg != "" && seg[0] != '-' {
			// "Variants", 0 → "Variant 1"
			if len(out) > 0 {
				out[len(out)-1] = singular(out[len(out)-1]) + " " + strconv.Itoa(n+1)
			} else {
				out = append(out, ordinal(n+1))
			}
			continue
		}
		label := humanize(seg)
		var next []nodes.Field
		for _, f := range fields {
			if f.Name == seg {
				if f.Title != "" {
					label = f.Title
				}
				next = f.Items
				break
			}
		}
		fields = next
		out = append(out, label)
	}
	return strings.Join(out, " › ")
}

// singular is a list's title for one of its items: "Variants" →
// "Variant", "Cases" → "Case", "Headers" → "Header".
func singular(title string) string {
	if strings.HasSuffix(title, "s") && !strings.HasSuffix(title, "ss") && len(title) > 1 {
		return title[:len(title)-1]
	}
	return title
}

// splitPath splits "a[0].b.c[12]" into a, 0, b, c, 12.
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, part)
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				out = append(out, part[i:])
				break
			}
			out = append(out, part[i+1:i+j])
			part = part[i+j+1:]
		}
	}
	return out
}

// humanize writes a snake_case name as words: "per_profile" → "Per profile".
func humanize(name string) string {
	s := strings.TrimSpace(strings.ReplaceAll(name, "_", " "))
	if s == "" {
		return name
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// ordinal writes 1 as 1st, 2 as 2nd, 11 as 11th, 22 as 22nd.
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// labeledProblem is a validation problem as the editor shows it: the
// field's path (to focus it) and its label ("Variant 1 › Port name").
type labeledProblem struct {
	flows.Problem
	Label string `json:"label,omitempty"`
}

// labelProblems labels each problem's field by the spec of its node's
// kind in doc (a raw journey document; nodes it cannot read get labels
// from their path alone).
func labelProblems(reg *nodes.Registry, doc []byte, ps []flows.Problem) []labeledProblem {
	out := make([]labeledProblem, len(ps))
	if len(ps) == 0 {
		return out
	}
	var d struct {
		Nodes []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"nodes"`
	}
	_ = json.Unmarshal(doc, &d) // unreadable: labels from the paths
	kinds := map[string]string{}
	for _, n := range d.Nodes {
		kinds[n.ID] = n.Kind
	}
	for i, p := range ps {
		out[i] = labeledProblem{Problem: p, Label: problemFieldLabel(reg, kinds[p.NodeID], p)}
	}
	return out
}
