package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// ReferenceMarkdown renders the journey format reference
// (docs/journey-format.md) from the registry: the document shape,
// settings, limits and every node kind with its fields, ports and an
// example.
func ReferenceMarkdown(reg *nodes.Registry) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Journey format v1 — reference\n\n")
	w("<!-- Generated from the node registry by `go test ./flows -run TestReferenceDoc -update`. Do not edit by hand. -->\n\n")
	w("A journey is a JSON document. `waymark journeys export` writes it in canonical form (fixed key order, ")
	w("two-space indentation, `<`, `>` and `&` escaped); importing and exporting again gives the same bytes.\n\n")
	w("```json\n%s```\n\n", exampleJourney())
	w("## Document\n\n")
	w("| field | type | notes |\n|---|---|---|\n")
	w("| `format` | integer | required, must be `%d` |\n", Format)
	w("| `name` | string | required, at most %d characters |\n", MaxTitleLength)
	w("| `settings` | object | optional, see [Settings](#settings) |\n")
	w("| `nodes` | list of nodes | at most %d |\n", MaxNodes)
	w("| `edges` | list of edges | at most %d |\n\n", MaxEdges)
	w("A **node** is `{\"id\", \"kind\", \"title\", \"position\": {\"x\", \"y\"}, \"config\": {…}}`. ")
	w("`id` is 1–%d characters of `A-Z a-z 0-9 _ -`, unique in the journey; `kind` is one of the kinds below; ", MaxNodeIDLength)
	w("`title` (optional, at most %d characters) and `position` are for the canvas; `config` holds the kind's fields.\n\n", MaxTitleLength)
	w("An **edge** is `{\"from\", \"port\", \"to\"}`: it leaves node `from` through its output `port` and enters node `to`. ")
	w("Without `port` it leaves the kind's default port (`out` for actions) or the node's only port. ")
	w("A port leads to at most one node; a node may have many incoming edges.\n\n")
	w("Unknown fields anywhere are errors. The whole document is at most %d MiB.\n\n", MaxDocumentSize>>20)
	w("### Rules checked by validation\n\n")
	for _, r := range []string{
		"at least one trigger; no edge enters a trigger; every node is reachable from a trigger",
		"every `required` port is connected; an unconnected port ends the run as its kind says (`complete` or `fail`)",
		"a loop must pass through a waiting node (`delay` or `wait_event`)",
		"config fields: no unknown or missing fields, right types, enum values, bounds and lengths",
		fmt.Sprintf("expressions compile (at most %d bytes, nesting depth %d, %d syntax nodes), and conditions give a boolean", expression.MaxLength, expression.MaxDepth, expression.MaxNodes),
		"templates parse, every `{{ … }}` being an expression; JSON payloads are JSON",
		"durations are within their bounds (delays: more than 0s, at most 2 years); time zones are IANA names",
		"an action's connector exists and serves its kind (when the server checks connectors; `sandbox` always exists)",
	} {
		w("- %s\n", r)
	}
	w("\nEach problem names the node (`node_id`) and the field (`field`), e.g. `{\"node_id\": \"is_cn\", \"field\": \"expr\", \"message\": \"line 1, column 1: unknown name profle\"}`.\n\n")

	w("## Settings\n\n")
	w("All optional.\n\n| field | type | default | notes |\n|---|---|---|---|\n")
	for _, row := range [][4]string{
		{"reentry", "enum", "`never`", "`never`, `after_exit` (after the previous run ended), `always` (runs may overlap)"},
		{"reentry_min_interval", "duration", "none", "least time between two entries of a profile; needs reentry `after_exit` or `always`"},
		{"entry_limit.per_profile", "integer", "unlimited", "entries per profile (more than 1 needs re-entry)"},
		{"entry_limit.total", "integer", "unlimited", "entries into the journey"},
		{"entry_window.start / .end", "RFC 3339", "open", "accept entries only in this window"},
		{"exit_criteria.event / .expr", "string / condition", "none", "exit a run when the profile sends `event` (matching `expr`); with `expr` alone, when it is true before a step"},
		{"goal.event", "string", "", "required in a goal: the conversion event"},
		{"goal.filter", "condition", "", "on the conversion event"},
		{"goal.window", "duration", "while the run lasts", "conversion counts within this time of entry"},
		{"goal.value_property", "string", "", "event property holding the conversion value"},
		{"goal.exit_on_conversion", "boolean", "false", "end the run when it converts"},
		{"quiet_hours.start / .end", "`HH:MM`", "none", "no message is sent in this daily window (profile's time zone; may wrap midnight); sends wait until `end`"},
		{"frequency_cap.<channel>", "`{count, period}`", "none", "channel " + orList(FrequencyCapChannels(reg)) + "; at most `count` (1–1000) messages per `day` or `week`, across journeys"},
		{"rate_limit.per_second / .per_minute", "integer", "none", "one of the two: pace of the journey's action steps"},
		{"timezone", "IANA name", "`UTC`", "used where a profile has no time zone"},
		{"step_budget", "integer", fmt.Sprint(DefaultStepBudget), fmt.Sprintf("most steps one run may take, 1–%d; a run over budget fails", MaxStepBudget)},
		{"tracking", "boolean", "`true`", "`false`: the journey's email goes out without open and click tracking (docs/engagement.md)"},
	} {
		w("| `%s` | %s | %s | %s |\n", row[0], row[1], row[2], row[3])
	}
	w("\n## Value types\n\n| type | JSON | notes |\n|---|---|---|\n")
	for _, t := range nodes.FieldTypes() {
		w("| %s | %s | %s |\n", t.Type, t.JSON, t.Doc)
	}
	w("\n## Node kinds\n\n")
	specs := reg.Specs()
	for _, cat := range []nodes.Category{nodes.Trigger, nodes.Flow, nodes.Action} {
		var names []string
		for _, s := range specs {
			if s.Category == cat {
				names = append(names, fmt.Sprintf("[`%s`](#%s)", s.Kind, s.Kind))
			}
		}
		w("- **%s**: %s\n", cat, strings.Join(names, ", "))
	}
	w("\n")
	for _, s := range specs {
		writeSpec(&b, s)
	}
	return b.Bytes()
}

