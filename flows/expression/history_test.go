package expression_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
)

// fakeFacts is a profile's history in memory, answering like the
// store: windows [since, until], at most limit rows, the latest first.
type fakeFacts struct {
	events   []expression.Event // any order
	segments map[string]bool
	calls    []string
}

func (f *fakeFacts) match(name string, since, until time.Time) []expression.Event {
	var out []expression.Event
	for _, e := range f.events {
		if e.Name == name && !e.OccurredAt.Before(since) && !e.OccurredAt.After(until) {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeFacts) CountEvents(name string, since, until time.Time, limit int) (int, error) {
	f.calls = append(f.calls, fmt.Sprintf("count %s %s", name, until.Sub(since)))
	return min(len(f.match(name, since, until)), limit), nil
}

func (f *fakeFacts) SumEvents(name, property string, since, until time.Time, limit int) (float64, error) {
	f.calls = append(f.calls, fmt.Sprintf("sum %s %s %s", name, property, until.Sub(since)))
	s := 0.0
	for i, e := range f.match(name, since, until) {
		if i >= limit {
			break
		}
		if v, ok := e.Properties[property].(float64); ok {
			s += v
		}
	}
	return s, nil
}

func (f *fakeFacts) LastEvent(name string, until time.Time) (expression.Event, bool, error) {
	f.calls = append(f.calls, "last "+name)
	var best expression.Event
	ok := false
	for _, e := range f.match(name, time.Time{}, until) {
		if !ok || e.OccurredAt.After(best.OccurredAt) {
			best, ok = e, true
		}
	}
	return best, ok, nil
}

func (f *fakeFacts) seen(until time.Time, first bool) (time.Time, bool, error) {
	var t time.Time
	ok := false
	for _, e := range f.events {
		if e.OccurredAt.After(until) {
			continue
		}
		if !ok || first && e.OccurredAt.Before(t) || !first && e.OccurredAt.After(t) {
			t, ok = e.OccurredAt, true
		}
	}
	return t, ok, nil
}

func (f *fakeFacts) FirstSeen(until time.Time) (time.Time, bool, error) {
	f.calls = append(f.calls, "first_seen")
	return f.seen(until, true)
}

func (f *fakeFacts) LastSeen(until time.Time) (time.Time, bool, error) {
	f.calls = append(f.calls, "last_seen")
	return f.seen(until, false)
}

func (f *fakeFacts) InSegment(name string) (bool, error) {
	f.calls = append(f.calls, "segment "+name)
	if f.segments == nil {
		return false, errors.New("saved segments are not available here")
	}
	return f.segments[name], nil
}

func historyEnv() (*expression.Env, *fakeFacts) {
	day := 24 * time.Hour
	f := &fakeFacts{
		events: []expression.Event{
			{Name: "purchase", Properties: map[string]any{"total": 20.0}, OccurredAt: now.Add(-2 * day)},
			{Name: "purchase", Properties: map[string]any{"total": 30.5}, OccurredAt: now.Add(-10 * day)},
			{Name: "purchase", Properties: map[string]any{"total": "n/a"}, OccurredAt: now.Add(-20 * day)},
			{Name: "purchase", Properties: map[string]any{"total": 100.0}, OccurredAt: now.Add(-60 * day)},
			{Name: "purchase", Properties: map[string]any{"total": 1000.0}, OccurredAt: now.Add(day)}, // after now: never seen
			{Name: "login", OccurredAt: now.Add(-500 * day)},
			{Name: "login", OccurredAt: now.Add(-time.Hour)},
		},
		segments: map[string]bool{"vip": true},
	}
	env := testEnv()
	env.Facts = f
	return env, f
}

func TestHistoryFunctions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"count in window", `count("purchase", within("30d"))`, 3},
		{"count week", `count("purchase", within("1w"))`, 1},
		{"count hours", `count("login", within("2h"))`, 1},
		{"count default window is 400 days", `count("login")`, 1},
		{"count condition", `count("purchase", within("30d")) >= 2`, true},
		{"count unknown event", `count("never")`, 0},
		{"sum skips non-numbers", `sum("purchase", "total", within("30d"))`, 50.5},
		{"sum wider", `sum("purchase", "total", within("90d"))`, 150.5},
		{"last", `last("purchase").properties.total`, 20.0},
		{"last name", `last("purchase").name`, "purchase"},
		{"last time", `days_since(last("purchase").occurred_at)`, 2},
		{"last none", `last("refund") == nil`, true},
		{"last none safe", `last("refund")?.properties?.total ?? 0`, 0},
		{"last of a list is the builtin", `last(["a", "b"])`, "b"},
		{"last of a value is the builtin", `last(profile.tags)`, "beta"},
		{"first_seen", `days_since(first_seen)`, 500},
		{"last_seen", `hours_since(last_seen)`, 1},
		{"in_segment", `in_segment("vip") && !in_segment("churned")`, true},
		{"pipe", `"purchase" | count(within("30d"))`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, _ := historyEnv()
			p, err := expression.Compile(tt.src, expression.Any)
			require.NoError(t, err)
			got, err := p.Eval(env)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, expression.Check(tt.src, expression.Any))
		})
	}
}

