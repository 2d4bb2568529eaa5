package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/ui/views"
)

// TestSampleExpressions: every value of a captured body gets an
// expression that compiles and reads exactly that value, whatever its key
// (operators, dashes, spaces, quotes, backslashes, control characters,
// non-ASCII, empty, digits first), in objects and arrays.
func TestSampleExpressions(t *testing.T) {
	t.Parallel()
	body := `{"user": {"id": "u1", "first-name": "Ada", "in": 1, "not": 2, "and": 3, "matches": 4, "true": 5, "nil": 6},
		"items": [{"sku": "a"}, {"sku": "b", "tags": ["x", "y"]}], "a b": true, "quo\"te": "q", "back\\slash": "b",
		"tab\there": "t", "line\nbreak": "l", "ctl\u0001": "c", "ünï": "u", "": "empty", "0abc": 0, "__meter": "m",
		"_ok": null, "n": 1.5e3, "nested": {"deep": {"er": [[1, 2], {"k": "v"}]}}}`
	var parsed any
	require.NoError(t, json.Unmarshal([]byte(body), &parsed))
	root, err := sampleTree([]byte(body))
	require.NoError(t, err)
	require.Equal(t, "event.body", root.Expr)
	require.Equal(t, []string{"user", "items", "a b"}, []string{root.Children[0].Key, root.Children[1].Key, root.Children[2].Key}, "keys in the order sent")

	env := &expression.Env{Event: expression.Event{Body: parsed}}
	seen := 0
	var walk func(n views.SampleNode)
	walk = func(n views.SampleNode) {
		seen++
		prog, err := expression.Compile(n.Expr, expression.Any)
		require.NoError(t, err, "%s", n.Expr)
		got, err := prog.Eval(env)
		require.NoError(t, err, "%s", n.Expr)
		if n.Leaf() {
			want, err := json.Marshal(got)
			require.NoError(t, err)
			if n.Kind == "number" {
				require.JSONEq(t, n.Value, string(want), "%s", n.Expr)
			} else {
				require.Equal(t, n.Value, string(want), "%s reads its own value", n.Expr)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(*root)
	require.Equal(t, 38, seen)

	for expr, want := range map[string]string{
		"user id":    `event.body.user.id`,
		"dash":       `event.body.user["first-name"]`,
		"operator":   `event.body.user["in"]`,
		"array":      `event.body.items[1].tags[0]`,
		"quote":      `event.body["quo\"te"]`,
		"backslash":  `event.body["back\\slash"]`,
		"control":    `event.body["ctl\u0001"]`,
		"empty":      `event.body[""]`,
		"digits":     `event.body["0abc"]`,
		"underscore": `event.body._ok`,
	} {
		require.Contains(t, exprsOf(*root), want, expr)
	}
}

func exprsOf(n views.SampleNode) []string {
	out := []string{n.Expr}
	for _, c := range n.Children {
		out = append(out, exprsOf(c)...)
	}
	return out
}

func TestSampleTreeBounds(t *testing.T) {
	t.Parallel()
	_, err := sampleTree([]byte(`{"a": 1`))
	require.Error(t, err)
	_, err = sampleTree([]byte(`{"a": 1} {"b": 2}`))
	require.Error(t, err, "one JSON value")
	_, err = sampleTree([]byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)))
	require.Error(t, err, "nesting beyond the JSON limit")

	items := make([]string, 500)
	for i := range items {
		items[i] = `{"i": 1}`
	}
	root, err := sampleTree([]byte(`{"list": [` + strings.Join(items, ",") + `], "after": "x"}`))
	require.NoError(t, err)
	list := root.Children[0]
	require.Len(t, list.Children, maxSampleChildren)
	require.Equal(t, 500, len(list.Children)+list.More, "the items left out are counted")
	require.Equal(t, "[500]", list.Summary())
	require.Len(t, root.Children, 2, "what follows a long list is shown")

	// At most maxSampleNodes values in all.
	wide := make([]string, 90)
	for i := range wide {
		wide[i] = `"k` + strings.Repeat("x", i) + `": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}`
	}
	root, err = sampleTree([]byte(`{` + strings.Join(wide, ",") + `}`))
	require.NoError(t, err)
	shown := len(exprsOf(*root))
	require.LessOrEqual(t, shown, maxSampleNodes+1)
	require.Equal(t, 90, len(root.Children)+root.More, "every key is shown or counted")
	for _, c := range root.Children {
		require.Equal(t, 5, len(c.Children)+c.More, "every key is shown or counted")
	}
	require.Positive(t, root.More)

	long := strings.Repeat("é", 1000)
	root, err = sampleTree([]byte(`{"s": "` + long + `"}`))
	require.NoError(t, err)
	require.Less(t, len([]rune(root.Children[0].Value)), 210)
}

func TestExampleBody(t *testing.T) {
	t.Parallel()
	require.JSONEq(t, `{"user": {"id": "u_1042", "email": "ada@example.com"}}`,
		exampleBody(map[string]string{"profile_id": "event.body.user.id", "email": " event.body.user.email "}))
	require.JSONEq(t, `{"user_id": "u_1042", "phone": "+447700900123"}`,
		exampleBody(map[string]string{"profile_id": "event.body.user_id", "email": `lower(event.body.email)`, "phone": "event.body.phone"}))
	require.JSONEq(t, `{"user_id": "u_1042", "email": "ada@example.com"}`, exampleBody(map[string]string{}), "no plain path: the placeholders' shape")
	require.JSONEq(t, `{"user": "u_1042"}`, exampleBody(map[string]string{"profile_id": "event.body.user", "email": "event.body.user.email"}),
		"a path through a value is left out")
	require.Equal(t, `'it'\''s'`, shellQuote("it's"))
}
