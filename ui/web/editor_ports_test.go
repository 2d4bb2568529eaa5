package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// The canvas draws the ports the server computes (nodes.Spec.PortsFor):
// the page carries each node's, each kind's for a new node, and every
// panel answer those of the config it read. The editor JS (static/editor/) has no port logic of
// its own, so it cannot disagree with validation (it used to: its copy
// read a holdout of "0" as unset, Go reads it as set).

// portsDoc has nodes whose ports depend on their config.
var portsDoc = map[string]any{"format": 1, "name": "Ports", "nodes": []any{
	map[string]any{"id": "start", "kind": "trigger_webhook", "position": map[string]any{"x": 0, "y": 0}, "config": map[string]any{"profile_id": "event.body.id"}},
	map[string]any{"id": "sw", "kind": "switch", "position": map[string]any{"x": 300, "y": 0}, "config": map[string]any{"cases": []any{
		map[string]any{"name": "gold", "expr": "true"}, map[string]any{"name": "silver", "expr": "false"}}}},
	map[string]any{"id": "sp10", "kind": "split", "position": map[string]any{"x": 300, "y": 200}, "config": map[string]any{"holdout": 10,
		"variants": []any{map[string]any{"name": "a", "weight": 45}, map[string]any{"name": "b", "weight": 45}}}},
	map[string]any{"id": "sp0", "kind": "split", "position": map[string]any{"x": 300, "y": 400}, "config": map[string]any{"holdout": 0,
		"variants": []any{map[string]any{"name": "a", "weight": 50}, map[string]any{"name": "b", "weight": 50}}}},
	map[string]any{"id": "spstr", "kind": "split", "position": map[string]any{"x": 300, "y": 600}, "config": map[string]any{"holdout": "0",
		"variants": []any{map[string]any{"name": "a", "weight": 50}, map[string]any{"name": "b", "weight": 50}}}},
	map[string]any{"id": "mail", "kind": "send_email", "position": map[string]any{"x": 600, "y": 0}, "config": map[string]any{"connector": "sandbox"}},
}, "edges": []any{map[string]any{"from": "start", "to": "sw"}}}

var portsWant = map[string][]string{
	"start": {"out"}, "sw": {"gold", "silver", "default"}, "sp10": {"a", "b", "holdout"}, "sp0": {"a", "b"},
	"spstr": {"a", "b", "holdout"}, "mail": {"out", "failed"},
}

type portsData struct {
	Ports map[string][]struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	} `json:"ports"`
	Specs []struct {
		Kind     string `json:"kind"`
		NewPorts []struct {
			Name string `json:"name"`
		} `json:"new_ports"`
	} `json:"specs"`
	Document *flows.Journey `json:"document"`
}

func TestEditorPortsComeFromTheServer(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Ports"}})
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": portsDoc})
	require.Equal(t, http.StatusOK, resp.StatusCode, out)

	_, page := c.Get("/journeys/" + id + "/edit")
	m := uitest.EditorDataRE.FindStringSubmatch(page)
	require.NotNil(t, m, "the editor page has its data")
	var data portsData
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))

	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	for _, n := range data.Document.Nodes {
		var got []string
		for _, p := range data.Ports[n.ID] {
			got = append(got, p.Name)
			require.NotEmpty(t, p.Title)
		}
		require.Equal(t, portsWant[n.ID], got, n.ID)
		spec, _ := reg.Lookup(n.Kind)
		var rule []string
		for _, p := range spec.PortsFor(n.Config) {
			rule = append(rule, p.Name)
		}
		require.Equal(t, rule, got, "%s: the page's ports are nodes.Spec.PortsFor's", n.ID)
	}
	newPorts := map[string][]string{}
	for _, s := range data.Specs {
		var names []string
		for _, p := range s.NewPorts {
			names = append(names, p.Name)
		}
		newPorts[s.Kind] = names
	}
	require.Equal(t, []string{"out", "failed"}, newPorts["send_email"])
	require.Equal(t, []string{"default"}, newPorts["switch"])
	require.Equal(t, []string{"a", "b"}, newPorts["split"], "a new split starts as A/B at 50/50 (nodes.Spec.Starter), no holdout")
	require.Nil(t, newPorts["exit"])

	// A panel answer carries the ports of the config it read.
	path := "/journeys/" + id + "/panel/node"
	split := url.Values{"node_id": {"sp10"}, "kind": {"split"}, "f.variants.0.name": {"a"}, "f.variants.0.weight": {"45"},
		"f.variants.1.name": {"b"}, "f.variants.1.weight": {"45"}, "f.holdout": {"10"}}
	for _, tt := range []struct {
		holdout string
		want    []any
	}{{"10", []any{"a", "b", "holdout"}}, {"0", []any{"a", "b"}}, {"", []any{"a", "b"}}} {
		split.Set("f.holdout", tt.holdout)
		resp, page := c.Post(path, split)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		r := panelResult(t, page)
		var names []any
		for _, p := range r["ports"].([]any) {
			names = append(names, p.(map[string]any)["name"])
		}
		require.Equal(t, tt.want, names, "holdout %q", tt.holdout)
	}
}

// TestEditorDrawsServerPorts: the canvas draws exactly the server's
// ports, on load and after a change in the panel.
func TestEditorDrawsServerPorts(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	id := bb.createJourney(url.Values{"name": {"Ports"}})
	c := bb.Client()
	ec := &uitest.EditorClient{Client: c, Tok: c.Login("ada@example.com", "correct horse battery")}
	resp, out := ec.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": portsDoc})
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	bb.openEditor(id)

	drawn := func(node string) []string {
		return browsertest.Eval[[]string](bb.br, fmt.Sprintf(
			`waymarkEditor.graph.getCellById(%q).getPorts().filter((p) => p.group === 'out').map((p) => p.id.slice(4))`, node))
	}
	for node, want := range portsWant {
		require.Equal(t, want, drawn(node), node)
	}

	bb.selectNode("sp10")
	bb.fill("f.holdout", "0")
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('sp10').getPorts().filter((p) => p.group === 'out').length === 2`)
	require.Equal(t, []string{"a", "b"}, drawn("sp10"))
	bb.fill("f.holdout", "20")
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('sp10').getPorts().filter((p) => p.group === 'out').length === 3`)
	require.Equal(t, []string{"a", "b", "holdout"}, drawn("sp10"))
}