func TestHistoryWithoutFacts(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`count("purchase") > 0`, `sum("purchase", "total") > 0`, `last("purchase") == nil`,
		`first_seen == nil`, `last_seen == nil`, `in_segment("vip")`} {
		p, err := expression.Compile(src, expression.Bool)
		require.NoError(t, err, src)
		_, err = p.EvalBool(testEnv())
		require.ErrorIs(t, err, expression.ErrNoHistory, src)
		_, err = p.EvalBool(nil)
		require.ErrorIs(t, err, expression.ErrNoHistory, src)
	}
}

func TestHistoryNoProfileHistory(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env.Facts = &fakeFacts{}
	p, err := expression.Compile(`first_seen == nil && last_seen == nil && count("x") == 0 && sum("x", "y") == 0`, expression.Bool)
	require.NoError(t, err)
	ok, err := p.EvalBool(env)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestHistoryRejects(t *testing.T) {
	t.Parallel()
	tooMany := strings.Repeat(`count("a") + `, expression.MaxHistoryCalls) + `count("a")`
	tests := []struct {
		name, src, want string
	}{
		{"non-literal name", `count(profile.plan) > 1`, `line 1, column 15: count: the event name must be a string literal`},
		{"non-literal property", `sum("purchase", event.name)`, `line 1, column 23: sum: the property name must be a string literal`},
		{"bad property", `sum("purchase", "a.b")`, `may hold only letters, digits, _ and -`},
		{"empty name", `count("")`, `count: the event name must not be empty`},
		{"malformed window", `count("purchase", within("30x"))`, `line 1, column 26: within: "30x" is not a window`},
		{"zero window", `count("purchase", within("0d"))`, `is not a window`},
		{"window too long", `count("purchase", within("401d"))`, `longer than 400 days`},
		{"window too long in weeks", `count("purchase", within("58w"))`, `longer than 400 days`},
		{"non-literal window", `count("purchase", within(profile.plan))`, `within: the window must be a string literal`},
		{"window not within", `count("purchase", "30d")`, `count: the window must be within("…")`},
		{"within alone", `within("30d")`, `line 1, column 1: within(…) can only be the last argument of count or sum`},
		{"within elsewhere", `count("a", within("1d")) > 0 && within("2d") == 3`, `can only be the last argument`},
		{"count arity", `count()`, `count takes 1 or 2 arguments, not 0`},
		{"sum arity", `sum("a")`, `sum takes 2 or 3 arguments, not 1`},
		{"in_segment arity", `in_segment("a", "b")`, `in_segment takes 1 argument, not 2`},
		{"in_segment non-literal", `in_segment(profile.plan)`, `in_segment: the segment name must be a string literal`},
		{"count predicate", `count([1, 2], # > 1)`, ``},
		{"builtin count", `::count([1], # > 0)`, `not allowed`},
		{"first_seen call", `first_seen()`, `first_seen and last_seen are values`},
		{"hidden facts", `__facts`, `unknown name __facts`},
		{"hidden function", `__count("a", duration("1h"), nil, now)`, `unknown function __count`},
		{"too many lookups", tooMany, fmt.Sprintf("at most %d in one expression", expression.MaxHistoryCalls)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := expression.Compile(tt.src, expression.Any)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.Error(t, expression.Check(tt.src, expression.Any))
		})
	}
}

func TestHistoryCallsAtTheCap(t *testing.T) {
	t.Parallel()
	src := strings.Repeat(`count("a") + `, expression.MaxHistoryCalls-1) + `count("a")`
	p, err := expression.Compile(src, expression.Any)
	require.NoError(t, err)
	env, f := historyEnv()
	got, err := p.Eval(env)
	require.NoError(t, err)
	require.Equal(t, 0, got)
	require.Len(t, f.calls, expression.MaxHistoryCalls) // the fake does not memoise; the engine's Facts does
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "2w": 14 * 24 * time.Hour,
		"90m": 90 * time.Minute, "400d": expression.MaxHistoryWindow, "9600h": expression.MaxHistoryWindow} {
		got, err := expression.ParseWindow(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "d", "30", "30x", "-1d", "+1d", "1.5d", "0h", "401d", "9601h", "99999999999999d", " 1d"} {
		_, err := expression.ParseWindow(s)
		require.Error(t, err, s)
	}
}

func TestHistoryInTemplates(t *testing.T) {
	t.Parallel()
	env, _ := historyEnv()
	out, err := expression.Render(`You bought {{ count("purchase", within("30d")) }} times, last for {{ last("purchase").properties.total }}.`, env, false)
	require.NoError(t, err)
	require.Equal(t, "You bought 3 times, last for 20.", out)
	_, err = expression.ParseTemplate(`{{ count("purchase", within("30x")) }}`, expression.Text)
	require.ErrorContains(t, err, `"30x" is not a window`)
}

// BenchmarkHistoryCompile and BenchmarkHistoryEval measure what the
// history functions add to an expression, without a database (the
// engine's cost, with its store, is worker's BenchmarkHistoryCondition).
func BenchmarkHistoryCompile(b *testing.B) {
	for b.Loop() {
		if _, err := expression.Compile(`count("purchase", within("30d")) >= 2 && last("purchase").properties.total > 10`, expression.Bool); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHistoryEval(b *testing.B) {
	p, err := expression.Compile(`count("purchase", within("30d")) >= 2 && last("purchase").properties.total > 10`, expression.Bool)
	require.NoError(b, err)
	env, f := historyEnv()
	b.ReportAllocs()
	for b.Loop() {
		f.calls = f.calls[:0]
		if ok, err := p.EvalBool(env); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
