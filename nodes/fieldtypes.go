package nodes

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// TypeInfo declares a field type once: how a value is checked and
// normalised, how long it may be, whether it is an expression or a
// template, which input the editor shows, how a posted form value is read,
// its JSON Schema type and how the reference docs describe it. Packages
// that handle config values (flows, the editor, the docs) read this table
// instead of switching on the type, so a new field type is one entry here.
type TypeInfo struct {
	Type FieldType
	// JSON names the JSON value the type takes, as the docs say it.
	JSON string
	// Doc describes the values, for the reference docs.
	Doc string
	// SchemaType is the JSON Schema type of a value: string, integer,
	// number, boolean or array.
	SchemaType string
	// MaxLength is the default length limit of a value, in bytes, for the
	// types whose values are text (0 for the others). Field.MaxLength
	// overrides it.
	MaxLength int
	// SingleLine: a value may not contain a line break.
	SingleLine bool
	// NotBlank: a required field's value may not be blank.
	NotBlank bool
	// Code says whether a value is an expression or a template, and how it
	// compiles (package flows compiles it).
	Code Code
	// Widget is the editor input for a value.
	Widget Widget
	// Form says how the editor reads a posted form value back.
	Form FormValue
	// Summary: a value can describe its node on the canvas.
	Summary bool

	// normalize checks a present, non-null raw value and returns its
	// normalised Go form (see Config).
	normalize func(t *TypeInfo, f Field, path string, v any) (any, []FieldError)
	// check is the type's own rule for a text value (enum, timezone,
	// cron), after the common text checks.
	check func(f Field, s string) error
}

// Code says how the values of a field type compile.
type Code string

// Codes. Expressions give a value (any, or a boolean for conditions);
// templates give text with placeholders, escaped as plain text, HTML or
// JSON.
const (
	NoCode         Code = ""
	CodeExpression Code = "expression"
	CodeCondition  Code = "condition"
	CodeTemplate   Code = "template"
	CodeHTML       Code = "html"
	CodeJSON       Code = "json"
)

// IsExpression reports whether values compile as expressions.
func (c Code) IsExpression() bool { return c == CodeExpression || c == CodeCondition }

// IsTemplate reports whether values compile as templates.
func (c Code) IsTemplate() bool { return c == CodeTemplate || c == CodeHTML || c == CodeJSON }

// Widget is the editor input for a field type. Input names the input the
// property form renders; Options, for a select, where its options come
// from.
type Widget struct {
	// Input is text, code, textarea, html, time, weekdays, select, number,
	// checkbox or list.
	Input string
	// Rows is the height of multi-line inputs; ShortRows, when set, the
	// height for a field whose MaxLength is at most 1000 bytes.
	Rows, ShortRows int
	// Placeholder is shown when the field declares none.
	Placeholder string
	// Options is where a select's options come from: timezones,
	// connectors or enum.
	Options string
}

// Select option sources.
const (
	OptionsTimezones  = "timezones"
	OptionsConnectors = "connectors"
	OptionsEnum       = "enum"
)

// FormValue says how a posted form value becomes a config value.
type FormValue string

// Form values.
const (
	FormText     FormValue = "text"     // trimmed; empty means absent
	FormContent  FormValue = "content"  // whitespace is content (line ends become \n); blank means absent
	FormInteger  FormValue = "integer"  // a whole number
	FormNumber   FormValue = "number"   // a number
	FormBool     FormValue = "bool"     // a checkbox
	FormWeekdays FormValue = "weekdays" // a set of checkboxes
	FormList     FormValue = "list"     // items posted as name.<index>.<key>
)

// typeTable lists the field types in the order the docs show them. It is
// filled once, by init (its normalisers reach back into it for list
// items), and never changes afterwards.
var typeTable []TypeInfo

// typeIndex finds a type's entry in typeTable.
var typeIndex map[FieldType]int

