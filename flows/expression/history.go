package expression

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
)

// Behaviour over time: the functions that read the profile's event
// history (docs/expressions.md, "Behaviour over time").
//
//	count("purchase")                      events of that name in the longest window
//	count("purchase", within("30d"))       … in the last 30 days
//	sum("purchase", "total", within("90d")) the sum of a numeric property
//	last("purchase")                       the latest such event (name, properties, occurred_at), or nil
//	first_seen, last_seen                  the profile's first and latest event time, or nil
//	in_segment("vip")                      whether the profile matches a saved segment
//
// The guard rewrites them into calls of hidden functions that take the
// evaluation's [Facts] and now as hidden last arguments. Event names,
// property names, segment names and windows must be string literals, so
// that validation can check them and every expression's cost is known
// before it runs.

// History limits.
const (
	// MaxHistoryWindow is the longest window within() accepts, and the
	// window of count and sum without one.
	MaxHistoryWindow = 400 * 24 * time.Hour
	// MaxHistoryRows bounds the events count and sum look at: count
	// gives at most this many, sum adds at most this many (the latest).
	MaxHistoryRows = 10000
	// MaxHistoryCalls bounds the history functions one expression may
	// call (first_seen and last_seen count as calls).
	MaxHistoryCalls = 16
	// maxHistoryName bounds an event or segment name literal.
	maxHistoryName = 200
	// maxPropertyName bounds sum's property name.
	maxPropertyName = 64
)

// factsName is the hidden identifier the guard passes to the history
// functions; expressions cannot name it.
const factsName = "__facts"

// ErrNoHistory is what the history functions fail with where no history
// is provided (an Env without Facts).
var ErrNoHistory = errors.New("event history is not available here")

// Facts answers an evaluation's questions about the profile's history.
// The engine, the simulator, test sends and previews each provide one
// bound to a profile; an Env without one makes the history functions
// fail with ErrNoHistory. Times are the evaluation's: until is its now,
// since is now minus the window. Implementations should memoise (the
// same call twice in one evaluation asks once) and bound their work.
type Facts interface {
	// CountEvents counts the profile's events of this name that occurred
	// in [since, until], counting at most limit.
	CountEvents(name string, since, until time.Time, limit int) (int, error)
	// SumEvents adds the numeric values of property over the latest limit
	// such events (values that are not numbers are skipped).
	SumEvents(name, property string, since, until time.Time, limit int) (float64, error)
	// LastEvent is the latest event of this name that occurred at or
	// before until; ok is false when there is none.
	LastEvent(name string, until time.Time) (ev Event, ok bool, err error)
	// FirstSeen and LastSeen are the times of the profile's first and
	// latest events (of any name) at or before until.
	FirstSeen(until time.Time) (time.Time, bool, error)
	LastSeen(until time.Time) (time.Time, bool, error)
	// InSegment reports whether the profile matches the saved segment.
	InSegment(name string) (bool, error)
}

// historyFunc describes how the guard rewrites one history function.
type historyFunc struct {
	hidden string // the hidden function called
	names  int    // leading string-literal arguments (event name, property)
	window bool   // takes an optional within(...) last
}

var historyFuncs = map[string]historyFunc{
	"count":      {hidden: "__count", names: 1, window: true},
	"sum":        {hidden: "__sum", names: 2, window: true},
	"in_segment": {hidden: "__in_segment", names: 1},
}

// historyValues are the identifiers that read history.
var historyValues = map[string]string{
	"first_seen": "__first_seen",
	"last_seen":  "__last_seen",
}