func writeSpec(b *bytes.Buffer, s nodes.Spec) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("### %s\n\n", s.Kind)
	var flags []string
	flags = append(flags, "category "+string(s.Category))
	if s.Waits {
		flags = append(flags, "waits")
	}
	if s.Acts {
		flags = append(flags, "acts through a connector")
	}
	if s.Instant {
		flags = append(flags, "instant")
	}
	if s.Terminal {
		flags = append(flags, "ends the run")
	}
	w("**%s** — %s. %s\n\n", s.Title, strings.Join(flags, ", "), s.Help)
	if s.Action != nil {
		writeAction(b, s.Action)
	}
	if len(s.Fields) > 0 {
		w("| field | type | required | default | notes |\n|---|---|---|---|---|\n")
		for _, f := range s.Fields {
			writeField(b, "", f)
			for _, it := range f.Items {
				writeField(b, f.Name+"[].", it)
			}
		}
		w("\n")
	} else {
		w("No config fields.\n\n")
	}
	if s.DynamicPorts != nil || len(s.Ports) > 0 {
		w("| port | if unconnected | notes |\n|---|---|---|\n")
		if d := s.DynamicPorts; d != nil {
			w("| one per `%s[].%s` | %s | in list order |\n", d.Field, d.NameKey, unconnectedText(d.IfUnconnected))
		}
		for _, p := range s.Ports {
			note := p.Help
			if p.EnabledBy != "" && !strings.Contains(note, p.EnabledBy) {
				note = strings.TrimSpace(fmt.Sprintf("exists when `%s` is set. %s", p.EnabledBy, note))
			}
			if p.Name == s.DefaultPort {
				note = strings.TrimSpace("default port for edges without `port`. " + note)
			}
			w("| `%s` | %s | %s |\n", p.Name, unconnectedText(p.IfUnconnected), note)
		}
		w("\n")
	} else {
		w("No output ports.\n\n")
	}
	node := Node{ID: s.Kind + "_1", Kind: s.Kind, Title: s.Title, Config: s.Example}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(node)
	w("```json\n%s```\n\n", data.String())
}

// partNames say the message parts in the docs.
var partNames = map[nodes.Part]string{
	nodes.PartSubject: "subject", nodes.PartHTML: "HTML body", nodes.PartText: "text body",
	nodes.PartFromName: "sender name", nodes.PartPayload: "JSON body; blank means `{}`",
}

// writeAction says what an action kind does, from its ActionSpec.
func writeAction(b *bytes.Buffer, a *nodes.ActionSpec) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	to := make([]string, len(a.To))
	for i, f := range a.To {
		to[i] = "`" + string(f) + "`"
	}
	w("Channel `%s`; the recipient is the profile's %s", a.Channel, strings.Join(to, ", else its "))
	if a.NoAddress != "" {
		w("; without one the step leaves through `failed` (%q)", a.NoAddress)
	}
	w(".")
	if len(a.Message) > 0 {
		var parts []string
		for _, m := range a.Message {
			parts = append(parts, fmt.Sprintf("`%s` (%s)", m.Field, partNames[m.Part]))
		}
		w(" The message is made of %s.", strings.Join(parts, ", "))
	}
	if len(a.Attributes) > 0 {
		w(" It carries the attributes %s", joinList(codeNames(a.Attributes), "and"))
		if a.SendsConsent {
			w(" and the profile's consent")
		}
		w(".")
	}
	var rules []string
	p := a.Policy
	if p.QuietHours {
		rules = append(rules, "waits out quiet hours")
	}
	if p.FrequencyCap {
		rules = append(rules, fmt.Sprintf("obeys `frequency_cap.%s`", a.Channel))
	}
	switch p.Consent {
	case nodes.ChannelConsent:
		rules = append(rules, fmt.Sprintf("is skipped when the profile's `%s` consent is recorded and not `granted`", a.Channel))
	case nodes.AdConsent:
		rules = append(rules, "is skipped without ad consent")
	}
	if p.Suppressions {
		rules = append(rules, "is skipped for an address on the suppression list")
	}
	if p.Unsubscribe {
		rules = append(rules, "carries a one-click unsubscribe link")
	}
	if len(rules) > 0 {
		w(" It %s.", joinList(rules, "and"))
	} else {
		w(" No quiet hours, frequency cap, consent or suppression list apply.")
	}
	switch t := a.Test; {
	case t == nil:
		w(" It cannot be sent as a test.")
	case t.To == nodes.ProfilePhone:
		w(" A test send goes to a given phone number (E.164)")
	case t.To != "":
		w(" A test send goes to a given %s address", t.To)
	default:
		w(" A test send takes no address")
	}
	if t := a.Test; t != nil {
		if t.Mark != "" {
			w(", its %s marked `[Test] `", partNames[t.Mark])
		}
		w(".")
	}
	w("\n\n")
}

