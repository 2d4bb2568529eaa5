package flows

import (
	"sort"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// Defaults and bounds of settings.
const (
	DefaultStepBudget = 1000
	MaxStepBudget     = 100000
	DefaultTimezone   = "UTC"
)

// Re-entry policies.
const (
	ReentryNever     = "never"
	ReentryAfterExit = "after_exit"
	ReentryAlways    = "always"
)

// FrequencyCapChannels are the channels a frequency cap may name: those
// of the registry's action kinds that obey caps (nodes.Policy), in
// registration order.
func FrequencyCapChannels(reg *nodes.Registry) []string {
	var out []string
	for _, s := range reg.Specs() {
		if a := s.Action; a != nil && a.Policy.FrequencyCap && !contains(out, a.Channel) {
			out = append(out, a.Channel)
		}
	}
	return out
}

// CompiledSettings are a journey's settings resolved for the engine,
// defaults applied.
type CompiledSettings struct {
	Reentry            string        // never, after_exit or always
	ReentryMinInterval time.Duration // 0: none
	EntryLimitPerProfile,
	EntryLimitTotal int // 0: unlimited
	EntryStart, EntryEnd time.Time // zero: open
	ExitEvent            string
	ExitExpr             *expression.Program // nil: none
	Goal                 *CompiledGoal       // nil: no journey goal
	QuietHours           *CompiledQuietHours // nil: none
	FrequencyCaps        map[string]CompiledCap
	RateLimit            *CompiledRateLimit // nil: none
	Location             *time.Location
	StepBudget           int
	NoTracking           bool // settings.tracking false: email goes out without open and click tracking
}

// CompiledGoal is the journey-level goal.
type CompiledGoal struct {
	Event            string
	Filter           *expression.Program // nil: any such event
	Window           time.Duration       // 0: while the run lasts
	ValueProperty    string
	ExitOnConversion bool
}

// CompiledQuietHours is the daily window in which no message is sent.
type CompiledQuietHours struct{ Start, End nodes.Clock }

// CompiledCap allows Count messages per Period.
type CompiledCap struct {
	Count  int
	Period time.Duration
}

// CompiledRateLimit allows Count action steps per Per.
type CompiledRateLimit struct {
	Count int
	Per   time.Duration
}

func (v *validator) checkSettings() {
	s := v.j.Settings
	out := &v.settings
	const p = "settings."

	out.Reentry = ReentryNever
	switch s.Reentry {
	case "", ReentryNever:
	case ReentryAfterExit, ReentryAlways:
		out.Reentry = s.Reentry
	default:
		v.add("", p+"reentry", "must be one of never, after_exit, always; got %q", clip(s.Reentry, 64))
	}
	if s.ReentryMinInterval != "" {
		if d, ok := v.settingDuration(p+"reentry_min_interval", s.ReentryMinInterval); ok {
			out.ReentryMinInterval = d
			if out.Reentry == ReentryNever {
				v.add("", p+"reentry_min_interval", "only used when reentry is after_exit or always")
			}
		}
	}
	if l := s.EntryLimit; l != nil {
		if l.PerProfile < 0 || l.PerProfile > 1_000_000 {
			v.add("", p+"entry_limit.per_profile", "must be between 1 and 1000000 (0 or absent: unlimited)")
		}
		if l.Total < 0 {
			v.add("", p+"entry_limit.total", "must be positive (0 or absent: unlimited)")
		}
		if l.PerProfile > 1 && out.Reentry == ReentryNever {
			v.add("", p+"entry_limit.per_profile", "more than one entry per profile needs reentry after_exit or always")
		}
		out.EntryLimitPerProfile, out.EntryLimitTotal = l.PerProfile, l.Total
	}
	if w := s.EntryWindow; w != nil {
		out.EntryStart = v.settingTime(p+"entry_window.start", w.Start)
		out.EntryEnd = v.settingTime(p+"entry_window.end", w.End)
		if !out.EntryStart.IsZero() && !out.EntryEnd.IsZero() && !out.EntryEnd.After(out.EntryStart) {
			v.add("", p+"entry_window.end", "must be after start")
		}
	}
	if e := s.ExitCriteria; e != nil {
		if e.Event == "" && e.Expr == "" {
			v.add("", p+"exit_criteria", "set event, expr or both")
		}
		v.settingEvent(p+"exit_criteria.event", e.Event, false)
		out.ExitEvent = e.Event
		out.ExitExpr = v.settingExpr(p+"exit_criteria.expr", e.Expr)
	}
	if g := s.Goal; g != nil {
		cg := &CompiledGoal{Event: g.Event, ValueProperty: g.ValueProperty, ExitOnConversion: g.ExitOnConversion}
		v.settingEvent(p+"goal.event", g.Event, true)
		cg.Filter = v.settingExpr(p+"goal.filter", g.Filter)
		if g.Window != "" {
			cg.Window, _ = v.settingDuration(p+"goal.window", g.Window)
		}
		if len(g.ValueProperty) > 128 || strings.ContainsAny(g.ValueProperty, "\r\n") {
			v.add("", p+"goal.value_property", "must be a single line of at most 128 bytes")
		}
		out.Goal = cg
	}
	if q := s.QuietHours; q != nil {
		start, err1 := nodes.ParseClock(q.Start)
		if err1 != nil {
			v.add("", p+"quiet_hours.start", "%v", err1)
		}
		end, err2 := nodes.ParseClock(q.End)
		if err2 != nil {
			v.add("", p+"quiet_hours.end", "%v", err2)
		}
		if err1 == nil && err2 == nil {
			if start == end {
				v.add("", p+"quiet_hours.end", "must differ from start")
			}
			out.QuietHours = &CompiledQuietHours{Start: start, End: end}
		}
	}
	if len(s.FrequencyCap) > 0 {
		capped := FrequencyCapChannels(v.reg)
		out.FrequencyCaps = map[string]CompiledCap{}
		keys := make([]string, 0, len(s.FrequencyCap))
		for k := range s.FrequencyCap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, ch := range keys {
			c := s.FrequencyCap[ch]
			path := p + "frequency_cap." + clip(ch, 64)
			if !contains(capped, ch) {
				v.add("", path, "unknown channel: use %s", strings.Join(capped, ", "))
				continue
			}
			if c.Count < 1 || c.Count > 1000 {
				v.add("", path+".count", "must be between 1 and 1000")
			}
			var per time.Duration
			switch c.Period {
			case "day":
				per = nodes.Day
			case "week":
				per = nodes.Week
			default:
				v.add("", path+".period", "must be day or week, got %q", clip(c.Period, 64))
			}
			out.FrequencyCaps[ch] = CompiledCap{Count: c.Count, Period: per}
		}
	}
	out.NoTracking = s.Tracking != nil && !*s.Tracking
	if r := s.RateLimit; r != nil {
		switch {
		case (r.PerSecond == 0) == (r.PerMinute == 0):
			v.add("", p+"rate_limit", "set exactly one of per_second and per_minute")
		case r.PerSecond != 0:
			if r.PerSecond < 1 || r.PerSecond > 10000 {
				v.add("", p+"rate_limit.per_second", "must be between 1 and 10000")
			}
			out.RateLimit = &CompiledRateLimit{Count: r.PerSecond, Per: time.Second}
		default:
			if r.PerMinute < 1 || r.PerMinute > 600000 {
				v.add("", p+"rate_limit.per_minute", "must be between 1 and 600000")
			}
			out.RateLimit = &CompiledRateLimit{Count: r.PerMinute, Per: time.Minute}
		}
	}
	tz := s.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	loc, err := nodes.LoadTimezone(tz)
	if err != nil {
		v.add("", p+"timezone", "%v", err)
		loc = time.UTC
	}
	out.Location = loc
	out.StepBudget = DefaultStepBudget
	if s.StepBudget != 0 {
		if s.StepBudget < 1 || s.StepBudget > MaxStepBudget {
			v.add("", p+"step_budget", "must be between 1 and %d", MaxStepBudget)
		} else {
			out.StepBudget = s.StepBudget
		}
	}
}

func (v *validator) settingDuration(path, s string) (time.Duration, bool) {
	d, err := nodes.ParseDuration(s)
	if err != nil {
		v.add("", path, "%v", err)
		return 0, false
	}
	if d <= 0 {
		v.add("", path, "must be longer than 0s")
		return 0, false
	}
	return d, true
}

func (v *validator) settingTime(path, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.add("", path, "invalid time %q: use RFC 3339, e.g. 2026-01-31T09:00:00Z", clip(s, 64))
	}
	return t
}

func (v *validator) settingEvent(path, name string, required bool) {
	switch {
	case name == "" && required:
		v.add("", path, "required")
	case len(name) > 128 || strings.ContainsAny(name, "\r\n"):
		v.add("", path, "must be a single line of at most 128 bytes")
	}
}

func (v *validator) settingExpr(path, src string) *expression.Program {
	if src == "" {
		return nil
	}
	r := v.expr(src, expression.Bool)
	if r.err != nil {
		v.add("", path, "%v", r.err)
	}
	return r.prog
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
