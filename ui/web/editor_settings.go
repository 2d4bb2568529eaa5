package web

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The journey settings panel works like the node panel: POST
// /journeys/:id/panel/settings with the canvas's settings as JSON (field
// "settings") renders the form; the form then posts its fields on every
// change and gets back the form with the server's validation and a JSON
// block with the settings as read.

type settingsResult struct {
	Settings flows.Settings `json:"settings"`
	Applied  bool           `json:"applied"`
	Errors   int            `json:"errors"`
}

func (h *Handler) settingsPanel(c *fiber.Ctx) error {
	j, readonly, err := h.panelJourney(c)
	if err != nil {
		return err
	}
	var st flows.Settings
	applied := false
	formErrs := fieldProblems{}
	capped := flows.FrequencyCapChannels(h.journeys.Registry())
	if raw := c.FormValue("settings"); raw != "" {
		if err := json.NewDecoder(bytes.NewReader([]byte(raw))).Decode(&st); err != nil {
			return httpkit.BadRequest("settings: invalid JSON: %v", err)
		}
	} else {
		st = parseSettings(postedForm(c), formErrs, capped)
		applied = !readonly
	}
	problems, general, err := h.settingsProblems(c, st)
	if err != nil {
		return err
	}
	for p, m := range formErrs {
		problems[p] = m
	}
	f := views.SettingsForm{
		Action: "/journeys/" + j.ID + "/panel/settings", ReadOnly: readonly,
		Sections: settingsSections(st, problems, capped), Errors: general,
	}
	n := len(general)
	for _, sec := range f.Sections {
		for _, fld := range sec.Fields {
			if fld.Error != "" {
				n++
			}
		}
	}
	f.Result = settingsResult{Settings: st, Applied: applied, Errors: n}
	return render(c, views.SettingsFormView(h.page(c, ""), f))
}

// settingsProblems validates the settings on their own, as part of a
// journey; problems come back keyed by form field ("s.goal.event").
func (h *Handler) settingsProblems(c *fiber.Ctx, st flows.Settings) (fieldProblems, []string, error) {
	doc, err := flows.Marshal(&flows.Journey{Format: flows.Format, Name: "settings", Settings: st})
	if err != nil {
		return nil, nil, err
	}
	_, problems, err := h.journeys.Check(c.UserContext(), httpkit.Workspace(c), doc)
	if ps, ok := journeys.IsInvalid(err); ok {
		problems, err = ps, nil
	}
	if err != nil {
		return nil, nil, err
	}
	out := fieldProblems{}
	var general []string
	for _, p := range problems {
		path, ok := strings.CutPrefix(p.Field, "settings.")
		if !ok || p.NodeID != "" {
			continue
		}
		name := settingsFieldFor(path)
		if name == "" {
			general = append(general, p.Field+": "+p.Message)
			continue
		}
		out.add(name, p.Message)
	}
	return out, general, nil
}

// settingsFieldFor maps a settings problem path to the form field that
// shows it.
func settingsFieldFor(path string) string {
	switch {
	case path == "exit_criteria":
		return "s.exit_criteria.event"
	case strings.HasPrefix(path, "rate_limit"):
		return "s.rate_limit.count"
	case strings.HasPrefix(path, "frequency_cap."):
		parts := strings.Split(path, ".")
		if len(parts) == 2 {
			return "s." + path + ".count"
		}
		return "s." + strings.Join(parts[:3], ".")
	}
	switch path {
	case "reentry", "reentry_min_interval", "entry_limit.per_profile", "entry_limit.total",
		"entry_window.start", "entry_window.end", "exit_criteria.event", "exit_criteria.expr",
		"goal", "goal.event", "goal.filter", "goal.window", "goal.value_property",
		"quiet_hours.start", "quiet_hours.end", "timezone", "step_budget":
		if path == "goal" {
			return "s.goal.event"
		}
		return "s." + path
	}
	return ""
}

