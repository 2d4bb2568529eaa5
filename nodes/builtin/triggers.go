package builtin

import (
	"fmt"
	"regexp"
	"time"

	"github.com/waymarkhq/waymark/nodes"
)

// triggers are the kinds that start runs.
func triggers() []nodes.Spec {
	return []nodes.Spec{
		{
			Kind: "trigger_webhook", Title: "Webhook", Category: nodes.Trigger,
			Help: "Starts a run for each signed POST to the journey's hook URL. " +
				"Expressions see the request as event.body (parsed JSON) and event.headers.",
			Fields: []nodes.Field{
				{Name: "profile_id", Title: "Profile ID", Type: nodes.Expression, Required: true,
					Help:        "Expression giving the profile's external id; the profile is created if it does not exist.",
					Placeholder: "event.body.user_id"},
				{Name: "email", Title: "Email", Type: nodes.Expression,
					Help: "Optional expression giving the profile's email address, stored on the profile when set.", Placeholder: "event.body.email"},
				{Name: "phone", Title: "Phone", Type: nodes.Expression,
					Help: "Optional expression giving the profile's phone number (E.164), stored on the profile when set.", Placeholder: "event.body.phone"},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"profile_id": "event.body.user_id", "email": "event.body.email"},
		},
		{
			Kind: "trigger_event", Title: "Event", Category: nodes.Trigger,
			Help: "Starts a run when a profile event with this name arrives (POST /api/v1/events) and the filter, if any, is true.",
			Fields: []nodes.Field{
				{Name: "event", Title: "Event name", Type: nodes.String, Required: true, MaxLength: 128,
					Help: "Name of the event, e.g. cart_abandoned.", Placeholder: "cart_abandoned"},
				{Name: "filter", Title: "Filter", Type: nodes.Condition,
					Help: "Optional condition on the event and profile, e.g. event.properties.total > 50."},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"event": "cart_abandoned", "filter": "event.properties.total > 50"},
		},
		{
			Kind: "trigger_segment", Title: "Segment entry", Category: nodes.Trigger,
			Help: "Starts a run when a profile starts matching the condition (checked when the profile changes), " +
				"and, with a sweep interval, for matching profiles found by a recurring sweep.",
			Fields: []nodes.Field{
				{Name: "expr", Title: "Condition", Type: nodes.Condition,
					Help: "Condition on the profile, e.g. profile.plan == \"trial\" && days_since(profile.signed_up_at) >= 7. Or name a saved segment instead."},
				{Name: "segment", Title: "Saved segment", Type: nodes.String, MaxLength: 64, Placeholder: "vip_customers",
					Help: "Instead of a condition: the name of a saved segment (Segments page); its current definition is used (docs/segments.md)."},
				{Name: "sweep", Title: "Sweep every", Type: nodes.Duration, Min: seconds(900), Max: days(31),
					Help: "Optional: also check every profile this often (15m to 31d)."},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"expr": "profile.plan == \"trial\"", "sweep": "1d"},
			Check:   checkSegmentTrigger,
		},
		{
			Kind: "trigger_attribute", Title: "Attribute change", Category: nodes.Trigger,
			Help: "Starts a run when a profile's attribute or built-in field (email, phone, timezone, locale) changes, " +
				"from any write: the profile API, an event's profile, a CSV import, a webhook, or update_profile in another journey. " +
				"From, to and the condition narrow which changes count.",
			Fields: []nodes.Field{
				{Name: "attribute", Title: "Attribute", Type: nodes.String, Required: true, MaxLength: 64,
					Help:        "Custom attribute, or email, phone, timezone or locale; not external_id.",
					Placeholder: "plan"},
				{Name: "from", Title: "From", Type: nodes.String, MaxLength: 256,
					Help: "Optional: only changes from this value, as text (pro, 10, true). For a value that was absent, use the condition change.old == nil."},
				{Name: "to", Title: "To", Type: nodes.String, MaxLength: 256,
					Help: "Optional: only changes to this value, as text (pro, 10, true). For a removed value, use the condition change.new == nil."},
				{Name: "expr", Title: "Condition", Type: nodes.Condition,
					Help: "Optional condition on change.old, change.new and the profile (as changed), e.g. change.new > change.old."},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"attribute": "plan", "from": "trial", "to": "pro"},
			Check: func(cfg nodes.Config) []nodes.FieldError {
				return checkAttributeName("attribute", cfg.String("attribute"))
			},
		},
		{
			Kind: "trigger_schedule", Title: "Schedule", Category: nodes.Trigger,
			Help: "On a recurring schedule, starts a run for every profile matching the condition.",
			Fields: []nodes.Field{
				{Name: "mode", Title: "Repeat", Type: nodes.Enum, Enum: []string{"cron", "every", "once"}, Default: "every",
					Help: "cron: a cron spec; every: a fixed interval; once: a single run at a time (broadcasts)."},
				{Name: "at", Title: "At", Type: nodes.String, Required: true, MaxLength: 64, When: &nodes.When{Field: "mode", Values: []string{"once"}},
					Help: "RFC 3339 time of the single run, e.g. 2026-12-24T09:00:00Z.", Placeholder: "2026-12-24T09:00:00Z"},
				{Name: "cron", Title: "Cron", Type: nodes.Cron, Required: true, When: &nodes.When{Field: "mode", Values: []string{"cron"}},
					Help: "5-field cron spec (minute hour day-of-month month day-of-week) or @daily, @weekly…", Placeholder: "0 9 * * mon-fri"},
				{Name: "every", Title: "Every", Type: nodes.Duration, Required: true, When: &nodes.When{Field: "mode", Values: []string{"every"}},
					Min: seconds(3600), Max: days(366), Help: "Interval in hours or days, at least 1h, e.g. 6h or 7d."},
				{Name: "timezone", Title: "Time zone", Type: nodes.Timezone,
					Help: "IANA time zone the schedule runs in; default: the journey's time zone."},
				{Name: "expr", Title: "Audience", Type: nodes.Condition, Default: "true",
					Help: "Condition selecting the profiles that enter on each run of the schedule."},
			},
			Ports:   []nodes.Port{out(nodes.MustConnect)},
			Example: map[string]any{"mode": "cron", "cron": "0 9 * * mon", "timezone": "Europe/Paris", "expr": "profile.newsletter == true"},
			Check:   checkOnce,
		},
	}
}

var segmentNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// checkSegmentTrigger: a segment trigger has a condition or a saved
// segment's name (internal/segments' name rule), not both.
func checkSegmentTrigger(cfg nodes.Config) []nodes.FieldError {
	expr, seg := cfg.String("expr"), cfg.String("segment")
	switch {
	case expr == "" && seg == "":
		return []nodes.FieldError{{Field: "expr", Message: "give a condition or a saved segment's name (segment)"}}
	case expr != "" && seg != "":
		return []nodes.FieldError{{Field: "segment", Message: "give a condition or a saved segment, not both"}}
	case seg != "" && !segmentNameRE.MatchString(seg):
		return []nodes.FieldError{{Field: "segment", Message: fmt.Sprintf("%q is not a segment name: a lower-case letter, then lower-case letters, digits, _ or -", seg)}}
	}
	return nil
}

// checkOnce checks a once schedule's time (broadcasts, docs/broadcasts.md).
func checkOnce(cfg nodes.Config) []nodes.FieldError {
	if cfg.String("mode") != "once" || cfg.String("at") == "" {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, cfg.String("at")); err != nil {
		return []nodes.FieldError{{Field: "at", Message: "want an RFC 3339 time, e.g. 2026-12-24T09:00:00Z"}}
	}
	return nil
}
