// Package expression compiles and evaluates Waymark's expressions and
// templates, on top of github.com/expr-lang/expr, guarded against
// hostile input.
//
// Every expression is checked before it reaches expr's parser: at most
// [MaxLength] bytes, brackets and unary operators nested at most
// [MaxDepth] deep. It is then compiled against the typed [Env] with a
// node budget ([MaxNodes]) and a visitor that allows only the helper
// functions and a few pure builtins, and rejects let, the .. range
// operator, predicates (map, filter, reduce, all, …), sequences and
// $env. What is left runs in time linear in its input; what it builds
// is bounded: functions that build strings or lists charge a
// per-evaluation budget ([MaxEvalBytes]) before they allocate, + on
// strings included, and Check refuses expressions whose estimated
// output from ordinary inputs passes that budget (nested split/join).
//
// Compile at publish time ([Compile], ~tens of µs); evaluate per run
// ([Program.Eval], [Program.EvalBool], sub-µs). Templates are text with
// {{ expression }} placeholders ([ParseTemplate], [Template.Render]).
package expression

import (
	"strings"
	"time"
)

// Env is what an expression sees. Pass a pointer to Eval; build one per
// evaluation or reuse it (Eval does not retain or modify it).
//
//	profile   map: built-in fields and custom attributes (see [Profile])
//	event     the current event (the trigger's, or the awaited one in wait_event)
//	run       the run: id, entered_at, steps, entry (the entry event)
//	journey   id, name, version
//	now       the current time (from the engine's clock)
//	change    attribute, old, new: the change an attribute trigger
//	          (trigger_attribute) fired on; empty otherwise
//
// Values inside maps must be plain JSON-decoded Go values (string,
// float64, bool, nil, []any, map[string]any), or int, int64 and
// time.Time; json.Number is not supported.
type Env struct {
	Profile map[string]any `expr:"profile"`
	Event   Event          `expr:"event"`
	Run     Run            `expr:"run"`
	Journey Journey        `expr:"journey"`
	Now     time.Time      `expr:"now"`
	Change  Change         `expr:"change"`

	// Facts answers the history functions (count, sum, last(name),
	// first_seen, last_seen, in_segment); nil makes them fail with
	// ErrNoHistory. Expressions cannot name it.
	Facts Facts `expr:"__facts"`

	// Meter is set by Eval for the functions that build values; leave
	// it nil. Expressions cannot name it.
	Meter *Meter `expr:"__meter"`
}

// Event is an incoming event. An event entry fills Name, Properties and
// OccurredAt; a webhook entry fills Body (the parsed JSON body) and
// Headers (lower-case names, see [Headers]).
type Event struct {
	Name       string            `expr:"name"`
	Properties map[string]any    `expr:"properties"`
	Body       any               `expr:"body"`
	Headers    map[string]string `expr:"headers"`
	OccurredAt time.Time         `expr:"occurred_at"`
}

// Change is a change of one profile field or custom attribute, as an
// attribute trigger sees it: Old and New are nil when the value is absent
// (an empty built-in field, a missing attribute).
type Change struct {
	Attribute string `expr:"attribute"`
	Old       any    `expr:"old"`
	New       any    `expr:"new"`
}

// Run is the run the expression is evaluated for.
type Run struct {
	ID        string    `expr:"id"`
	EnteredAt time.Time `expr:"entered_at"`
	Steps     int       `expr:"steps"`
	Entry     Event     `expr:"entry"`
}

// Journey identifies the journey version being run.
type Journey struct {
	ID      string `expr:"id"`
	Name    string `expr:"name"`
	Version int    `expr:"version"`
}

// ProfileFields are a profile's built-in fields.
type ProfileFields struct {
	ExternalID, Email, Phone, Timezone, Locale string
}

// Profile builds the profile map expressions see: the custom attributes,
// then the built-in fields external_id, email, phone, timezone and
// locale, which win a name clash (an empty built-in is nil). attrs is
// not modified.
func Profile(f ProfileFields, attrs map[string]any) map[string]any {
	m := make(map[string]any, len(attrs)+5)
	for k, v := range attrs {
		m[k] = v
	}
	set := func(k, v string) {
		if v == "" {
			m[k] = nil
		} else {
			m[k] = v
		}
	}
	set("external_id", f.ExternalID)
	set("email", f.Email)
	set("phone", f.Phone)
	set("timezone", f.Timezone)
	set("locale", f.Locale)
	return m
}

// Headers converts HTTP-style headers to the event.headers form: names
// lower-cased, multiple values joined with ", ".
func Headers(h map[string][]string) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return m
}