// parseSettings reads the settings form. Empty groups are left out.
// capped are the channels frequency caps may name.
func parseSettings(form formFields, errs fieldProblems, capped []string) flows.Settings {
	get := func(name string) string { return strings.TrimSpace(form.get("s." + name)) }
	num := func(name string) int {
		v := get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs.add("s."+name, "enter a whole number")
		}
		return n
	}
	var st flows.Settings
	if r := get("reentry"); r != flows.ReentryNever {
		st.Reentry = r
	}
	st.ReentryMinInterval = get("reentry_min_interval")
	if l := (flows.EntryLimit{PerProfile: num("entry_limit.per_profile"), Total: num("entry_limit.total")}); l != (flows.EntryLimit{}) {
		st.EntryLimit = &l
	}
	if w := (flows.EntryWindow{Start: fromLocalInput(get("entry_window.start")), End: fromLocalInput(get("entry_window.end"))}); w != (flows.EntryWindow{}) {
		st.EntryWindow = &w
	}
	if e := (flows.ExitCriteria{Event: get("exit_criteria.event"), Expr: get("exit_criteria.expr")}); e != (flows.ExitCriteria{}) {
		st.ExitCriteria = &e
	}
	g := flows.Goal{Event: get("goal.event"), Filter: get("goal.filter"), Window: get("goal.window"),
		ValueProperty: get("goal.value_property"), ExitOnConversion: get("goal.exit_on_conversion") == "true"}
	if g != (flows.Goal{}) {
		st.Goal = &g
	}
	if q := (flows.QuietHours{Start: get("quiet_hours.start"), End: get("quiet_hours.end")}); q != (flows.QuietHours{}) {
		st.QuietHours = &q
	}
	for _, ch := range capped {
		if get("frequency_cap."+ch+".count") == "" {
			continue
		}
		if st.FrequencyCap == nil {
			st.FrequencyCap = map[string]flows.FrequencyCap{}
		}
		st.FrequencyCap[ch] = flows.FrequencyCap{Count: num("frequency_cap." + ch + ".count"), Period: get("frequency_cap." + ch + ".period")}
	}
	if get("rate_limit.count") != "" {
		n := num("rate_limit.count")
		if get("rate_limit.unit") == "per_minute" {
			st.RateLimit = &flows.RateLimit{PerMinute: n}
		} else {
			st.RateLimit = &flows.RateLimit{PerSecond: n}
		}
	}
	if tz := get("timezone"); tz != flows.DefaultTimezone {
		st.Timezone = tz
	}
	if n := num("step_budget"); n != flows.DefaultStepBudget {
		st.StepBudget = n
	}
	if get("tracking") == "off" {
		off := false
		st.Tracking = &off
	}
	return st
}

// The entry window is edited in UTC with datetime-local inputs.
const localInput = "2006-01-02T15:04"

func toLocalInput(rfc string) string {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return rfc
	}
	return t.UTC().Format(localInput)
}

func fromLocalInput(v string) string {
	if v == "" {
		return ""
	}
	if t, err := time.Parse(localInput, v); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	if t, err := time.Parse(localInput+":05", v); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return v // kept as typed; validation explains the format
}

