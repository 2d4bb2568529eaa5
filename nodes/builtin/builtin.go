// Package builtin declares Waymark's built-in node kinds.
//
// Kinds are grouped by category, one file each: triggers.go, flow.go and
// actions.go. Adding a kind means adding its spec to the list in one of
// those files (and its tests).
package builtin

import (
	"fmt"

	"github.com/waymarkhq/waymark/nodes"
)

// Register adds every built-in kind to reg.
func Register(reg *nodes.Registry) error {
	for _, group := range [][]nodes.Spec{triggers(), flowKinds(), actions()} {
		for _, s := range group {
			if err := reg.Register(s); err != nil {
				return fmt.Errorf("registering built-in kinds: %w", err)
			}
		}
	}
	return nil
}

// out is the single port of most kinds.
func out(ifUnconnected nodes.Unconnected) nodes.Port {
	return nodes.Port{Name: "out", Title: "Next", IfUnconnected: ifUnconnected}
}

// days is a helper for duration bounds, in seconds.
func days(n float64) *float64 { return nodes.Bound(n * 86400) }

// seconds is a helper for duration bounds.
func seconds(n float64) *float64 { return nodes.Bound(n) }
