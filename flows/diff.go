package flows

import (
	"encoding/json"
	"reflect"
	"sort"
)

// JourneyDiff describes how journey b differs from journey a (a → b).
// It marshals to JSON for the versions API.
type JourneyDiff struct {
	Name     *Change      `json:"name,omitempty"`
	Settings []Change     `json:"settings,omitempty"`
	Added    []string     `json:"nodes_added,omitempty"`
	Removed  []string     `json:"nodes_removed,omitempty"`
	Changed  []NodeChange `json:"nodes_changed,omitempty"`
	// Moved lists nodes whose only change is their canvas position.
	Moved        []string `json:"nodes_moved,omitempty"`
	EdgesAdded   []Edge   `json:"edges_added,omitempty"`
	EdgesRemoved []Edge   `json:"edges_removed,omitempty"`
}

// Change is one value that changed; From or To is nil when the value
// was added or removed. Path is relative to its owner: a settings path
// ("quiet_hours.start"), a config key, "title" or "kind".
type Change struct {
	Path string `json:"path"`
	From any    `json:"from"`
	To   any    `json:"to"`
}

// NodeChange lists what changed in one node that exists in both.
type NodeChange struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
	// Moved is true when the position changed too.
	Moved bool `json:"moved,omitempty"`
}

// Empty reports whether the journeys are the same, ignoring positions.
func (d JourneyDiff) Empty() bool {
	return d.Name == nil && len(d.Settings) == 0 && len(d.Added) == 0 && len(d.Removed) == 0 &&
		len(d.Changed) == 0 && len(d.EdgesAdded) == 0 && len(d.EdgesRemoved) == 0
}

// Diff returns the differences from a to b. Node lists follow b's
// document order (removed nodes: a's order); config changes are per
// top-level config key, with values as in the documents.
func Diff(a, b *Journey) JourneyDiff {
	if a == nil {
		a = &Journey{}
	}
	if b == nil {
		b = &Journey{}
	}
	var d JourneyDiff
	if a.Name != b.Name {
		d.Name = &Change{Path: "name", From: a.Name, To: b.Name}
	}
	d.Settings = diffValues("", plain(a.Settings), plain(b.Settings))

	an := map[string]*Node{}
	for i := range a.Nodes {
		if _, dup := an[a.Nodes[i].ID]; !dup {
			an[a.Nodes[i].ID] = &a.Nodes[i]
		}
	}
	bn := map[string]bool{}
	for i := range b.Nodes {
		nb := &b.Nodes[i]
		if bn[nb.ID] {
			continue
		}
		bn[nb.ID] = true
		na, ok := an[nb.ID]
		if !ok {
			d.Added = append(d.Added, nb.ID)
			continue
		}
		var ch []Change
		if na.Kind != nb.Kind {
			ch = append(ch, Change{Path: "kind", From: na.Kind, To: nb.Kind})
		}
		if na.Title != nb.Title {
			ch = append(ch, Change{Path: "title", From: na.Title, To: nb.Title})
		}
		ch = append(ch, diffConfig(na.Config, nb.Config)...)
		moved := na.Position != nb.Position
		switch {
		case len(ch) > 0:
			d.Changed = append(d.Changed, NodeChange{ID: nb.ID, Changes: ch, Moved: moved})
		case moved:
			d.Moved = append(d.Moved, nb.ID)
		}
	}
	seenA := map[string]bool{}
	for i := range a.Nodes {
		id := a.Nodes[i].ID
		if !bn[id] && !seenA[id] {
			d.Removed = append(d.Removed, id)
		}
		seenA[id] = true
	}
	ae, be := edgeSet(a.Edges), edgeSet(b.Edges)
	for _, e := range b.Edges {
		if !ae[e] {
			d.EdgesAdded = append(d.EdgesAdded, e)
			ae[e] = true // report duplicates once
		}
	}
	for _, e := range a.Edges {
		if !be[e] {
			d.EdgesRemoved = append(d.EdgesRemoved, e)
			be[e] = true
		}
	}
	return d
}

func edgeSet(es []Edge) map[Edge]bool {
	m := make(map[Edge]bool, len(es))
	for _, e := range es {
		m[e] = true
	}
	return m
}

func diffConfig(a, b map[string]any) []Change {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []Change
	for _, k := range sorted {
		va, oka := a[k]
		vb, okb := b[k]
		if oka && okb && sameJSON(va, vb) {
			continue
		}
		out = append(out, Change{Path: k, From: va, To: vb})
	}
	return out
}

// plain converts a value to its JSON form as generic maps.
func plain(v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// diffValues compares two JSON objects leaf by leaf (objects recurse;
// lists and scalars compare whole).
func diffValues(prefix string, a, b map[string]any) []Change {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []Change
	for _, k := range sorted {
		va, oka := a[k]
		vb, okb := b[k]
		ma, isMapA := va.(map[string]any)
		mb, isMapB := vb.(map[string]any)
		switch {
		case isMapA && isMapB:
			out = append(out, diffValues(prefix+k+".", ma, mb)...)
		case isMapA && !okb:
			out = append(out, diffValues(prefix+k+".", ma, nil)...)
		case isMapB && !oka:
			out = append(out, diffValues(prefix+k+".", nil, mb)...)
		case !reflect.DeepEqual(va, vb):
			out = append(out, Change{Path: prefix + k, From: va, To: vb})
		}
	}
	return out
}

// sameJSON compares two decoded JSON values by their encoding, so that
// json.Number("1") and 1 compare equal only when written alike.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
