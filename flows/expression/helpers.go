package expression

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
)

// helper is a function expressions may call. Helpers are pure: time
// comes from the env's now, which the compiler passes as a hidden last
// argument to helpers marked withNow when it is not given.
type helper struct {
	name    string
	withNow bool
	metered bool  // builds strings or lists: takes the evaluation's *Meter as a hidden last argument
	arity   []int // for a variadic signature: the argument counts an expression may pass
	fn      func(args ...any) (any, error)
	types   []any
	doc     string
}

var helpers = []helper{
	{name: "days_since", withNow: true, fn: daysSince, types: []any{new(func(any, any) int)},
		doc: "days_since(t) — whole days from t (a time, an RFC 3339 or YYYY-MM-DD string, or Unix seconds) to now; days_since(t, ref) counts to ref."},
	{name: "hours_since", withNow: true, fn: hoursSince, types: []any{new(func(any, any) int)},
		doc: "hours_since(t) — whole hours from t to now; hours_since(t, ref) counts to ref."},
	{name: "lower", metered: true, fn: meteredCase("lower", strings.ToLower), types: []any{new(func(any, *Meter) string)},
		doc: "lower(s) — s in lower case; nil gives \"\"."},
	{name: "upper", metered: true, fn: meteredCase("upper", strings.ToUpper), types: []any{new(func(any, *Meter) string)},
		doc: "upper(s) — s in upper case; nil gives \"\"."},
	{name: "contains_any", fn: containsAny, types: []any{new(func(any, any) bool)},
		doc: "contains_any(x, list) — for a string x, whether it contains any of the strings in list; for a list x, whether any element equals an element of list."},
	{name: "in_timezone", fn: inTimezone, types: []any{new(func(any, string) time.Time)},
		doc: "in_timezone(t, \"Europe/Paris\") — t as a time in that IANA zone, e.g. in_timezone(now, profile.timezone ?? \"UTC\").Hour()."},
	{name: "has", fn: has, types: []any{new(func(any) bool)},
		doc: "has(x) — whether x is set: not nil and not \"\"."},
	{name: "default", fn: defaultValue, types: []any{new(func(any, any) any)},
		doc: "default(x, fallback) — x, or fallback when x is nil or \"\" (?? only replaces nil)."},
	{name: "to_time", fn: toTimeFn, types: []any{new(func(any) time.Time)},
		doc: "to_time(x) — a time from a time, an RFC 3339 or YYYY-MM-DD string, or Unix seconds."},
}

// builtinOverrides replace the expr builtins that build strings or
// lists with versions that charge the evaluation's budget. They are
// documented with the builtins (see AllowedBuiltins).
var builtinOverrides = []helper{
	{name: "split", metered: true, fn: meteredSplit, arity: []int{2, 3},
		types: []any{new(func(any, any, ...any) []string)}},
	{name: "join", metered: true, fn: meteredJoin, arity: []int{1, 2},
		types: []any{new(func(any, ...any) string)}},
	{name: "toJSON", metered: true, fn: meteredToJSON, types: []any{new(func(any, *Meter) string)}},
	{name: "string", metered: true, fn: meteredString, types: []any{new(func(any, *Meter) string)}},
}

// Hidden functions the guard puts in place of + when its operands are
// not both numbers or times; expressions cannot name them.
var hiddenHelpers = []helper{
	{name: "+s", metered: true, fn: meteredAdd, types: []any{new(func(string, string, *Meter) string)}},
	{name: "+", metered: true, fn: meteredAdd, types: []any{new(func(any, any, *Meter) any)}},
}

var helperByName = func() map[string]helper {
	m := make(map[string]helper, len(helpers)+len(builtinOverrides))
	for _, h := range helpers {
		m[h.name] = h
	}
	for _, h := range builtinOverrides {
		m[h.name] = h
	}
	return m
}()

// arities lists how many arguments an expression may pass to h (the
// hidden meter and now are not counted).
func (h helper) arities() []int {
	if h.arity != nil {
		return h.arity
	}
	var out []int
	for _, t := range h.types {
		n := reflect.TypeOf(t).Elem().NumIn()
		if h.metered {
			n--
		}
		out = append(out, n)
		if h.withNow {
			out = append(out, n-1)
		}
	}
	sort.Ints(out)
	return out
}