// trackingValue is the settings form's value of settings.tracking.
func trackingValue(st flows.Settings) string {
	if st.Tracking != nil && !*st.Tracking {
		return "off"
	}
	return "on"
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// settingsSections builds the settings form from st; capped are the
// channels frequency caps may name.
func settingsSections(st flows.Settings, problems fieldProblems, capped []string) []views.FormSection {
	fld := func(name, label, input, value, help string) views.FormField {
		return views.FormField{Name: "s." + name, ID: elementID("sf-", "f."+name), Label: label, Input: input, Value: value, Help: help, Error: problems["s."+name]}
	}
	sel := func(name, label, value, help string, opts ...views.Option) views.FormField {
		f := fld(name, label, "select", value, help)
		f.Options = opts
		return f
	}
	var (
		limit  flows.EntryLimit
		window flows.EntryWindow
		exit   flows.ExitCriteria
		goal   flows.Goal
		quiet  flows.QuietHours
	)
	if st.EntryLimit != nil {
		limit = *st.EntryLimit
	}
	if st.EntryWindow != nil {
		window = *st.EntryWindow
	}
	if st.ExitCriteria != nil {
		exit = *st.ExitCriteria
	}
	if st.Goal != nil {
		goal = *st.Goal
	}
	if st.QuietHours != nil {
		quiet = *st.QuietHours
	}
	reentry := st.Reentry
	if reentry == "" {
		reentry = flows.ReentryNever
	}
	code := func(f views.FormField) views.FormField { f.Input, f.Rows = "code", 2; return f }
	number := func(f views.FormField, min string) views.FormField { f.Input, f.Min = "number", min; return f }
	exitConv := fld("goal.exit_on_conversion", "Exit when the goal is reached", "checkbox", "", "End a run as soon as the profile converts.")
	exitConv.Checked = goal.ExitOnConversion

	caps := views.FormSection{Title: "Frequency caps", Help: "At most this many messages per profile and channel, across all journeys. Leave the count empty for no cap."}
	for _, ch := range capped {
		c := st.FrequencyCap[ch]
		period := c.Period
		if period == "" {
			period = "day"
		}
		caps.Fields = append(caps.Fields,
			number(fld("frequency_cap."+ch+".count", strings.ToUpper(ch[:1])+ch[1:]+" messages", "number", itoa0(c.Count), ""), "1"),
			sel("frequency_cap."+ch+".period", "per", period, "", views.Option{Value: "day", Label: "day"}, views.Option{Value: "week", Label: "week"}))
	}
	rateCount, rateUnit := "", "per_second"
	if r := st.RateLimit; r != nil {
		if r.PerMinute != 0 {
			rateCount, rateUnit = strconv.Itoa(r.PerMinute), "per_minute"
		} else {
			rateCount = itoa0(r.PerSecond)
		}
	}
	tz := st.Timezone
	budget := ""
	if st.StepBudget != 0 {
		budget = strconv.Itoa(st.StepBudget)
	}
	tzField := sel("timezone", "Time zone", tz, "Used where a profile has no time zone of its own.")
	tzField.Options = timezoneOptions(tz, "UTC (default)")
	budgetField := number(fld("step_budget", "Step budget", "number", budget, "Most steps one run may take (default 1000); a run over budget fails."), "1")
	budgetField.Placeholder = "1000"

	return []views.FormSection{
		{Title: "Entry rules", Fields: []views.FormField{
			sel("reentry", "Re-entry", reentry, "Whether a profile may enter again.",
				views.Option{Value: "never", Label: "Never: each profile enters once"},
				views.Option{Value: "after_exit", Label: "After exit: once the previous run ended"},
				views.Option{Value: "always", Label: "Always: runs may overlap"}),
			fld("reentry_min_interval", "Minimum time between entries", "text", st.ReentryMinInterval, "e.g. 30d. Needs re-entry after exit or always."),
			number(fld("entry_limit.per_profile", "Entries per profile", "number", itoa0(limit.PerProfile), "Empty: unlimited."), "1"),
			number(fld("entry_limit.total", "Total entries", "number", itoa0(limit.Total), "Empty: unlimited."), "1"),
			fld("entry_window.start", "Accept entries from (UTC)", "datetime", toLocalInput(window.Start), ""),
			fld("entry_window.end", "Accept entries until (UTC)", "datetime", toLocalInput(window.End), ""),
		}},
		{Title: "Exit criteria", Help: "Stop a run early, e.g. when the customer buys or unsubscribes.", Fields: []views.FormField{
			fld("exit_criteria.event", "Exit on event", "text", exit.Event, "Event name, e.g. order_completed."),
			code(fld("exit_criteria.expr", "Exit when", "code", exit.Expr, "Condition; with an event, on that event's properties.")),
		}},
		{Title: "Conversion goal", Fields: []views.FormField{
			fld("goal.event", "Goal event", "text", goal.Event, "The event that counts as a conversion."),
			code(fld("goal.filter", "Only when", "code", goal.Filter, "Optional condition on the event.")),
			fld("goal.window", "Within", "text", goal.Window, "e.g. 14d after entering; empty: while the run lasts."),
			fld("goal.value_property", "Value property", "text", goal.ValueProperty, "Event property holding the conversion's value, e.g. amount."),
			exitConv,
		}},
		{Title: "Quiet hours", Help: "No message is sent in this daily window (the profile's time zone); sends wait until it ends.", Fields: []views.FormField{
			fld("quiet_hours.start", "From", "time", quiet.Start, ""),
			fld("quiet_hours.end", "Until", "time", quiet.End, ""),
		}},
		caps,
		{Title: "Rate limit", Help: "Pace of the journey's messages, webhooks and audience syncs, across all its runs.", Fields: []views.FormField{
			number(fld("rate_limit.count", "At most", "number", rateCount, "Empty: no limit."), "1"),
			sel("rate_limit.unit", "steps", rateUnit, "", views.Option{Value: "per_second", Label: "per second"}, views.Option{Value: "per_minute", Label: "per minute"}),
		}},
		{Title: "Time zone and budget", Fields: []views.FormField{tzField, budgetField}},
		{Title: "Email tracking", Fields: []views.FormField{sel("tracking", "Opens and clicks", trackingValue(st), "Links go through a signed redirect and an open pixel is added (docs/engagement.md).",
			views.Option{Value: "on", Label: "Tracked (default)"}, views.Option{Value: "off", Label: "Not tracked"})}},
	}
}
