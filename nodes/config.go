package nodes

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Config is a node's config after normalisation ([Spec.Normalize]):
// defaults applied, inactive fields dropped, and each value in its
// field type's Go form:
//
//	string, text, expression, condition, template, html, json,
//	timezone, cron, connector, enum   → string
//	duration                          → time.Duration
//	time_of_day                       → Clock
//	weekdays                          → []time.Weekday
//	integer                           → int64
//	number                            → float64
//	boolean                           → bool
//	list                              → []Config
type Config map[string]any

// String returns a string-like field, or "".
func (c Config) String(name string) string { s, _ := c[name].(string); return s }

// Int returns an integer field, or 0.
func (c Config) Int(name string) int64 { n, _ := c[name].(int64); return n }

// Float returns a number field, or 0.
func (c Config) Float(name string) float64 { f, _ := c[name].(float64); return f }

// Bool returns a boolean field, or false.
func (c Config) Bool(name string) bool { b, _ := c[name].(bool); return b }

// Duration returns a duration field, or 0.
func (c Config) Duration(name string) time.Duration { d, _ := c[name].(time.Duration); return d }

// Clock returns a time_of_day field and whether it is set.
func (c Config) Clock(name string) (Clock, bool) { k, ok := c[name].(Clock); return k, ok }

// Weekdays returns a weekdays field, or nil.
func (c Config) Weekdays(name string) []time.Weekday { w, _ := c[name].([]time.Weekday); return w }

// List returns a list field, or nil.
func (c Config) List(name string) []Config { l, _ := c[name].([]Config); return l }

// Has reports whether the field is present.
func (c Config) Has(name string) bool { _, ok := c[name]; return ok }

// Default length limits, in bytes, by field type.
const (
	MaxStringLength     = 1024
	MaxTextLength       = 16 << 10
	MaxExpressionLength = 4 << 10
	MaxTemplateLength   = 64 << 10
	MaxHTMLLength       = 512 << 10
	MaxJSONLength       = 64 << 10
	// MaxListItems bounds list fields that set no Max.
	MaxListItems = 100
)

// Normalize checks a raw config (as decoded from JSON) against the
// spec's fields and returns it normalised, with defaults applied. It
// reports unknown and missing fields, wrong types, enum values, bounds
// and lengths, then, when all fields are well typed, the kind's own
// Check. Expressions and templates are checked for length only; the
// caller compiles them. Problems are in field order; paths look like
// "cases[1].expr".
func (s Spec) Normalize(raw map[string]any) (Config, []FieldError) {
	cfg, errs := normalizeObject("", s.Fields, raw)
	if len(errs) == 0 && s.Check != nil {
		errs = append(errs, s.Check(cfg)...)
	}
	return cfg, errs
}

func normalizeObject(prefix string, fields []Field, raw map[string]any) (Config, []FieldError) {
	var errs []FieldError
	cfg := make(Config, len(raw)+1)
	var unknown []string
	for k := range raw {
		if !hasField(fields, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, FieldError{Field: prefix + k, Message: fmt.Sprintf("unknown field %q", clip(k, 64))})
	}
	// eff is raw plus defaults, so When conditions see defaulted values.
	eff := raw
	if hasWhen(fields) {
		eff = make(map[string]any, len(raw)+2)
		for k, v := range raw {
			eff[k] = v
		}
		for _, f := range fields {
			if _, ok := raw[f.Name]; !ok && f.Default != nil {
				eff[f.Name] = f.Default
			}
		}
	}
	for _, f := range fields {
		path := prefix + f.Name
		v, present := raw[f.Name]
		active := f.Active(eff)
		if !present || v == nil {
			if active && f.Default != nil {
				cfg[f.Name] = normalizeDefault(f)
			} else if active && f.Required {
				errs = append(errs, FieldError{Field: path, Message: "required"})
			}
			continue
		}
		nv, ferrs := f.normalize(path, v)
		errs = append(errs, ferrs...)
		if len(ferrs) == 0 && active {
			cfg[f.Name] = nv
		}
	}
	return cfg, errs
}

func hasField(fields []Field, name string) bool {
	for i := range fields {
		if fields[i].Name == name {
			return true
		}
	}
	return false
}

func hasWhen(fields []Field) bool {
	for i := range fields {
		if fields[i].When != nil {
			return true
		}
	}
	return false
}

// normalizeDefault returns the normalised default; defaults are checked
// at registration.
func normalizeDefault(f Field) any {
	v, _ := f.normalize(f.Name, f.Default)
	return v
}

// ValidPortName reports whether s may name a port: 1–32 characters of
// a-z, 0-9, _ and -, starting with a letter or digit.
func ValidPortName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '_' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func listItemsStrict(v any) []any {
	switch l := v.(type) {
	case []any:
		if l == nil {
			return []any{}
		}
		return l
	case []map[string]any:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out
	case []Config:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out
	}
	return nil
}

// number converts the numeric types JSON decoding and Go callers
// produce.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil && !math.IsInf(f, 0)
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// typeName names a decoded JSON value's type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, uint, uint64:
		return "a number"
	case []any, []string, []map[string]any, []Config:
		return "a list"
	case map[string]any, Config:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
