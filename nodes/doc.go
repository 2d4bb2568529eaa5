// Package nodes declares the kinds of node a journey is built from.
//
// Each kind is described once by a [Spec]: its title, category, typed
// config fields, output ports and behaviour flags. That one declaration
// drives parsing and validation (package flows), the editor palette and
// property forms, the API schema (GET /api/v1/nodes) and the generated
// reference docs (docs/journey-format.md).
//
// The package is pure: it does no I/O and imports only the standard
// library. Built-in kinds live in nodes/builtin; a [Registry] is built
// explicitly by the caller:
//
//	reg := nodes.NewRegistry()
//	if err := builtin.Register(reg); err != nil { … }
package nodes