// Helper documents one helper function.
type Helper struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

// Helpers lists the helper functions, for docs and the editor.
func Helpers() []Helper {
	out := make([]Helper, len(helpers))
	for i, h := range helpers {
		out[i] = Helper{Name: h.name, Doc: h.doc}
	}
	return out
}

// AllowedBuiltins lists the expr builtins expressions may call.
func AllowedBuiltins() []string {
	out := make([]string, 0, len(allowedBuiltins))
	for k := range allowedBuiltins {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func helperOptions() []expr.Option {
	opts := make([]expr.Option, 0, len(helpers)+len(builtinOverrides)+len(hiddenHelpers))
	for _, list := range [][]helper{helpers, builtinOverrides, hiddenHelpers, historyOverrides, hiddenHistory} {
		for _, h := range list {
			opts = append(opts, expr.Function(h.name, h.fn, h.types...))
		}
	}
	return opts
}

// ToTime converts a time, an RFC 3339 string, a YYYY-MM-DD date (UTC
// midnight) or Unix seconds (a number) to a time.
func ToTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case *time.Time:
		if t != nil {
			return *t, nil
		}
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return tm, nil
		}
		if tm, err := time.Parse(time.DateOnly, t); err == nil {
			return tm, nil
		}
		return time.Time{}, fmt.Errorf("%q is not a time (use RFC 3339 or YYYY-MM-DD)", clip(t, 40))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			break
		}
		sec, frac := math.Modf(t)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	case int:
		return time.Unix(int64(t), 0).UTC(), nil
	case int64:
		return time.Unix(t, 0).UTC(), nil
	case nil:
		return time.Time{}, errors.New("no time (value is nil)")
	}
	return time.Time{}, fmt.Errorf("%T is not a time", v)
}

func since(args []any, unit time.Duration, name string) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("%s: want 1 or 2 arguments", name)
	}
	t, err := ToTime(args[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ref, err := ToTime(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: reference: %w", name, err)
	}
	d := ref.Sub(t)
	n := int(d / unit)
	if d < 0 && d%unit != 0 {
		n-- // floor
	}
	return n, nil
}

func daysSince(args ...any) (any, error)  { return since(args, 24*time.Hour, "days_since") }
func hoursSince(args ...any) (any, error) { return since(args, time.Hour, "hours_since") }

func toString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case nil:
		return "", true
	}
	return "", false
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	case nil:
		return nil, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, true
	}
	return nil, false
}

func containsAny(args ...any) (any, error) {
	cands, ok := asList(args[1])
	if !ok {
		return nil, fmt.Errorf("contains_any: second argument must be a list, got %T", args[1])
	}
	switch x := args[0].(type) {
	case nil:
		return false, nil
	case string:
		for _, c := range cands {
			if s, ok := c.(string); ok && s != "" && strings.Contains(x, s) {
				return true, nil
			}
		}
		return false, nil
	}
	items, ok := asList(args[0])
	if !ok {
		return nil, fmt.Errorf("contains_any: first argument must be a string or a list, got %T", args[0])
	}
	for _, it := range items {
		for _, c := range cands {
			if equal(it, c) {
				return true, nil
			}
		}
	}
	return false, nil
}

// equal compares scalars, treating all numbers alike.
func equal(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch a.(type) {
	case string, bool, nil:
		return a == b
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	}
	return 0, false
}

// locations caches loaded time zones; it memoises immutable data only.
var locations sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("unknown time zone %q", clip(name, 64))
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", clip(name, 64))
	}
	locations.Store(name, l)
	return l, nil
}

func inTimezone(args ...any) (any, error) {
	t, err := ToTime(args[0])
	if err != nil {
		return nil, fmt.Errorf("in_timezone: %w", err)
	}
	name, _ := args[1].(string)
	loc, err := loadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("in_timezone: %w", err)
	}
	return t.In(loc), nil
}

func isSet(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	}
	return true
}

func has(args ...any) (any, error) { return isSet(args[0]), nil }

func defaultValue(args ...any) (any, error) {
	if isSet(args[0]) {
		return args[0], nil
	}
	return args[1], nil
}

func toTimeFn(args ...any) (any, error) {
	t, err := ToTime(args[0])
	if err != nil {
		return nil, fmt.Errorf("to_time: %w", err)
	}
	return t, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