var (
	historyDoc = []Helper{
		{Name: "count", Doc: "count(\"purchase\", within(\"30d\")) — how many events of that name the profile had in the window (at most 10,000 counted; without within, the last 400 days)."},
		{Name: "sum", Doc: "sum(\"purchase\", \"total\", within(\"90d\")) — the sum of a numeric property over those events (the latest 10,000; non-numbers skipped)."},
		{Name: "last", Doc: "last(\"purchase\") — the latest event of that name (name, properties, occurred_at), or nil; last(list) is still a list's last element."},
		{Name: "within", Doc: "within(\"30d\") — a window for count and sum: a whole number and m, h, d or w, at most 400 days."},
		{Name: "in_segment", Doc: "in_segment(\"vip\") — whether the profile matches the saved segment of that name."},
	}
)

// historyOverrides take the names of expr's count and sum predicates,
// so that the parser makes plain calls of them; the guard rewrites
// every such call (or refuses it), so these never run.
var historyOverrides = []helper{
	{name: "count", fn: notRewritten("count"), types: []any{new(func(...any) int)}},
	{name: "sum", fn: notRewritten("sum"), types: []any{new(func(...any) float64)}},
}

func notRewritten(name string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) { return nil, fmt.Errorf("%s: internal error: call not checked", name) }
}

// hiddenHistory are the functions the guard calls in place of the
// history functions; expressions cannot name them.
var hiddenHistory = []helper{
	{name: "__count", fn: countFn, types: []any{new(func(string, time.Duration, Facts, time.Time) int)}},
	{name: "__sum", fn: sumFn, types: []any{new(func(string, string, time.Duration, Facts, time.Time) float64)}},
	{name: "__last", fn: lastFn, types: []any{new(func(string, Facts, time.Time) any)}},
	{name: "__first_seen", fn: seenFn(true), types: []any{new(func(Facts, time.Time) any)}},
	{name: "__last_seen", fn: seenFn(false), types: []any{new(func(Facts, time.Time) any)}},
	{name: "__in_segment", fn: inSegmentFn, types: []any{new(func(string, Facts) bool)}},
}

// HistoryFunctions documents the history functions (docs and the
// editor); first_seen and last_seen are values, documented with them.
func HistoryFunctions() []Helper { return append([]Helper(nil), historyDoc...) }

// ParseWindow parses a within() window: a whole number followed by m
// (minutes), h, d or w, greater than zero and at most MaxHistoryWindow.
func ParseWindow(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a window: write a whole number and m, h, d or w, e.g. \"30d\"", clip(s, 40))
	if len(s) < 2 || len(s) > 12 {
		return 0, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, bad
	}
	digits := s[:len(s)-1]
	if strings.TrimLeft(digits, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 {
		return 0, bad
	}
	if n > int(MaxHistoryWindow/unit) {
		return 0, fmt.Errorf("window %q is longer than %d days, the longest", s, int(MaxHistoryWindow/(24*time.Hour)))
	}
	return time.Duration(n) * unit, nil
}

// visitHistoryCall rewrites count, sum and in_segment calls; it reports
// whether n was one.
func (g *guard) visitHistoryCall(n *ast.CallNode, name string) bool {
	hf, ok := historyFuncs[name]
	if !ok {
		return false
	}
	args := n.Arguments
	maxArgs := hf.names
	if hf.window {
		maxArgs++
	}
	if len(args) < hf.names || len(args) > maxArgs {
		g.fail(n, "%s takes %s, not %d", name, argCounts(windowArities(hf)), len(args))
		return true
	}
	what := []string{"the event name", "the property name"}
	if name == "in_segment" {
		what[0] = "the segment name"
	}
	out := make([]ast.Node, 0, len(args)+3)
	for i := 0; i < hf.names; i++ {
		s, ok := args[i].(*ast.StringNode)
		if !ok {
			g.fail(args[i], "%s: %s must be a string literal, e.g. %s", name, what[i], example(name, i))
			return true
		}
		limit := maxHistoryName
		if i == 1 {
			limit = maxPropertyName
		}
		if msg := literalProblem(s.Value, limit, i == 1); msg != "" {
			g.fail(args[i], "%s: %s %s", name, what[i], msg)
			return true
		}
		out = append(out, s)
	}
	if hf.window {
		window := MaxHistoryWindow
		if len(args) > hf.names {
			w, ok := g.window(args[hf.names], name)
			if !ok {
				return true
			}
			window = w
		}
		c := &ast.ConstantNode{Value: window}
		c.SetLocation(n.Location())
		out = append(out, c)
	}
	out = append(out, g.factsIdent(n))
	if name != "in_segment" {
		out = append(out, nowIdent(n))
	}
	g.rewriteCall(n, hf.hidden, out)
	return true
}

