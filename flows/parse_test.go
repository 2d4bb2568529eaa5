package flows_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

func parseProblems(t *testing.T, data []byte) []flows.Problem {
	t.Helper()
	_, err := flows.Parse(data)
	require.Error(t, err)
	var pe *flows.ParseError
	require.True(t, errors.As(err, &pe), "got %T", err)
	return pe.Problems
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []flows.Problem
	}{
		{"empty", "  ", []flows.Problem{{Message: "empty document"}}},
		{"not an object", `[1]`, []flows.Problem{{Field: "document", Message: "expected an object, got a list"}}},
		{"truncated", `{"format": 1, "name": "x", "nodes": [`, []flows.Problem{{Message: "invalid JSON at line 1, column 38: unexpected end of input (is the document truncated?)"}}},
		{"syntax", "{\n  \"format\": 1,\n  \"name\": x\n}", []flows.Problem{{Message: "invalid JSON at line 3, column 11: invalid character 'x' looking for beginning of value"}}},
		{"trailing data", `{"format": 1, "name": "x"} {}`, []flows.Problem{{Message: "invalid JSON at line 1, column 28: unexpected data after the document"}}},
		{"missing format", `{"name": "x"}`, []flows.Problem{{Field: "format", Message: "required: this Waymark reads format 1"}}},
		{"position type", `{"format": 1, "name": "x", "nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d", "position": {"x": "1", "y": 2}}]}`,
			[]flows.Problem{{NodeID: "d", Field: "nodes[3].position.x", Message: "expected a number, got a string"}}},
		{"unknown edge field", `{"format": 1, "name": "x", "edges": [{"from": "a", "to": "b", "label": "x"}]}`,
			[]flows.Problem{{Field: "edges[0].label", Message: "unknown field"}}},
		{"settings types", `{"format": 1, "name": "x", "settings": {"quiet_hours": {"start": 9}, "frequency_cap": {"email": {"count": "3"}}}}`,
			[]flows.Problem{
				{Field: "settings.quiet_hours.start", Message: "expected a string, got a number"},
				{Field: "settings.frequency_cap.email.count", Message: "expected a number, got a string"},
			}},
		{"huge number", `{"format": 1, "name": "x", "nodes": [{"id": "a", "position": {"x": 1e999, "y": 0}}]}`,
			[]flows.Problem{{NodeID: "a", Field: "nodes[0].position.x", Message: "number out of range: 1e999"}}},
		{"NUL in a config string", `{"format": 1, "name": "x", "nodes": [{"id": "a", "kind": "send_email", "config": {"subject": "Hi\u0000"}}]}`,
			[]flows.Problem{{NodeID: "a", Field: "nodes[0].config.subject", Message: "contains a NUL character (\\u0000): text cannot hold it"}}},
		{"NUL in the name", `{"format": 1, "name": "\u0000"}`,
			[]flows.Problem{{Field: "name", Message: "contains a NUL character (\\u0000): text cannot hold it"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseProblems(t, []byte(tt.doc)))
		})
	}
}

func TestParseRejectsHugeDocumentQuickly(t *testing.T) {
	t.Parallel()
	doc := append([]byte(`{"format": 1, "name": "`), bytes.Repeat([]byte("x"), 10<<20)...)
	doc = append(doc, `"}`...)
	problems := parseProblems(t, doc)
	require.Equal(t, []flows.Problem{{Message: fmt.Sprintf("document too large (%d bytes, at most 2097152)", len(doc))}}, problems)
}

func TestParseDeeplyNestedConfig(t *testing.T) {
	t.Parallel()
	// Within 2 MiB, but nested far deeper than any real config.
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	doc := `{"format": 1, "name": "x", "nodes": [{"id": "a", "kind": "exit", "config": {"x": ` + deep + `}}]}`
	_, err := flows.Parse([]byte(doc))
	require.ErrorContains(t, err, "invalid JSON")
}

func TestMarshalRoundTripIsByteIdentical(t *testing.T) {
	t.Parallel()
	for _, path := range validFiles(t) {
		j := mustParseFile(t, path)
		first, err := flows.Marshal(j)
		require.NoError(t, err)
		j2, err := flows.Parse(first)
		require.NoError(t, err)
		second, err := flows.Marshal(j2)
		require.NoError(t, err)
		require.Equal(t, string(first), string(second), path)
		require.Equal(t, j, j2, path)
	}
}

func TestMarshalEscapesHTMLAndKeepsTitles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := mustParseFile(t, "testdata/welcome_series.json")
	j.Nodes[0].Title = `<script>alert("x")</script> & co`
	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))
	out, err := flows.Marshal(j)
	require.NoError(t, err)
	require.NotContains(t, string(out), "<script>")
	require.Contains(t, string(out), `\u003cscript\u003e`)
	back, err := flows.Parse(out)
	require.NoError(t, err)
	require.Equal(t, j.Nodes[0].Title, back.Nodes[0].Title)
}

func TestMarshalEmptyJourney(t *testing.T) {
	t.Parallel()
	out, err := flows.Marshal(&flows.Journey{Format: 1, Name: "x"})
	require.NoError(t, err)
	require.Equal(t, "{\n  \"format\": 1,\n  \"name\": \"x\",\n  \"settings\": {},\n  \"nodes\": [],\n  \"edges\": []\n}\n", string(out))
	_, err = flows.Marshal(nil)
	require.Error(t, err)
}

func TestDesignExampleIsValid(t *testing.T) {
	t.Parallel()
	// The example of "Journey format v1" in DESIGN.md.
	doc := `{
  "format": 1,
  "name": "Welcome series",
  "settings": { "reentry": "never", "timezone": "UTC" },
  "nodes": [
    { "id": "start", "kind": "trigger_webhook", "title": "Signed up", "position": {"x": 40, "y": 80},
      "config": { "profile_id": "event.body.user_id" } },
    { "id": "is_cn", "kind": "condition", "config": { "expr": "profile.country == \"CN\"" } },
    { "id": "hello", "kind": "send_email", "config": { "connector": "sandbox", "subject": "Hi {{ profile.first_name }}", "body": "…" } }
  ],
  "edges": [
    { "from": "start", "to": "is_cn" },
    { "from": "is_cn", "port": "yes", "to": "hello" }
  ]
}`
	j, err := flows.Parse([]byte(doc))
	require.NoError(t, err)
	require.Empty(t, flows.Validate(setup(t).reg, j, flows.ValidateOptions{}))
}
