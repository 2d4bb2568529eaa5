package builtin

import (
	"fmt"
	"strings"

	"github.com/waymarkhq/waymark/nodes"
)

// flowKinds route, wait or end a run.
func flowKinds() []nodes.Spec {
	return []nodes.Spec{
		{
			Kind: "condition", Title: "Condition", Category: nodes.Flow, Instant: true,
			Help: "Continues on yes when the condition is true, on no otherwise.",
			Fields: []nodes.Field{
				{Name: "expr", Title: "Condition", Type: nodes.Condition, Required: true,
					Help: "Boolean expression, e.g. profile.country == \"FR\" && event.properties.total > 100."},
			},
			Ports: []nodes.Port{
				{Name: "yes", Title: "Yes", IfUnconnected: nodes.Complete},
				{Name: "no", Title: "No", IfUnconnected: nodes.Complete},
			},
			Example: map[string]any{"expr": "profile.country == \"FR\""},
		},
		{
			Kind: "switch", Title: "Switch", Category: nodes.Flow, Instant: true,
			Help: "Continues on the first case whose condition is true, or on default.",
			Fields: []nodes.Field{
				{Name: "cases", Title: "Cases", Type: nodes.List, Required: true, Min: nodes.Bound(1), Max: nodes.Bound(20),
					Help: "Checked in order; each case is an output port named after it.",
					Items: []nodes.Field{
						{Name: "name", Title: "Port name", Type: nodes.String, Required: true, MaxLength: 32,
							Help: "a-z, 0-9, _ and -; not \"default\"."},
						{Name: "expr", Title: "Condition", Type: nodes.Condition, Required: true},
					}},
			},
			DynamicPorts: &nodes.DynamicPorts{Field: "cases", NameKey: "name", IfUnconnected: nodes.Complete},
			Ports:        []nodes.Port{{Name: "default", Title: "Default", IfUnconnected: nodes.Complete, Help: "Taken when no case matches."}},
			Example: map[string]any{"cases": []any{
				map[string]any{"name": "gold", "expr": "profile.tier == \"gold\""},
				map[string]any{"name": "silver", "expr": "profile.tier == \"silver\""},
			}},
			Check: func(cfg nodes.Config) []nodes.FieldError {
				return checkPortNames(cfg.List("cases"), "cases", "default")
			},
		},
		{
			Kind: "split", Title: "Split", Category: nodes.Flow, Instant: true,
			Help: "Sends each run down one variant at random, by weight; the choice is made once per run. " +
				"Weights and holdout are percentages that add up to 100.",
			Fields: []nodes.Field{
				{Name: "variants", Title: "Variants", Type: nodes.List, Required: true, Min: nodes.Bound(1), Max: nodes.Bound(10),
					Help: "Each variant is an output port named after it.",
					Items: []nodes.Field{
						{Name: "name", Title: "Port name", Type: nodes.String, Required: true, MaxLength: 32,
							Help: "a-z, 0-9, _ and -; not \"holdout\"."},
						{Name: "weight", Title: "Weight %", Type: nodes.Integer, Required: true, Min: nodes.Bound(0), Max: nodes.Bound(100)},
					}},
				{Name: "holdout", Title: "Holdout %", Type: nodes.Integer, Default: int64(0), Min: nodes.Bound(0), Max: nodes.Bound(100),
					Help: "Share of runs held out as a control group; they leave through the holdout port."},
				{Name: "strategy", Title: "Strategy", Type: nodes.Enum, Enum: []string{"random", "bandit"}, Default: "random",
					Help: "How runs are assigned: random (by weight, sticky per run) or bandit (self-optimising: traffic shifts " +
						"towards the variant that converts best on the journey's goal; weights are ignored, the holdout stays exact)."},
				{Name: "min_share", Title: "Minimum share %", Type: nodes.Integer, Default: int64(10), Min: nodes.Bound(0), Max: nodes.Bound(50),
					When: &nodes.When{Field: "strategy", Values: []string{"bandit"}},
					Help: "Bandit only: each variant keeps at least this percentage of the non-holdout traffic, so a losing variant keeps being measured."},
			},
			DynamicPorts: &nodes.DynamicPorts{Field: "variants", NameKey: "name", IfUnconnected: nodes.Complete},
			Ports: []nodes.Port{{Name: "holdout", Title: "Holdout", IfUnconnected: nodes.Complete, EnabledBy: "holdout",
				Help: "Exists when holdout > 0. Usually left unconnected: held-out runs complete here."}},
			Example: map[string]any{"variants": []any{
				map[string]any{"name": "a", "weight": 45},
				map[string]any{"name": "b", "weight": 45},
			}, "holdout": 10},
			// A new split is an A/B test at 50/50, as Braze's and
			// Customer.io's start.
			Starter: map[string]any{"variants": []any{
				map[string]any{"name": "a", "weight": 50},
				map[string]any{"name": "b", "weight": 50},
			}},
			Check: func(cfg nodes.Config) []nodes.FieldError {
				vs := cfg.List("variants")
				errs := checkPortNames(vs, "variants", "holdout")
				if cfg.String("strategy") == "bandit" {
					if cfg.Int("holdout") >= 100 {
						errs = append(errs, nodes.FieldError{Field: "holdout", Message: "must leave some traffic to the variants (below 100)"})
					}
					if ms := cfg.Int("min_share"); ms*int64(len(vs)) > 100 {
						errs = append(errs, nodes.FieldError{Field: "min_share",
							Message: fmt.Sprintf("%d%% for each of %d variants is more than 100%%", ms, len(vs))})
					}
					return errs
				}
				sum := cfg.Int("holdout")
				for _, v := range vs {
					sum += v.Int("weight")
				}
				if sum != 100 {
					errs = append(errs, nodes.FieldError{Field: "variants",
						Message: fmt.Sprintf("weights plus holdout must add up to 100, got %d", sum)})
				}
				return errs
			},
		},
		{
			Kind: "delay", Title: "Delay", Category: nodes.Flow, Waits: true,
			Help: "Waits for a duration, until a local time of day (optionally on given weekdays), or until a date taken from the profile.",
			Fields: []nodes.Field{
				{Name: "mode", Title: "Wait", Type: nodes.Enum, Enum: []string{"duration", "until_time", "until_date", "best_time"}, Default: "duration",
					Help: "duration: a fixed time; until_time: the next matching local time of day; until_date: a date from an expression; " +
						"best_time: the profile's most likely engagement hour within a window."},
				{Name: "duration", Title: "Duration", Type: nodes.Duration, Required: true, Max: days(730),
					When: &nodes.When{Field: "mode", Values: []string{"duration"}},
					Help: "How long to wait, more than 0 and at most 2 years, e.g. 30m, 2h, 3d, 1w."},
				{Name: "time", Title: "Time of day", Type: nodes.TimeOfDay,
					When: &nodes.When{Field: "mode", Values: []string{"until_time", "until_date"}},
					Help: "Local time HH:MM. Required for until_time; for until_date, the time on that date (default 00:00)."},
				{Name: "weekdays", Title: "Weekdays", Type: nodes.Weekdays,
					When: &nodes.When{Field: "mode", Values: []string{"until_time"}},
					Help: "Only on these days (mon…sun); default any day."},
				{Name: "timezone", Title: "Time zone", Type: nodes.Timezone,
					When: &nodes.When{Field: "mode", Values: []string{"until_time", "until_date"}},
					Help: "Fixed IANA time zone; default: the profile's time zone, else the journey's."},
				{Name: "date", Title: "Date", Type: nodes.Expression, Required: true,
					When: &nodes.When{Field: "mode", Values: []string{"until_date"}},
					Help: "Expression giving a date or time (RFC 3339 or YYYY-MM-DD string, or a time), e.g. profile.birthday. " +
						"If the resulting moment has passed (or the value is missing), the run continues at once.", Placeholder: "profile.birthday"},
				{Name: "offset", Title: "Offset", Type: nodes.Duration, Min: days(-730), Max: days(730),
					When: &nodes.When{Field: "mode", Values: []string{"until_date"}},
					Help: "Shift from the date, e.g. -3d for three days before."},
				{Name: "window", Title: "Within", Type: nodes.Duration, Default: "24h", Min: seconds(3600), Max: days(7),
					When: &nodes.When{Field: "mode", Values: []string{"best_time"}},
					Help: "best_time: the longest the run waits for the best hour, 1h to 7d, e.g. 24h."},
				{Name: "default_hour", Title: "Default hour", Type: nodes.Integer, Default: int64(10), Min: nodes.Bound(0), Max: nodes.Bound(23),
					When: &nodes.When{Field: "mode", Values: []string{"best_time"}},
					Help: "best_time: the local hour (0-23) used when neither the profile nor the journey's entrants have enough engagement history."},
				{Name: "events", Title: "Engagement events", Type: nodes.String, MaxLength: 512,
					When:        &nodes.When{Field: "mode", Values: []string{"best_time"}},
					Placeholder: "email_opened, email_clicked, purchase",
					Help:        "best_time: comma-separated event names that count as engagement; default email_opened, email_clicked, sms_clicked, purchase."},
				{Name: "yearly", Title: "Next anniversary", Type: nodes.Boolean, Default: false,
					When: &nodes.When{Field: "mode", Values: []string{"until_date"}},
					Help: "Use the next anniversary of the date (month and day), e.g. for birthdays."},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"mode": "duration", "duration": "3d"},
			Check: func(cfg nodes.Config) []nodes.FieldError {
				if cfg.String("mode") == "until_time" && !cfg.Has("time") {
					return []nodes.FieldError{{Field: "time", Message: "required when mode is until_time"}}
				}
				if cfg.String("mode") == "best_time" {
					for _, name := range strings.Split(cfg.String("events"), ",") {
						if name = strings.TrimSpace(name); strings.ContainsAny(name, "\n\r\t") {
							return []nodes.FieldError{{Field: "events", Message: fmt.Sprintf("%q is not an event name", name)}}
						}
					}
				}
				return nil
			},
		},
		{
			Kind: "wait_event", Title: "Wait for event", Category: nodes.Flow, Waits: true,
			Help: "Waits until the profile sends an event with this name that matches the condition, or the timeout passes. " +
				"The condition sees the new event as event and the entry event as run.entry.",
			Fields: []nodes.Field{
				{Name: "event", Title: "Event name", Type: nodes.String, Required: true, MaxLength: 128, Placeholder: "order_completed"},
				{Name: "match", Title: "Match", Type: nodes.Condition,
					Help: "Optional condition, e.g. event.properties.cart_id == run.entry.properties.cart_id."},
				{Name: "timeout", Title: "Timeout", Type: nodes.Duration, Required: true, Max: days(730),
					Help: "Give up after this long (at most 2 years) and leave through timeout."},
			},
			Ports: []nodes.Port{
				{Name: "matched", Title: "Matched", IfUnconnected: nodes.MustConnect},
				{Name: "timeout", Title: "Timed out", IfUnconnected: nodes.Complete},
			},
			Example: map[string]any{"event": "order_completed", "match": "event.properties.cart_id == run.entry.properties.cart_id", "timeout": "1d"},
		},
		{
			Kind: "goal", Title: "Goal", Category: nodes.Flow, Instant: true,
			Help: "Checks whether the profile performed the event (matching the filter) within the window before reaching this node; " +
				"if so, records a conversion for the run. With exit on conversion, a converted run exits here.",
			Fields: []nodes.Field{
				{Name: "event", Title: "Event name", Type: nodes.String, Required: true, MaxLength: 128, Placeholder: "order_completed"},
				{Name: "filter", Title: "Filter", Type: nodes.Condition, Help: "Optional condition on the event."},
				{Name: "window", Title: "Window", Type: nodes.Duration, Max: days(730),
					Help: "How far back to look; default: since the run entered."},
				{Name: "exit_on_conversion", Title: "Exit on conversion", Type: nodes.Boolean, Default: false,
					Help: "End the run (status exited) when converted; otherwise continue on out."},
			},
			Ports:   []nodes.Port{out(nodes.Complete)},
			Example: map[string]any{"event": "order_completed", "window": "7d", "exit_on_conversion": true},
		},
		{
			Kind: "exit", Title: "Exit", Category: nodes.Flow, Instant: true, Terminal: true,
			Help: "Ends the run (status completed).",
			Fields: []nodes.Field{
				{Name: "reason", Title: "Reason", Type: nodes.String, MaxLength: 256, Help: "Optional note shown in the run's timeline."},
			},
			Example: map[string]any{},
		},
	}
}

// checkPortNames checks the names of list items that become ports.
func checkPortNames(items []nodes.Config, field, reserved string) []nodes.FieldError {
	var errs []nodes.FieldError
	seen := map[string]bool{}
	for i, it := range items {
		name := it.String("name")
		path := fmt.Sprintf("%s[%d].name", field, i)
		switch {
		case !nodes.ValidPortName(name):
			errs = append(errs, nodes.FieldError{Field: path, Message: fmt.Sprintf("%q is not a valid port name: use 1-32 of a-z, 0-9, _ and -", name)})
		case name == reserved:
			errs = append(errs, nodes.FieldError{Field: path, Message: fmt.Sprintf("%q is reserved", name)})
		case seen[name]:
			errs = append(errs, nodes.FieldError{Field: path, Message: fmt.Sprintf("duplicate name %q", name)})
		}
		seen[name] = true
	}
	return errs
}