func init() {
	typeTable = []TypeInfo{
		{Type: String, JSON: "string", Doc: "one line", SchemaType: "string", MaxLength: MaxStringLength,
			SingleLine: true, NotBlank: true, Widget: Widget{Input: "text"}, Form: FormText, Summary: true, normalize: normalizeText},
		{Type: Text, JSON: "string", Doc: "several lines", SchemaType: "string", MaxLength: MaxTextLength,
			Widget: Widget{Input: "textarea", Rows: 4}, Form: FormContent, Summary: true, normalize: normalizeText},
		{Type: Expression, JSON: "string", Doc: "an expression giving any value; see docs/expressions.md", SchemaType: "string",
			MaxLength: MaxExpressionLength, NotBlank: true, Code: CodeExpression, Widget: Widget{Input: "code", Rows: 2}, Form: FormText,
			Summary: true, normalize: normalizeText},
		{Type: Condition, JSON: "string", Doc: "an expression giving true or false", SchemaType: "string",
			MaxLength: MaxExpressionLength, NotBlank: true, Code: CodeCondition, Widget: Widget{Input: "code", Rows: 2}, Form: FormText,
			Summary: true, normalize: normalizeText},
		{Type: Template, JSON: "string", Doc: "text with `{{ expression }}` placeholders", SchemaType: "string",
			MaxLength: MaxTemplateLength, NotBlank: true, Code: CodeTemplate, Widget: Widget{Input: "textarea", Rows: 4, ShortRows: 2},
			Form: FormContent, Summary: true, normalize: normalizeText},
		{Type: HTML, JSON: "string", Doc: "HTML template; placeholder values are HTML-escaped", SchemaType: "string",
			MaxLength: MaxHTMLLength, NotBlank: true, Code: CodeHTML, Widget: Widget{Input: "html", Rows: 7}, Form: FormContent,
			normalize: normalizeText},
		{Type: JSON, JSON: "string", Doc: "JSON with placeholders: inside a JSON string a value is inserted as text, elsewhere as a JSON value",
			SchemaType: "string", MaxLength: MaxJSONLength, NotBlank: true, Code: CodeJSON, Widget: Widget{Input: "html", Rows: 7},
			Form: FormContent, normalize: normalizeText},
		{Type: Duration, JSON: "string", Doc: "whole numbers with units w, d, h, m, s: `90m`, `3d`, `1w2d`; `-` for negative offsets",
			SchemaType: "string", Widget: Widget{Input: "text", Placeholder: "e.g. 3d, 12h or 30m"}, Form: FormText, Summary: true,
			normalize: normalizeDuration},
		{Type: TimeOfDay, JSON: "string", Doc: "`HH:MM`, 24-hour", SchemaType: "string", Widget: Widget{Input: "time"}, Form: FormText,
			Summary: true, normalize: normalizeTimeOfDay},
		{Type: Weekdays, JSON: "list of strings", Doc: "`mon` … `sun`", SchemaType: "array", Widget: Widget{Input: "weekdays"},
			Form: FormWeekdays, normalize: normalizeWeekdays},
		{Type: Timezone, JSON: "string", Doc: "IANA name, e.g. `Europe/Paris`", SchemaType: "string", MaxLength: MaxStringLength,
			Widget: Widget{Input: "select", Options: OptionsTimezones}, Form: FormText, Summary: true, normalize: normalizeText,
			check: func(_ Field, s string) error { _, err := LoadTimezone(s); return err }},
		{Type: Cron, JSON: "string", Doc: "5 fields (minute hour day-of-month month day-of-week) or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`",
			SchemaType: "string", MaxLength: MaxStringLength, Widget: Widget{Input: "text", Placeholder: "e.g. 0 9 * * mon or @daily"},
			Form: FormText, Summary: true, normalize: normalizeText, check: func(_ Field, s string) error { return ValidateCron(s) }},
		{Type: Connector, JSON: "string", Doc: "a connector's name; `sandbox` always exists", SchemaType: "string", MaxLength: MaxStringLength,
			SingleLine: true, NotBlank: true, Widget: Widget{Input: "select", Options: OptionsConnectors}, Form: FormText, normalize: normalizeText},
		{Type: Integer, JSON: "number", Doc: "a whole number", SchemaType: "integer", Widget: Widget{Input: "number"}, Form: FormInteger,
			normalize: normalizeNumber},
		{Type: Number, JSON: "number", SchemaType: "number", Widget: Widget{Input: "number"}, Form: FormNumber, normalize: normalizeNumber},
		{Type: Boolean, JSON: "true, false", SchemaType: "boolean", Widget: Widget{Input: "checkbox"}, Form: FormBool, normalize: normalizeBoolean},
		{Type: Enum, JSON: "string", Doc: "one of the listed values", SchemaType: "string", MaxLength: MaxStringLength,
			Widget: Widget{Input: "select", Options: OptionsEnum}, Form: FormText, normalize: normalizeText, check: checkEnum},
		{Type: List, JSON: "list of objects", Doc: "objects with the listed keys", SchemaType: "array", Widget: Widget{Input: "list"},
			Form: FormList, normalize: normalizeList},
	}
	typeIndex = make(map[FieldType]int, len(typeTable))
	for i, t := range typeTable {
		typeIndex[t.Type] = i
	}
}