// orList says a list of names in code: "`a`, `b` or `c`".
func orList(names []string) string { return joinList(codeNames(names), "or") }

func codeNames(names []string) []string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return quoted
}

// joinList joins "a, b and c".
func joinList(l []string, conj string) string {
	if len(l) < 2 {
		return strings.Join(l, "")
	}
	return strings.Join(l[:len(l)-1], ", ") + " " + conj + " " + l[len(l)-1]
}

func unconnectedText(u nodes.Unconnected) string {
	switch u {
	case nodes.Complete:
		return "run completes"
	case nodes.Fail:
		return "run fails"
	}
	return "**must be connected**"
}

func writeField(b *bytes.Buffer, prefix string, f nodes.Field) {
	var notes []string
	if f.Help != "" {
		notes = append(notes, strings.TrimSuffix(f.Help, "."))
	}
	if len(f.Enum) > 0 {
		notes = append(notes, "One of `"+strings.Join(f.Enum, "`, `")+"`")
	}
	if f.Channel != "" {
		notes = append(notes, "Channel: "+f.Channel)
	}
	if f.When != nil {
		notes = append(notes, fmt.Sprintf("Used when `%s` is `%s`", f.When.Field, strings.Join(f.When.Values, "` or `")))
	}
	if f.Min != nil || f.Max != nil {
		notes = append(notes, boundsText(f))
	}
	if f.MaxLength > 0 {
		notes = append(notes, fmt.Sprintf("At most %d bytes", f.MaxLength))
	}
	for i := range notes {
		notes[i] += "."
	}
	def := ""
	if f.Default != nil {
		d, _ := json.Marshal(f.Default)
		def = "`" + strings.ReplaceAll(string(d), "|", "\\|") + "`"
	}
	req := ""
	if f.Required {
		req = "yes"
	}
	note := strings.ReplaceAll(strings.Join(notes, " "), "|", "\\|")
	fmt.Fprintf(b, "| `%s%s` | %s | %s | %s | %s |\n", prefix, f.Name, f.Type, req, def, note)
}

func boundsText(f nodes.Field) string {
	format := func(v float64) string {
		switch f.Type {
		case nodes.Duration:
			d := time.Duration(v) * time.Second
			if d != 0 && d%nodes.Day == 0 {
				return fmt.Sprintf("%dd", d/nodes.Day)
			}
			return nodes.FormatDuration(d)
		}
		return fmt.Sprint(v)
	}
	what := ""
	if f.Type == nodes.List {
		what = " items"
	}
	switch {
	case f.Min != nil && f.Max != nil:
		return fmt.Sprintf("From %s to %s%s", format(*f.Min), format(*f.Max), what)
	case f.Min != nil:
		return fmt.Sprintf("At least %s%s", format(*f.Min), what)
	default:
		return fmt.Sprintf("At most %s%s", format(*f.Max), what)
	}
}

// exampleJourney is the small document shown at the top of the
// reference.
func exampleJourney() string {
	j := &Journey{
		Format: Format, Name: "Welcome series",
		Settings: Settings{Reentry: ReentryNever, Timezone: "UTC"},
		Nodes: []Node{
			{ID: "start", Kind: "trigger_webhook", Title: "Signed up", Position: Position{X: 40, Y: 80},
				Config: map[string]any{"profile_id": "event.body.user_id"}},
			{ID: "is_cn", Kind: "condition", Position: Position{X: 280, Y: 80},
				Config: map[string]any{"expr": `profile.country == "CN"`}},
			{ID: "hello", Kind: "send_email", Position: Position{X: 520, Y: 80},
				Config: map[string]any{"connector": "sandbox", "subject": "Hi {{ profile.first_name }}", "body": "Welcome aboard!"}},
		},
		Edges: []Edge{{From: "start", To: "is_cn"}, {From: "is_cn", Port: "yes", To: "hello"}},
	}
	data, _ := Marshal(j)
	return string(data)
}
