// Package flows is the journey model: the JSON document (format v1), its
// parsing and canonical export, validation against the node registry,
// compilation for publishing, and diffs between versions. It is pure:
// no I/O, no HTTP, no storage.
//
// The life of a document:
//
//	j, err := flows.Parse(data)                    // syntax, shape, types: *ParseError
//	problems := flows.Validate(reg, j, opts)       // every semantic problem at once
//	c, problems := flows.Compile(reg, j, opts)     // at publish: what the engine walks
//	out, err := flows.Marshal(j)                   // canonical export
package flows

// Format is the journey document format version this package reads and
// writes.
const Format = 1

// Limits on a journey document.
const (
	MaxDocumentSize = 2 << 20 // bytes
	MaxNodes        = 2000
	MaxEdges        = 5000
	MaxTitleLength  = 256 // characters, for node titles and the journey name
	MaxNodeIDLength = 64
	// MaxProblems bounds the problems one validation reports.
	MaxProblems = 500
)

// SandboxConnector is the connector that always exists: the test inbox.
// It serves every action kind.
const SandboxConnector = "sandbox"

// Journey is a journey document, format v1.
type Journey struct {
	Format   int      `json:"format"`
	Name     string   `json:"name"`
	Settings Settings `json:"settings"`
	Nodes    []Node   `json:"nodes"`
	Edges    []Edge   `json:"edges"`
}

// Node is one step of a journey. Config holds the kind's fields as
// decoded from JSON (numbers are json.Number); see nodes.Spec.Normalize
// for the typed form.
type Node struct {
	ID       string         `json:"id"`
	Kind     string         `json:"kind"`
	Title    string         `json:"title,omitempty"`
	Position Position       `json:"position"`
	Config   map[string]any `json:"config,omitempty"`
}

// Position is a node's place on the canvas; it does not affect runs.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Edge connects a node's output port to another node. An empty Port
// means the node's only port.
type Edge struct {
	From string `json:"from"`
	Port string `json:"port,omitempty"`
	To   string `json:"to"`
}

// Settings are journey-wide rules. Every field is optional; the zero
// value means the default noted on each field. Values are kept as
// written; [Compile] resolves them into [CompiledSettings].
type Settings struct {
	// Reentry: never (default), after_exit (once the previous run has
	// ended) or always (runs may overlap).
	Reentry string `json:"reentry,omitempty"`
	// ReentryMinInterval: with after_exit or always, the least time
	// between two entries of one profile (duration, e.g. "30d").
	ReentryMinInterval string        `json:"reentry_min_interval,omitempty"`
	EntryLimit         *EntryLimit   `json:"entry_limit,omitempty"`
	EntryWindow        *EntryWindow  `json:"entry_window,omitempty"`
	ExitCriteria       *ExitCriteria `json:"exit_criteria,omitempty"`
	Goal               *Goal         `json:"goal,omitempty"`
	QuietHours         *QuietHours   `json:"quiet_hours,omitempty"`
	// FrequencyCap limits messages per profile and channel (email, sms,
	// webhook) across all journeys.
	FrequencyCap map[string]FrequencyCap `json:"frequency_cap,omitempty"`
	RateLimit    *RateLimit              `json:"rate_limit,omitempty"`
	// Timezone is the journey's IANA time zone, used where a profile has
	// none (default UTC).
	Timezone string `json:"timezone,omitempty"`
	// StepBudget bounds the steps one run may take (default 1000).
	StepBudget int `json:"step_budget,omitempty"`
	// Tracking: false turns off open and click tracking of the journey's
	// email (default on; docs/engagement.md).
	Tracking *bool `json:"tracking,omitempty"`
}

// EntryLimit caps entries; zero means unlimited.
type EntryLimit struct {
	PerProfile int `json:"per_profile,omitempty"`
	Total      int `json:"total,omitempty"`
}

// EntryWindow accepts entries only between Start and End (RFC 3339;
// either may be empty for an open end).
type EntryWindow struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// ExitCriteria end a run early: when the profile sends Event (matching
// Expr, if set), or, with Expr alone, when Expr is true before a step.
type ExitCriteria struct {
	Event string `json:"event,omitempty"`
	Expr  string `json:"expr,omitempty"`
}

// Goal is the journey's conversion goal: Event (matching Filter) within
// Window of entering (default: while the run lasts). ValueProperty names
// an event property holding the conversion's value.
type Goal struct {
	Event            string `json:"event"`
	Filter           string `json:"filter,omitempty"`
	Window           string `json:"window,omitempty"`
	ValueProperty    string `json:"value_property,omitempty"`
	ExitOnConversion bool   `json:"exit_on_conversion,omitempty"`
}

// QuietHours hold messages between Start and End ("HH:MM", profile's
// local time, may wrap midnight) until End.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// FrequencyCap allows at most Count messages per Period (day or week).
type FrequencyCap struct {
	Count  int    `json:"count"`
	Period string `json:"period"`
}

// RateLimit bounds how fast the journey's action steps (messages,
// webhooks, audience syncs) run, across all its runs: set one of the two.
type RateLimit struct {
	PerSecond int `json:"per_second,omitempty"`
	PerMinute int `json:"per_minute,omitempty"`
}
