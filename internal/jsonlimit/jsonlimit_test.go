package jsonlimit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
)

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestCheckDepth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		doc   string
		limit int
		err   bool
	}{
		{"scalar", `"x"`, 0, false},
		{"flat object", `{"a": 1}`, 1, false},
		{"two levels against one", `{"a": [1]}`, 1, true},
		{"exactly the limit", nested(64), 64, false},
		{"one past the limit", nested(65), 64, true},
		{"siblings do not add up", `[[1], [2], {"a": 3}]`, 2, false},
		{"brackets inside strings do not count", `{"a": "[[[[{{{{"}`, 1, false},
		{"an escaped quote does not end the string", `{"a": "\"[[[["}`, 1, false},
		{"an escaped backslash does end it", `{"a": "\\", "b": [[1]]}`, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := jsonlimit.CheckDepth([]byte(tc.doc), tc.limit)
			if !tc.err {
				require.NoError(t, err)
				return
			}
			var de *jsonlimit.DepthError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.limit, de.Limit)
			require.Contains(t, err.Error(), "deeper than")
		})
	}
	err := jsonlimit.CheckDepth([]byte(`{"x": `+nested(100)+`}`), jsonlimit.MaxDepth)
	var de *jsonlimit.DepthError
	require.ErrorAs(t, err, &de)
	require.Equal(t, 6+63, de.Offset, "the bracket that opened level 65")
}

func TestExceeds(t *testing.T) {
	t.Parallel()
	var v any
	require.NoError(t, json.Unmarshal([]byte(`{"a": [{"b": 1}]}`), &v))
	require.False(t, jsonlimit.Exceeds(v, 3))
	require.True(t, jsonlimit.Exceeds(v, 2))
	require.False(t, jsonlimit.Exceeds("text", 0))
	require.NoError(t, json.Unmarshal([]byte(nested(5000)), &v))
	require.True(t, jsonlimit.Exceeds(v, jsonlimit.MaxDepth))
	require.False(t, jsonlimit.Exceeds(v, 5000))
}

// Pretty writes what json.Indent writes, as long as the value is shallow.
func TestPrettyMatchesIndent(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{}`, `[]`, `"x"`, `12.5`, `{"a":1,"b":[1,2,{"c":null}],"d":{},"e":[],"f":"x, y: [z]"}`,
		`{ "spaced" : [ 1 , 2 ] , "esc": "a\"b\\" }`, `[[[[{"deep":true}]]]]`,
	} {
		var want bytes.Buffer
		require.NoError(t, json.Indent(&want, []byte(doc), "", "  "))
		require.Equal(t, want.String(), jsonlimit.Pretty([]byte(doc), 1<<20), doc)
	}
}

func TestPrettyIsBounded(t *testing.T) {
	t.Parallel()
	// The review's body: 9,990 levels in 20 KB. Indented in full it would
	// be ~200 MB; here it is linear, and cut with a visible marker.
	doc := []byte(`{"user_id":"deep","x":[` + nested(9990) + `]}`)
	out := jsonlimit.Pretty(doc, 1<<20)
	require.Less(t, len(out), 2*len(doc), "deep levels stay compact")
	require.NotContains(t, out, jsonlimit.TruncatedMarker)
	require.Contains(t, out, "\n  \"user_id\": \"deep\",")
	require.Contains(t, out, strings.Repeat("[", 9990-jsonlimit.IndentLevels+1))

	out = jsonlimit.Pretty(doc, 4<<10)
	require.LessOrEqual(t, len(out), 4<<10+200)
	require.Contains(t, out, jsonlimit.TruncatedMarker+" the first 4 KB are shown; the value is 19 KB)")

	// A long string is cut on a character boundary.
	s := strings.Repeat("é", 3000)
	out = jsonlimit.Clip(s, 1001, 0)
	require.True(t, strings.HasPrefix(out, strings.Repeat("é", 500)+"\n"), "no broken character")
	require.Equal(t, "short", jsonlimit.Clip("short", 10, 0))
}

func FuzzPretty(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"c"}]}`, `[]`, nested(40), `{"k":"\"}]"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := jsonlimit.Pretty(data, 1<<16)
		if len(out) > 1<<16+200 {
			t.Fatalf("output %d bytes", len(out))
		}
		if !json.Valid(data) || jsonlimit.CheckDepth(data, jsonlimit.IndentLevels) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, data, "", "  "); err != nil {
			t.Fatal(err)
		}
		w := strings.TrimRight(want.String(), " \t\r\n") // json.Indent keeps trailing space
		if len(w) <= 1<<16 && out != w {
			t.Fatalf("Pretty(%q) = %q, json.Indent gives %q", data, out, w)
		}
	})
}

func TestCheckNUL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		at   int // -1: none
	}{
		{"none", `{"a": "b"}`, -1},
		{"escape", `{"a": "x\u0000"}`, 8},
		{"escaped backslash is not an escape", `{"a": "x\\u0000"}`, -1},
		{"three backslashes are", `{"a": "\\\u0000"}`, 9},
		{"plain text u0000", `{"u0000": 1}`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := jsonlimit.CheckNUL([]byte(tt.in))
			if tt.at < 0 {
				require.NoError(t, err)
				return
			}
			var ne *jsonlimit.NULError
			require.ErrorAs(t, err, &ne)
			require.Equal(t, tt.at, ne.Offset)
		})
	}
}
