package openapi

import (
	"reflect"
	"strings"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
)

// The journey document and the connector bodies, described from the
// registries: one node schema per kind, one connector schema per type. A
// kind or type registered tomorrow is in the document without a change
// here.

// nodeComponent names the component of a node kind's node.
func nodeComponent(kind string) string { return "Node_" + kind }

// connectorComponent names the component of a connector type's create body.
func connectorComponent(typ string) string { return "ConnectorInput_" + typ }

// journeySchemas adds the journey document's components:
//
//   - JourneyDocument: a journey as publishing needs it; each node is
//     one of the kinds (Node, discriminated by kind), its config as the
//     kind's spec declares it.
//   - JourneyDraft: any document the parser takes (a draft may be work in
//     progress: saved with allow_invalid=true, or sent to validate); the
//     node configs are free-form.
func (g *schemaGen) journeySchemas(specs []nodes.Spec) {
	settings := g.of(reflect.TypeFor[flows.Settings](), writeMode)
	position := g.of(reflect.TypeFor[flows.Position](), writeMode)
	edge := g.of(reflect.TypeFor[flows.Edge](), writeMode)
	id := map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "Unique in the journey; edges name it."}
	title := map[string]any{"type": "string", "maxLength": flows.MaxTitleLength}

	var kinds []any
	mapping := map[string]any{}
	for _, sp := range specs {
		cfg := specFields(sp.Fields)
		if sp.Example != nil {
			cfg["examples"] = []any{jsonValue(sp.Example)}
		}
		required := []string{"id", "kind"}
		if _, ok := cfg["required"]; ok {
			required = append(required, "config")
		}
		name := nodeComponent(sp.Kind)
		g.defs[name] = map[string]any{
			"type": "object", "title": sp.Title, "description": sp.Help + " (" + string(sp.Category) + ")",
			"properties": map[string]any{
				"id": id, "kind": map[string]any{"const": sp.Kind}, "title": title, "position": position, "config": cfg,
			},
			"required": required, "additionalProperties": false,
		}
		kinds = append(kinds, Ref(name))
		mapping[sp.Kind] = "#/components/schemas/" + name
	}
	g.defs["Node"] = map[string]any{
		"description":   "A step of the journey: one of the node kinds (GET /api/v1/nodes), its config as the kind declares it.",
		"oneOf":         kinds,
		"discriminator": map[string]any{"propertyName": "kind", "mapping": mapping},
	}
	g.defs["DraftNode"] = map[string]any{
		"type": "object", "description": "A node of a draft: its config is checked when the journey is validated or published.",
		"properties": map[string]any{
			"id": Str(), "kind": Str(), "title": Str(), "position": position, "config": map[string]any{"type": "object"},
		},
		"additionalProperties": false,
	}
	doc := func(node map[string]any, strict bool) map[string]any {
		name := Str()
		required := []string{"format"}
		nodeList := map[string]any{"type": "array", "items": node}
		if strict {
			name = map[string]any{"type": "string", "minLength": 1, "maxLength": flows.MaxTitleLength}
			required = []string{"format", "name", "nodes"}
			nodeList["minItems"], nodeList["maxItems"] = 1, flows.MaxNodes
		}
		return map[string]any{
			"type": "object",
			"properties": map[string]any{
				"format": map[string]any{"const": flows.Format}, "name": name, "settings": settings,
				"nodes": nodeList, "edges": map[string]any{"type": "array", "items": edge, "maxItems": flows.MaxEdges},
			},
			"required": required, "additionalProperties": false,
		}
	}
	g.defs["JourneyDocument"] = describe(doc(Ref("Node"), true),
		"A journey, format v1 (docs/journey-format.md), as publishing needs it. Cross-node rules (edges, ports, reachability, expressions) are checked by the server.")
	g.defs["JourneyDraft"] = describe(doc(Ref("DraftNode"), false),
		"A journey document as stored: a draft may not be valid yet (its problems say why).")
}

// connectorSchemas adds ConnectorInput: the body that creates a connector,
// one schema per type that can be created (not the built-in sandbox),
// its config as the type declares it.
func (g *schemaGen) connectorSchemas(types []connectors.Type) {
	var kinds []any
	mapping := map[string]any{}
	for _, t := range types {
		if t.Builtin {
			continue
		}
		cfg := specFields(t.Fields)
		if t.Example != nil {
			cfg["examples"] = []any{jsonValue(t.Example)}
		}
		required := []string{"type", "name"}
		if _, ok := cfg["required"]; ok {
			required = append(required, "config")
		}
		name := connectorComponent(t.Name)
		g.defs[name] = map[string]any{
			"type": "object", "title": t.Title,
			"description": strings.TrimSpace(t.Help + " Serves " + strings.Join(t.Kinds, ", ") + "."),
			"properties": map[string]any{
				"type": map[string]any{"const": t.Name},
				"name": map[string]any{"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$", "not": map[string]any{"const": connectors.SandboxName},
					"description": "Unique in the workspace; journeys name the connector by it."},
				"config":  cfg,
				"enabled": map[string]any{"type": "boolean", "default": true},
			},
			"required": required, "additionalProperties": false,
		}
		kinds = append(kinds, Ref(name))
		mapping[t.Name] = "#/components/schemas/" + name
	}
	if len(kinds) == 0 {
		// No connector administration on this server (it answers 503).
		g.defs["ConnectorInput"] = map[string]any{"type": "object"}
		return
	}
	g.defs["ConnectorInput"] = map[string]any{
		"description":   "A new connector: one of the connector types (GET /api/v1/connector-types), its config as the type declares it (secrets in plain text; they are stored encrypted).",
		"oneOf":         kinds,
		"discriminator": map[string]any{"propertyName": "type", "mapping": mapping},
	}
}