// FieldTypes returns every field type's declaration, in the order the
// reference docs list them.
func FieldTypes() []TypeInfo { return append([]TypeInfo(nil), typeTable...) }

// Info returns the declaration of a field type; ok is false for an
// unknown type.
func (t FieldType) Info() (info TypeInfo, ok bool) {
	i, ok := typeIndex[t]
	if !ok {
		return TypeInfo{}, false
	}
	return typeTable[i], true
}

// Valid reports whether t is a known field type.
func (t FieldType) Valid() bool { _, ok := typeIndex[t]; return ok }

// IsExpression reports whether values of this type are expressions.
func (t FieldType) IsExpression() bool { i, _ := t.Info(); return i.Code.IsExpression() }

// IsTemplate reports whether values of this type are templates.
func (t FieldType) IsTemplate() bool { i, _ := t.Info(); return i.Code.IsTemplate() }

// normalize checks one value against f and returns its normalised form.
func (f Field) normalize(path string, v any) (any, []FieldError) {
	i, ok := typeIndex[f.Type]
	if !ok {
		return bad(path, "unsupported field type %q", f.Type)
	}
	t := &typeTable[i]
	return t.normalize(t, f, path, v)
}

func (f Field) maxLength() int {
	if f.MaxLength > 0 {
		return f.MaxLength
	}
	if i, _ := f.Type.Info(); i.MaxLength > 0 {
		return i.MaxLength
	}
	return MaxStringLength
}

func bad(path, format string, args ...any) (any, []FieldError) {
	return nil, []FieldError{{Field: path, Message: fmt.Sprintf(format, args...)}}
}

// normalizeText checks the text types: a string within the length limit,
// valid UTF-8, then the type's line and blank rules and its own check.
func normalizeText(t *TypeInfo, f Field, path string, v any) (any, []FieldError) {
	s, ok := v.(string)
	if !ok {
		return bad(path, "expected a string, got %s", typeName(v))
	}
	if max := f.maxLength(); len(s) > max {
		return bad(path, "too long (%d bytes, at most %d)", len(s), max)
	}
	if !utf8.ValidString(s) {
		return bad(path, "not valid UTF-8")
	}
	if t.SingleLine && strings.ContainsAny(s, "\r\n") {
		return bad(path, "must be a single line")
	}
	if t.NotBlank && f.Required && strings.TrimSpace(s) == "" {
		return bad(path, "required")
	}
	if t.check != nil {
		if err := t.check(f, s); err != nil {
			return bad(path, "%v", err)
		}
	}
	return s, nil
}

