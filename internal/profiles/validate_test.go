package profiles_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/profiles"
)

// Attribute values nest at most jsonlimit.MaxDepth levels with the
// attributes object, whoever writes them (the API also refuses deeper
// bodies before decoding them).
func TestValidateAttributeDepth(t *testing.T) {
	t.Parallel()
	value := func(levels int) any {
		var v any
		require.NoError(t, json.Unmarshal([]byte(strings.Repeat("[", levels)+strings.Repeat("]", levels)), &v))
		return v
	}
	in := profiles.Input{ExternalID: "p", Attributes: map[string]any{"ok": value(63), "deep": value(64), "deeper": value(5000), "flat": "x"}}
	problems := in.Validate("events[2].profile.")
	require.Equal(t, []profiles.Problem{
		{Field: "events[2].profile.attributes.deep", Message: "nested too deep: objects and arrays may nest at most 64 levels, the attributes object included"},
		{Field: "events[2].profile.attributes.deeper", Message: "nested too deep: objects and arrays may nest at most 64 levels, the attributes object included"},
	}, problems)
}
