// Package importrules holds the test that keeps Waymark's import rules
// (docs/architecture.md, "Who may import whom"): it has no code of its
// own. The rules are checked with go list, so a forbidden import fails
// `go test ./...` the moment it is written.
package importrules