func checkEnum(f Field, s string) error {
	for _, e := range f.Enum {
		if s == e {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(f.Enum, ", "), clip(s, 64))
}

func normalizeDuration(_ *TypeInfo, f Field, path string, v any) (any, []FieldError) {
	s, ok := v.(string)
	if !ok {
		return bad(path, "expected a duration string such as \"3d\", got %s", typeName(v))
	}
	d, err := ParseDuration(s)
	if err != nil {
		return bad(path, "%v", err)
	}
	secs := d.Seconds()
	if f.Min == nil && d <= 0 {
		return bad(path, "must be longer than 0s")
	}
	if f.Min != nil && secs < *f.Min {
		return bad(path, "must be at least %s", FormatDuration(time.Duration(*f.Min)*time.Second))
	}
	if f.Max != nil && secs > *f.Max {
		return bad(path, "must be at most %s", FormatDuration(time.Duration(*f.Max)*time.Second))
	}
	return d, nil
}

func normalizeTimeOfDay(_ *TypeInfo, _ Field, path string, v any) (any, []FieldError) {
	s, ok := v.(string)
	if !ok {
		return bad(path, "expected a time of day such as \"09:30\", got %s", typeName(v))
	}
	c, err := ParseClock(s)
	if err != nil {
		return bad(path, "%v", err)
	}
	return c, nil
}

func normalizeWeekdays(_ *TypeInfo, _ Field, path string, v any) (any, []FieldError) {
	l, ok := v.([]any)
	if !ok {
		if ws, ok := v.([]string); ok {
			l = make([]any, len(ws))
			for i, w := range ws {
				l[i] = w
			}
		} else {
			return bad(path, "expected a list of weekdays such as [\"mon\", \"fri\"], got %s", typeName(v))
		}
	}
	if len(l) > 7 {
		return bad(path, "at most 7 weekdays")
	}
	seen := map[time.Weekday]bool{}
	out := make([]time.Weekday, 0, len(l))
	for i, e := range l {
		s, _ := e.(string)
		d, err := ParseWeekday(s)
		if err != nil {
			return bad(fmt.Sprintf("%s[%d]", path, i), "%s", err.Error())
		}
		if seen[d] {
			return bad(fmt.Sprintf("%s[%d]", path, i), "duplicate weekday %q", s)
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}

func normalizeNumber(t *TypeInfo, f Field, path string, v any) (any, []FieldError) {
	n, ok := number(v)
	if !ok {
		return bad(path, "expected a number, got %s", typeName(v))
	}
	whole := t.Type == Integer
	if whole && (n != math.Trunc(n) || math.Abs(n) > 1<<53) {
		return bad(path, "expected a whole number, got %v", n)
	}
	if f.Min != nil && n < *f.Min {
		return bad(path, "must be at least %v", *f.Min)
	}
	if f.Max != nil && n > *f.Max {
		return bad(path, "must be at most %v", *f.Max)
	}
	if whole {
		return int64(n), nil
	}
	return n, nil
}

func normalizeBoolean(_ *TypeInfo, _ Field, path string, v any) (any, []FieldError) {
	b, ok := v.(bool)
	if !ok {
		return bad(path, "expected true or false, got %s", typeName(v))
	}
	return b, nil
}

func normalizeList(_ *TypeInfo, f Field, path string, v any) (any, []FieldError) {
	items := listItemsStrict(v)
	if items == nil {
		return bad(path, "expected a list of objects, got %s", typeName(v))
	}
	max := MaxListItems
	if f.Max != nil {
		max = int(*f.Max)
	}
	if len(items) > max {
		return bad(path, "at most %d item(s), got %d", max, len(items))
	}
	if f.Min != nil && float64(len(items)) < *f.Min {
		return bad(path, "needs at least %v item(s), got %d", *f.Min, len(items))
	}
	var errs []FieldError
	out := make([]Config, len(items))
	for i, it := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		m, ok := it.(map[string]any)
		if !ok {
			if c, ok2 := it.(Config); ok2 {
				m, ok = c, true
			}
		}
		if !ok {
			errs = append(errs, FieldError{Field: ipath, Message: fmt.Sprintf("expected an object, got %s", typeName(it))})
			continue
		}
		c, ierrs := normalizeObject(ipath+".", f.Items, m)
		errs = append(errs, ierrs...)
		out[i] = c
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}
