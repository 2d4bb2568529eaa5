package expression_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
)

var now = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func testEnv() *expression.Env {
	return &expression.Env{
		Profile: expression.Profile(
			expression.ProfileFields{ExternalID: "u1", Email: "ann@example.com", Timezone: "Europe/Paris"},
			map[string]any{
				"first_name": "Ann", "age": 34.0, "country": "FR", "plan": "pro", "tags": []any{"vip", "beta"},
				"signed_up_at": "2026-03-01T08:00:00Z", "birthday": "1990-05-17", "email": "shadowed@example.com",
			}),
		Event: expression.Event{Name: "order_completed", Properties: map[string]any{"total": 120.5, "cart_id": "c1"},
			Body: map[string]any{"user_id": "u1"}, Headers: map[string]string{"x-source": "shop"}},
		Run: expression.Run{ID: "r1", EnteredAt: now.Add(-26 * time.Hour), Steps: 3,
			Entry: expression.Event{Name: "cart_abandoned", Properties: map[string]any{"cart_id": "c1"}}},
		Journey: expression.Journey{ID: "j1", Name: "Cart", Version: 2},
		Now:     now,
	}
}

func TestCompileAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		kind expression.Kind
		want any
	}{
		{"comparison", `profile.age >= 18 && profile.country in ["FR", "DE"]`, expression.Bool, true},
		{"built-ins win", `profile.email`, expression.Any, "ann@example.com"},
		{"missing attribute is nil", `profile.nope == nil`, expression.Bool, true},
		{"nil coalescing", `profile.nope ?? "there"`, expression.Any, "there"},
		{"event properties", `event.properties.total > 100`, expression.Bool, true},
		{"webhook body", `event.body.user_id`, expression.Any, "u1"},
		{"headers", `event.headers["x-source"]`, expression.Any, "shop"},
		{"entry correlation", `event.properties.cart_id == run.entry.properties.cart_id`, expression.Bool, true},
		{"run fields", `run.steps == 3 && run.id == "r1"`, expression.Bool, true},
		{"journey fields", `journey.version`, expression.Any, 2},
		{"days_since", `days_since(profile.signed_up_at)`, expression.Any, 14},
		{"days_since with ref", `days_since(profile.signed_up_at, run.entered_at)`, expression.Any, 13},
		{"hours_since time", `hours_since(run.entered_at)`, expression.Any, 26},
		{"lower nil", `lower(profile.nope)`, expression.Any, ""},
		{"upper", `upper(profile.first_name)`, expression.Any, "ANN"},
		{"contains_any list", `contains_any(profile.tags, ["vip", "gold"])`, expression.Bool, true},
		{"contains_any string", `contains_any("/docs/intro", ["/docs", "/guides"])`, expression.Bool, true},
		{"in_timezone", `in_timezone(now, profile.timezone).Hour()`, expression.Any, 13},
		{"has", `has(profile.first_name) && !has(profile.nope)`, expression.Bool, true},
		{"default", `default("", "x")`, expression.Any, "x"},
		{"allowed builtin", `len(profile.tags) == 2 && hasPrefix(profile.plan, "p")`, expression.Bool, true},
		{"time arithmetic", `now - run.entered_at > duration("24h")`, expression.Bool, true},
		{"ternary", `profile.age > 30 ? "senior" : "junior"`, expression.Any, "senior"},
		{"multi-line", "profile.age > 30\n  && profile.plan == \"pro\"", expression.Bool, true},
	}
	env := testEnv()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := expression.Compile(tt.src, tt.kind)
			require.NoError(t, err)
			require.NoError(t, expression.Check(tt.src, tt.kind))
			got, err := p.Eval(env)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		kind expression.Kind
		want string // substring of the error
	}{
		{"empty", "  ", expression.Any, "empty expression"},
		{"syntax", "profile.age >=", expression.Bool, "line 1, column 14: unexpected token EOF"},
		{"syntax line 2", "profile.age > 1 &&\n  (", expression.Bool, "line 2, column"},
		{"not boolean", "1 + 2", expression.Bool, "must give true or false, but gives int"},
		{"unknown variable", "profle.age", expression.Any, "line 1, column 1: unknown name profle"},
		{"unknown event field", "event.propertiez", expression.Any, "has no field propertiez"},
		{"map over range", "len(map(1..100000000, # * 2))", expression.Any, "the range operator .. is not allowed"},
		{"range", "1..3", expression.Any, "the range operator .. is not allowed"},
		{"predicate", "any(profile.tags, # == \"vip\")", expression.Bool, "not allowed"},
		{"filter", "filter(profile.tags, true)", expression.Any, "not allowed"},
		{"reduce", `reduce(profile.tags, #acc + #acc, "x")`, expression.Any, "not allowed"},
		{"let", "let x = 1; x", expression.Any, "let is not allowed"},
		{"sequence", "1; 2", expression.Any, "not allowed"},
		{"env", "$env.profile", expression.Any, "$env is not allowed"},
		{"repeat", `repeat("x", 1000000000)`, expression.Any, "function repeat is not allowed"},
		{"now call", "now() > run.entered_at", expression.Bool, "write now instead of now()"},
		{"unknown function", "explode()", expression.Any, "unknown function explode"},
		{"too long", strings.Repeat("a", expression.MaxLength+1), expression.Any, "expression too long (4097 bytes, at most 4096)"},
		{"20000 terms", strings.Repeat("1 + ", 20000) + "1", expression.Any, "expression too long"},
		{"1 MB parens", strings.Repeat("(", 1<<20) + "1" + strings.Repeat(")", 1<<20), expression.Any, "expression too long"},
		{"deep parens", strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), expression.Any, "line 1, column 65: nested too deeply"},
		{"deep brackets", strings.Repeat("[", 100) + strings.Repeat("]", 100), expression.Any, "nested too deeply"},
		{"unary chain", strings.Repeat("!", 100) + "true", expression.Bool, "too many unary operators"},
		{"minus chain", strings.Repeat("- ", 100) + "1", expression.Any, "too many unary operators"},
		{"not chain", strings.Repeat("not ", 100) + "true", expression.Bool, "too many unary operators"},
		{"many nodes", strings.Repeat("1 + ", 400) + "1", expression.Any, "exceeds maximum allowed nodes"},
		{"unterminated string", `"abc`, expression.Any, "unterminated string"},
		{"invalid utf8", "\"\xff\"", expression.Any, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := expression.Compile(tt.src, tt.kind)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			var e *expression.Error
			require.True(t, errors.As(err, &e), "error is %T", err)
			err = expression.Check(tt.src, tt.kind)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParensInsideStringsAreNotNesting(t *testing.T) {
	t.Parallel()
	src := `profile.first_name != "` + strings.Repeat("(", 200) + `"`
	_, err := expression.Compile(src, expression.Bool)
	require.NoError(t, err)
}

func TestEvalErrorsDoNotPanic(t *testing.T) {
	t.Parallel()
	env := testEnv()
	for _, src := range []string{
		`profile.first_name > 3`,
		`profile.nope.deeper == 1`,
		`days_since(profile.nope) > 1`,
		`days_since(profile.first_name) > 1`,
		`in_timezone(now, "Nowhere/Land").Hour() > 1`,
		`profile.age % 0 == 1`,
		`contains_any(profile.age, profile.tags)`,
		`int(profile.first_name) > 0`,
	} {
		p, err := expression.Compile(src, expression.Bool)
		require.NoError(t, err, src)
		require.NotPanics(t, func() {
			_, err = p.EvalBool(env)
		})
		require.Error(t, err, src)
	}
	p, err := expression.Compile(`profile.age`, expression.Any)
	require.NoError(t, err)
	_, err = p.EvalBool(env)
	require.ErrorContains(t, err, "want true or false")
	v, err := p.Eval(nil)
	require.NoError(t, err)
	require.Nil(t, v)
}

func TestProgramIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	p, err := expression.Compile(`profile.age >= 18 && profile.country == "FR"`, expression.Bool)
	require.NoError(t, err)
	env := testEnv()
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 1000 {
				if ok, err := p.EvalBool(env); err != nil || !ok {
					done <- errors.New("wrong result")
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}

func TestToTime(t *testing.T) {
	t.Parallel()
	for _, v := range []any{"2026-01-02T03:04:05Z", "2026-01-02", 1767225600.0, now, int64(1767225600)} {
		_, err := expression.ToTime(v)
		require.NoError(t, err, v)
	}
	for _, v := range []any{nil, "yesterday", true} {
		_, err := expression.ToTime(v)
		require.Error(t, err, v)
	}
}

func TestHelpersAndBuiltinsAreListed(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, h := range expression.Helpers() {
		names[h.Name] = true
		require.NotEmpty(t, h.Doc)
	}
	for _, n := range []string{"days_since", "hours_since", "lower", "upper", "contains_any", "in_timezone", "has", "default"} {
		require.True(t, names[n], n)
	}
	require.Contains(t, expression.AllowedBuiltins(), "len")
	require.NotContains(t, expression.AllowedBuiltins(), "map")
}
