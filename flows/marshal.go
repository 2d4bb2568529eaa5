package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Marshal writes j in canonical form: fields in a fixed order, config
// keys sorted, two-space indentation, a final newline, and <, > and &
// escaped as \u003c… so the output can be embedded in HTML. Marshal of a
// document read by Parse is stable: export → import → export gives the
// same bytes.
func Marshal(j *Journey) ([]byte, error) {
	if j == nil {
		return nil, fmt.Errorf("marshalling journey: nil journey")
	}
	c := *j
	if c.Nodes == nil {
		c.Nodes = []Node{}
	}
	if c.Edges == nil {
		c.Edges = []Edge{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("marshalling journey: %w", err)
	}
	return buf.Bytes(), nil
}
