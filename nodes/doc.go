// Package nodes declares the kinds of node a journey is built from.
//
// Each kind is described once by a [Spec]: its title, category, typed
// config fields, output ports and behaviour flags, and for a kind that
// acts, what it does ([ActionSpec]: channel, recipient, message, policies,
// test sends). That one declaration drives parsing and validation (package
// flows), the editor palette, canvas ports and property forms, the API
// schema (GET /api/v1/nodes), the engine's actions, test sends, the
// simulator and the generated reference docs (docs/journey-format.md).
// Field types are declared once too, in a table ([FieldTypes]).
//
// The package is pure: it does no I/O and imports only the standard
// library. Built-in kinds live in nodes/builtin; a [Registry] is built
// explicitly by the caller:
//
//	reg := nodes.NewRegistry()
//	if err := builtin.Register(reg); err != nil { … }
package nodes