// window checks a within("…") argument and returns its duration.
func (g *guard) window(arg ast.Node, fn string) (time.Duration, bool) {
	call, ok := arg.(*ast.CallNode)
	var id *ast.IdentifierNode
	if ok {
		id, ok = call.Callee.(*ast.IdentifierNode)
	}
	if !ok || id.Value != "within" {
		g.fail(arg, "%s: the window must be within(\"…\"), e.g. within(\"30d\")", fn)
		return 0, false
	}
	delete(g.withins, call)
	if len(call.Arguments) != 1 {
		g.fail(call, "within takes 1 argument, not %d", len(call.Arguments))
		return 0, false
	}
	s, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		g.fail(call.Arguments[0], "within: the window must be a string literal, e.g. within(\"30d\")")
		return 0, false
	}
	d, err := ParseWindow(s.Value)
	if err != nil {
		g.fail(call.Arguments[0], "within: %v", err)
		return 0, false
	}
	return d, true
}

// visitLast rewrites last("name") (a string literal) into the history
// lookup; last of anything else stays the builtin (a list's last
// element). It reports whether it rewrote n.
func (g *guard) visitLast(node *ast.Node, n *ast.BuiltinNode) bool {
	if n.Name != "last" || len(n.Arguments) != 1 {
		return false
	}
	s, ok := n.Arguments[0].(*ast.StringNode)
	if !ok {
		return false
	}
	if msg := literalProblem(s.Value, maxHistoryName, false); msg != "" {
		g.fail(s, "last: the event name %s", msg)
		return true
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "__last"}, Arguments: []ast.Node{s, g.factsIdent(n), nowIdent(n)}}
	call.Callee.SetLocation(n.Location())
	call.SetLocation(n.Location())
	g.counted(n)
	ast.Patch(node, call)
	return true
}

// visitHistoryValue rewrites first_seen and last_seen.
func (g *guard) visitHistoryValue(node *ast.Node, n *ast.IdentifierNode) bool {
	hidden, ok := historyValues[n.Value]
	if !ok {
		return false
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: hidden}, Arguments: []ast.Node{g.factsIdent(n), nowIdent(n)}}
	call.Callee.SetLocation(n.Location())
	call.SetLocation(n.Location())
	g.counted(n)
	ast.Patch(node, call)
	return true
}

func (g *guard) rewriteCall(n *ast.CallNode, hidden string, args []ast.Node) {
	g.counted(n)
	callee := &ast.IdentifierNode{Value: hidden}
	callee.SetLocation(n.Callee.Location())
	n.Callee = callee
	n.Arguments = args
	n.SetType(nil)
}

// counted counts one history call against MaxHistoryCalls.
func (g *guard) counted(at ast.Node) {
	g.history++
	if g.history == MaxHistoryCalls+1 {
		g.fail(at, "too many history lookups (count, sum, last, first_seen, last_seen, in_segment): at most %d in one expression", MaxHistoryCalls)
	}
}

// finish reports what only the whole tree shows: a within() that is not
// the window of count or sum.
func (g *guard) finish() {
	for call := range g.withins {
		g.fail(call, "within(…) can only be the last argument of count or sum, e.g. count(\"purchase\", within(\"30d\"))")
		return
	}
}

func (g *guard) factsIdent(at ast.Node) ast.Node {
	f := &ast.IdentifierNode{Value: factsName}
	f.SetLocation(at.Location())
	return f
}

