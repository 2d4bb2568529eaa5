package web

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/ui/views"
)

// This file turns a node kind's spec into a form (one spec drives the
// palette, the form, validation and the docs) and a posted form back into
// the node's config. Values the form cannot represent are kept as they are
// written, so nothing a user typed is lost: validation reports them.

// formFields are the posted values of a form: name → values.
type formFields map[string][]string

func (f formFields) get(name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// elementID makes a stable element id from a form field name.
func elementID(prefix, name string) string {
	return prefix + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(strings.TrimPrefix(name, "f."))
}

// withDefaults returns cfg plus the defaults of absent fields, so When
// conditions see defaulted enums.
func withDefaults(fields []nodes.Field, cfg map[string]any) map[string]any {
	eff := make(map[string]any, len(cfg)+2)
	for k, v := range cfg {
		eff[k] = v
	}
	for _, f := range fields {
		if _, ok := eff[f.Name]; !ok && f.Default != nil {
			eff[f.Name] = defaultString(f)
		}
	}
	return eff
}

// defaultString is a field's default as the form shows it.
func defaultString(f nodes.Field) string {
	switch d := f.Default.(type) {
	case nil:
		return ""
	case string:
		return d
	case bool:
		return strconv.FormatBool(d)
	case int64:
		return strconv.FormatInt(d, 10)
	case int:
		return strconv.Itoa(d)
	case float64:
		return formatNumber(d)
	}
	return fmt.Sprint(f.Default)
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// valueString shows a config value in a text input. Values of the wrong
// type are shown as JSON, so the user sees what is there.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return formatNumber(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fieldProblems maps config paths ("expr", "cases[1].name") to messages.
type fieldProblems map[string]string

func (p fieldProblems) add(path, msg string) {
	if p[path] == "" {
		p[path] = msg
	} else if !strings.Contains(p[path], msg) {
		p[path] += "; " + msg
	}
}

// formSpec is what buildFields needs to know beyond the spec.
type formSpec struct {
	prefix     string // element id prefix
	kind       string
	connectors []views.Option // for connector fields, already filtered
	previews   map[string]preview
}

type preview struct {
	text, err string
}

// buildFields makes the form fields of fields (a spec's, or a list item's)
// from cfg. namePrefix is "f." at the top and "f.cases.0." in a list item;
// pathPrefix is "" or "cases[0].".
func buildFields(fs formSpec, fields []nodes.Field, cfg map[string]any, namePrefix, pathPrefix string, problems fieldProblems) []views.FormField {
	eff := withDefaults(fields, cfg)
	var out []views.FormField
	var percents []*views.FormField
	for _, f := range fields {
		if !f.Active(eff) {
			continue
		}
		name := namePrefix + f.Name
		path := pathPrefix + f.Name
		ff := views.FormField{
			Name: name, ID: elementID(fs.prefix, name), Label: f.Title, Help: f.Help,
			Placeholder: f.Placeholder, Type: string(f.Type), Required: f.Required,
			MaxLength: f.MaxLength, Error: problems[path],
		}
		v, present := cfg[f.Name]
		if !present && f.Default != nil {
			v = f.Default
		}
		info, _ := f.Type.Info()
		wd := info.Widget
		ff.Input = wd.Input
		if ff.Placeholder == "" {
			ff.Placeholder = wd.Placeholder
		}
		switch wd.Input {
		case "code", "textarea", "html":
			ff.Rows = wd.Rows
			if wd.ShortRows > 0 && f.MaxLength > 0 && f.MaxLength <= 1000 {
				ff.Rows = wd.ShortRows
			}
			ff.Value = valueString(v)
		case "weekdays":
			ff.Selected = map[string]bool{}
			if l, ok := v.([]any); ok {
				for _, d := range l {
					if s, ok := d.(string); ok {
						ff.Selected[s] = true
					}
				}
			}
			for p, msg := range problems {
				if strings.HasPrefix(p, path+"[") && ff.Error == "" {
					ff.Error = msg
				}
			}
		case "select":
			ff.Value = valueString(v)
			ff.Options = selectOptions(fs, f, wd.Options, ff.Value)
		case "number":
			ff.Value = valueString(v)
			if f.Min != nil {
				ff.Min = formatNumber(*f.Min)
			}
			if f.Max != nil {
				ff.Max = formatNumber(*f.Max)
			}
			if strings.HasSuffix(f.Title, "%") {
				ff.Percent = true
			}
		case "checkbox":
			b, _ := v.(bool)
			ff.Checked = b
		case "list":
			ff.ItemTitle = itemTitle(f)
			ff.AddValue = "add:" + f.Name
			if f.Max != nil {
				ff.MaxItems = int(*f.Max)
			}
			items, _ := v.([]any)
			for i, it := range items {
				m, _ := it.(map[string]any)
				ff.Items = append(ff.Items, views.ListItem{
					Index:       i,
					RemoveValue: fmt.Sprintf("remove:%s:%d", f.Name, i),
					Fields:      buildFields(fs, f.Items, m, fmt.Sprintf("%s%s.%d.", namePrefix, f.Name, i), fmt.Sprintf("%s%s[%d].", pathPrefix, f.Name, i), problems),
				})
			}
		default: // text, time
			if ff.Input == "" {
				ff.Input = "text"
			}
			ff.Value = valueString(v)
		}
		if f.Type.IsTemplate() {
			if p, ok := fs.previews[path]; ok {
				ff.HasPreview, ff.Preview, ff.PreviewError = true, p.text, p.err
			}
		}
		out = append(out, ff)
		if ff.Percent {
			percents = append(percents, &out[len(out)-1])
		}
	}
	// A list whose items have a percentage column gets a running total of
	// that column plus the object's own percentage fields (split: weights
	// plus holdout must make 100).
	for i := range out {
		if out[i].Input != "list" {
			continue
		}
		var sum int64
		hasPercent := false
		for _, it := range out[i].Items {
			for _, sub := range it.Fields {
				if sub.Percent {
					hasPercent = true
					n, _ := strconv.ParseFloat(sub.Value, 64)
					sum += int64(n)
				}
			}
		}
		if !hasPercent && len(out[i].Items) == 0 {
			// No items yet: look at the spec for a percentage column.
			for _, f := range fields {
				if f.Name == strings.TrimPrefix(out[i].Name, namePrefix) {
					for _, it := range f.Items {
						if strings.HasSuffix(it.Title, "%") {
							hasPercent = true
						}
					}
				}
			}
		}
		if !hasPercent {
			continue
		}
		for _, p := range percents {
			n, _ := strconv.ParseFloat(p.Value, 64)
			sum += int64(n)
		}
		out[i].Total = &views.Total{Sum: sum, Want: 100}
	}
	return out
}

// selectOptions are the options of a select for field f, from source
// (nodes.Widget.Options), with the current value kept when it is not one
// of them.
func selectOptions(fs formSpec, f nodes.Field, source, value string) []views.Option {
	var opts []views.Option
	switch source {
	case nodes.OptionsTimezones:
		return timezoneOptions(value, "Default (the profile's, else the journey's)")
	case nodes.OptionsConnectors:
		opts = append([]views.Option{{Value: "", Label: "Choose a connector…"}}, fs.connectors...)
		if value != "" && !hasOption(opts, value) {
			opts = append(opts, views.Option{Value: value, Label: value + " (not available)"})
		}
	case nodes.OptionsEnum:
		if f.Default == nil && !f.Required {
			opts = append(opts, views.Option{Value: "", Label: "—"})
		}
		if f.Default == nil && f.Required && value == "" {
			opts = append(opts, views.Option{Value: "", Label: "Choose…"})
		}
		for _, e := range f.Enum {
			opts = append(opts, views.Option{Value: e, Label: strings.ReplaceAll(e, "_", " ")})
		}
		if value != "" && !hasOption(opts, value) {
			opts = append(opts, views.Option{Value: value, Label: value + " (unknown)"})
		}
	}
	return opts
}

func hasOption(opts []views.Option, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// explicitDefaults lists the fields of cfg that have a default and are
// written anyway, for the form's _explicit field.
func explicitDefaults(fields []nodes.Field, cfg map[string]any) string {
	var out []string
	for _, f := range fields {
		if _, ok := cfg[f.Name]; ok && f.Default != nil {
			out = append(out, f.Name)
		}
	}
	return strings.Join(out, ",")
}

// itemTitle names one item of a list field: "Cases" → "case".
func itemTitle(f nodes.Field) string {
	t := strings.ToLower(f.Title)
	switch {
	case strings.HasSuffix(t, "ies"):
		return strings.TrimSuffix(t, "ies") + "y"
	case strings.HasSuffix(t, "ses"):
		return strings.TrimSuffix(t, "es")
	case strings.HasSuffix(t, "s"):
		return strings.TrimSuffix(t, "s")
	}
	return t
}

// parseFields reads the posted form into a config for fields. It applies
// the list operation op ("add:cases", "remove:cases:1"), drops fields that
// do not apply (When), values equal to their default, and empty values.
// Inputs that are not what their type needs (a number field with "abc")
// are kept as written and reported in errs.
func parseFields(fields []nodes.Field, form formFields, namePrefix, pathPrefix, op string, errs fieldProblems) map[string]any {
	cfg := map[string]any{}
	// Values equal to the default are left out, unless the document wrote
	// them (the form lists those in _explicit): saving a node unchanged
	// must not change its JSON.
	explicit := map[string]bool{}
	if namePrefix == "f." {
		for _, k := range strings.Split(form.get("_explicit"), ",") {
			explicit[k] = true
		}
	}
	for _, f := range fields {
		name := namePrefix + f.Name
		path := pathPrefix + f.Name
		info, _ := f.Type.Info()
		switch info.Form {
		case nodes.FormList:
			items := parseList(f, form, name, path, op, errs)
			if len(items) > 0 {
				cfg[f.Name] = items
			}
			continue
		case nodes.FormWeekdays:
			var days []any
			for _, d := range views.Weekdays {
				for _, v := range form[name] {
					if v == d.Value {
						days = append(days, d.Value)
					}
				}
			}
			if len(days) > 0 {
				cfg[f.Name] = days
			}
			continue
		case nodes.FormBool:
			b := form.get(name) == "true" || form.get(name) == "on"
			if def, ok := f.Default.(bool); (ok && b != def) || (!ok && b) || explicit[f.Name] {
				cfg[f.Name] = b
			}
			continue
		}
		raw := form.get(name)
		if info.Form == nodes.FormContent {
			// Whitespace is content in templates; only a blank value is empty.
			raw = strings.ReplaceAll(raw, "\r\n", "\n")
			if strings.TrimSpace(raw) == "" {
				continue
			}
		} else {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
		}
		if f.Default != nil && raw == defaultString(f) && !explicit[f.Name] {
			continue
		}
		switch info.Form {
		case nodes.FormInteger:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				errs.add(path, "enter a whole number")
				cfg[f.Name] = raw
				continue
			}
			cfg[f.Name] = n
		case nodes.FormNumber:
			n, err := strconv.ParseFloat(raw, 64)
			if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
				errs.add(path, "enter a number")
				cfg[f.Name] = raw
				continue
			}
			cfg[f.Name] = n
		default:
			cfg[f.Name] = raw
		}
	}
	// Drop what does not apply in the chosen mode.
	eff := withDefaults(fields, cfg)
	for _, f := range fields {
		if !f.Active(eff) {
			delete(cfg, f.Name)
		}
	}
	return cfg
}

// parseList reads list items posted as name.<index>.<key>, in index order.
func parseList(f nodes.Field, form formFields, name, path, op string, errs fieldProblems) []any {
	seen := map[int]bool{}
	prefix := name + "."
	for k := range form {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		idx, _, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < 1000 {
			seen[i] = true
		}
	}
	indices := make([]int, 0, len(seen))
	for i := range seen {
		indices = append(indices, i)
	}
	sort.Ints(indices)
	remove := -1
	if r, ok := strings.CutPrefix(op, "remove:"+f.Name+":"); ok {
		if n, err := strconv.Atoi(r); err == nil {
			remove = n
		}
	}
	items := []any{}
	for _, i := range indices {
		if i == remove {
			continue
		}
		item := parseFields(f.Items, form, fmt.Sprintf("%s.%d.", name, i), fmt.Sprintf("%s[%d].", path, len(items)), "", errs)
		items = append(items, item)
	}
	if op == "add:"+f.Name {
		max := nodes.MaxListItems
		if f.Max != nil {
			max = int(*f.Max)
		}
		if len(items) < max {
			items = append(items, map[string]any{})
		}
	}
	return items
}

// timezoneOptions offers the IANA zones, with empty meaning emptyLabel.
func timezoneOptions(current, emptyLabel string) []views.Option {
	opts := make([]views.Option, 0, len(ianaZones)+2)
	opts = append(opts, views.Option{Value: "", Label: emptyLabel})
	found := current == ""
	for _, z := range ianaZones {
		opts = append(opts, views.Option{Value: z, Label: strings.ReplaceAll(z, "_", " ")})
		if z == current {
			found = true
		}
	}
	if !found {
		opts = append(opts, views.Option{Value: current, Label: current})
	}
	return opts
}