func nowIdent(at ast.Node) ast.Node {
	n := &ast.IdentifierNode{Value: "now"}
	n.SetLocation(at.Location())
	return n
}

func windowArities(hf historyFunc) []int {
	if hf.window {
		return []int{hf.names, hf.names + 1}
	}
	return []int{hf.names}
}

func example(fn string, i int) string {
	switch {
	case fn == "in_segment":
		return `in_segment("vip")`
	case i == 1:
		return `sum("purchase", "total")`
	}
	return fn + `("purchase")`
}

// literalProblem says what is wrong with a name literal, or "".
// Property names are restricted to letters, digits, _ and -, so that
// every store can look them up in JSON.
func literalProblem(s string, limit int, property bool) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be empty"
	case len(s) > limit:
		return fmt.Sprintf("is too long (at most %d bytes)", limit)
	}
	if property {
		for _, c := range s {
			if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return fmt.Sprintf("%q may hold only letters, digits, _ and - (a top-level property)", s)
			}
		}
	}
	return ""
}

// Run-time functions. Arguments were checked at compile time; each
// takes the evaluation's Facts and now as hidden arguments.

func factsArg(v any) (Facts, error) {
	f, _ := v.(Facts)
	if f == nil {
		return nil, ErrNoHistory
	}
	return f, nil
}

func nowArg(v any) time.Time {
	t, _ := v.(time.Time)
	return t
}

func countFn(args ...any) (any, error) {
	name, _ := args[0].(string)
	d, _ := args[1].(time.Duration)
	f, err := factsArg(args[2])
	if err != nil {
		return nil, fmt.Errorf("count(%q): %w", clip(name, 40), err)
	}
	now := nowArg(args[3])
	n, err := f.CountEvents(name, now.Add(-d), now, MaxHistoryRows)
	if err != nil {
		return nil, fmt.Errorf("count(%q): %w", clip(name, 40), err)
	}
	return n, nil
}

func sumFn(args ...any) (any, error) {
	name, _ := args[0].(string)
	prop, _ := args[1].(string)
	d, _ := args[2].(time.Duration)
	f, err := factsArg(args[3])
	if err != nil {
		return nil, fmt.Errorf("sum(%q, %q): %w", clip(name, 40), prop, err)
	}
	now := nowArg(args[4])
	s, err := f.SumEvents(name, prop, now.Add(-d), now, MaxHistoryRows)
	if err != nil {
		return nil, fmt.Errorf("sum(%q, %q): %w", clip(name, 40), prop, err)
	}
	return s, nil
}

func lastFn(args ...any) (any, error) {
	name, _ := args[0].(string)
	f, err := factsArg(args[1])
	if err != nil {
		return nil, fmt.Errorf("last(%q): %w", clip(name, 40), err)
	}
	ev, ok, err := f.LastEvent(name, nowArg(args[2]))
	if err != nil {
		return nil, fmt.Errorf("last(%q): %w", clip(name, 40), err)
	}
	if !ok {
		return nil, nil
	}
	props := ev.Properties
	if props == nil {
		props = map[string]any{}
	}
	return map[string]any{"name": ev.Name, "properties": props, "occurred_at": ev.OccurredAt}, nil
}

func seenFn(first bool) func(args ...any) (any, error) {
	name, get := "last_seen", Facts.LastSeen
	if first {
		name, get = "first_seen", Facts.FirstSeen
	}
	return func(args ...any) (any, error) {
		f, err := factsArg(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		t, ok, err := get(f, nowArg(args[1]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !ok {
			return nil, nil
		}
		return t, nil
	}
}

func inSegmentFn(args ...any) (any, error) {
	name, _ := args[0].(string)
	f, err := factsArg(args[1])
	if err != nil {
		return nil, fmt.Errorf("in_segment(%q): %w", clip(name, 40), err)
	}
	ok, err := f.InSegment(name)
	if err != nil {
		return nil, fmt.Errorf("in_segment(%q): %w", clip(name, 40), err)
	}
	return ok, nil
}
