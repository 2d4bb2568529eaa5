package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/waymarkhq/waymark/nodes"
)

// JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) for the OpenAPI
// document. They are made from what the server really encodes and
// decodes, so the document follows the code:
//
//   - bodies: by reflection over the Go types the handlers marshal and
//     decode, with encoding/json's rules (tags, omitempty, embedding);
//   - node configs and connector configs: from the node and connector
//     specs (nodes.Field), one schema per kind or type.
//
// The replay test (openapi_replay_test.go) checks every request and
// response of the API tests against the result.

// schemaMode says which way a body goes.
type schemaMode int

const (
	// readMode: what the server sends. A field without omitempty is
	// always there (required); a pointer without it may be null.
	readMode schemaMode = iota
	// writeMode: what the server takes. Every body is decoded strictly
	// (unknown fields are refused), so objects are closed; which fields
	// are required is the handler's rule (writeRequired).
	writeMode
)

type typeKey struct {
	t    reflect.Type
	mode schemaMode
}

// schemaGen builds component schemas; one per document.
type schemaGen struct {
	defs  map[string]any     // components.schemas
	names map[typeKey]string // types already made
	owner map[string]typeKey // to refuse two types under one name
	t     tables             // the parts' names, required fields and refinements
}

func newSchemaGen(t tables) *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[typeKey]string{}, owner: map[string]typeKey{}, t: t}
}

// Ref is a reference to a component schema.
func Ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// Str is the schema of a string.
func Str() map[string]any { return map[string]any{"type": "string"} }

// describe returns s with a description.
func describe(s map[string]any, d string) map[string]any {
	out := make(map[string]any, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	if d != "" {
		out["description"] = d
	}
	return out
}

// nullable lets s be null too.
func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok && len(s) <= 3 && s["enum"] == nil {
		out := make(map[string]any, len(s))
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{t, "null"}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

// of returns the schema of Go type t, as encoding/json writes (readMode)
// or reads (writeMode) it. Named struct types become components.
func (g *schemaGen) of(t reflect.Type, mode schemaMode) map[string]any {
	if s, ok := g.t.typeSchemas[t]; ok {
		return s
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler):
		return map[string]any{}
	case t.Kind() != reflect.String && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)):
		return Str()
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return Str()
	case reflect.Interface:
		return map[string]any{} // any JSON value
	case reflect.Pointer:
		return g.of(t.Elem(), mode)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.of(t.Elem(), mode)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem(), mode)}
	case reflect.Struct:
		return g.component(t, mode)
	}
	panic(fmt.Sprintf("openapi: no JSON schema for Go type %s", t))
}

// component makes (once) and references the component of struct type t.
func (g *schemaGen) component(t reflect.Type, mode schemaMode) map[string]any {
	if g.t.sharedTypes[t] {
		mode = writeMode
	}
	key := typeKey{t, mode}
	if name, ok := g.names[key]; ok {
		return Ref(name)
	}
	name := g.t.names[t]
	if name == "" {
		name = strings.TrimSuffix(t.Name(), "JSON")
		if name == "" {
			panic(fmt.Sprintf("openapi: anonymous struct type %s needs a named type", t))
		}
		r := []rune(name)
		r[0] = unicode.ToUpper(r[0])
		name = string(r)
	}
	if mode == writeMode && !g.t.sharedTypes[t] {
		name += "Input"
	}
	if prev, ok := g.owner[name]; ok && prev != key {
		panic(fmt.Sprintf("openapi: types %s and %s both make component %q: name one in a Part's Names", prev.t, t, name))
	}
	g.owner[name], g.names[key] = key, name // first: a type that contains itself gets a reference
	g.defs[name] = g.object(t, mode)
	return Ref(name)
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name     string
	typ      reflect.Type
	optional bool // omitempty or omitzero
	asString bool // ",string"
}

// jsonFields lists t's JSON fields in order, embedded structs flattened
// (an outer field wins over a promoted one of the same name).
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	seen := map[string]bool{}
	var deeper []reflect.Type
	walk := func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					deeper = append(deeper, et)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			o := "," + opts + ","
			out = append(out, jsonField{name: name, typ: ft,
				optional: strings.Contains(o, ",omitempty,") || strings.Contains(o, ",omitzero,"),
				asString: strings.Contains(o, ",string,")})
		}
	}
	walk(t)
	for len(deeper) > 0 { // embedded structs, one level at a time
		next := deeper
		deeper = nil
		for _, et := range next {
			walk(et)
		}
	}
	return out
}

// object is the schema of struct type t.
func (g *schemaGen) object(t reflect.Type, mode schemaMode) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonFields(t) {
		var s map[string]any
		switch {
		case f.asString:
			s = Str()
		default:
			s = g.of(f.typ, mode)
		}
		if mode == readMode && !f.optional {
			required = append(required, f.name)
			if k := f.typ.Kind(); k == reflect.Pointer || k == reflect.Interface {
				if len(s) > 0 {
					s = nullable(s)
				}
			}
		}
		if o, ok := g.t.fields[t][f.name]; ok {
			s = refine(s, o)
		}
		props[f.name] = s
	}
	if mode == writeMode {
		required = g.t.writeRequired[t]
	}
	o := map[string]any{"type": "object", "properties": props}
	if mode == writeMode {
		o["additionalProperties"] = false
	}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	return o
}

// refine applies a fieldSchemas entry to a generated property schema.
func refine(s, o map[string]any) map[string]any {
	if o["$ref"] != nil || o["oneOf"] != nil || o["anyOf"] != nil {
		return o
	}
	if s["$ref"] != nil {
		// Words next to a reference go on a wrapper: tools read a
		// reference's siblings unevenly.
		s = map[string]any{"allOf": []any{s}}
	}
	out := make(map[string]any, len(s)+len(o))
	for k, v := range s {
		out[k] = v
	}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// Patterns of the spec field types whose values are formatted strings
// (nodes.ParseDuration, nodes.ParseClock).
const (
	durationPattern  = `^[+-]?([0-9]{1,9}[wdhms])+$`
	timeOfDayPattern = `^([01][0-9]|2[0-3]):[0-5][0-9]$`
	singleLine       = `^[^\r\n]*$`
	singleLineFilled = `^[^\r\n]*\S[^\r\n]*$`
	filled           = `\S`
)

// specFields is the schema of a config object declared by spec fields
// (a node kind's config, a connector type's config, a list field's
// items), as nodes.Spec.Normalize checks it: unknown keys refused, types,
// enums, bounds and lengths, required fields (those without a default
// that apply: a field with When is required only while it applies). The
// kinds' own cross-field checks are not expressed.
func specFields(fields []nodes.Field) map[string]any {
	props := map[string]any{}
	var required []string
	var conditional []any
	byName := map[string]nodes.Field{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	for _, f := range fields {
		props[f.Name] = specField(f, byName)
		if !f.Required || f.Default != nil {
			continue
		}
		if f.When == nil {
			required = append(required, f.Name)
			continue
		}
		// Required while the field it depends on has one of the values
		// (or is absent and its default is one of them).
		cond := map[string]any{"properties": map[string]any{f.When.Field: map[string]any{"enum": f.When.Values}}}
		if d, ok := byName[f.When.Field].Default.(string); !ok || !contains(f.When.Values, d) {
			cond["required"] = []string{f.When.Field}
		}
		conditional = append(conditional, map[string]any{"if": cond, "then": map[string]any{"required": []string{f.Name}}})
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	if len(conditional) > 0 {
		o["allOf"] = conditional
	}
	return o
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// specField is the schema of one spec field's value.
func specField(f nodes.Field, byName map[string]nodes.Field) map[string]any {
	info, ok := f.Type.Info()
	if !ok {
		panic(fmt.Sprintf("openapi: spec field %q has type %q, which has no schema here", f.Name, f.Type))
	}
	// What the field-type table declares: the JSON type, the length
	// limit of text (bytes on the server; a character is at least one)
	// and whether a value is one line or must not be blank.
	s := map[string]any{"type": info.SchemaType}
	if info.MaxLength > 0 && f.Type != nodes.Enum { // an enum's values bound it
		s["maxLength"] = maxLen(f, info.MaxLength)
	}
	switch {
	case info.SingleLine && f.Required:
		s["pattern"] = singleLineFilled
	case info.SingleLine:
		s["pattern"] = singleLine
	case info.NotBlank && f.Required:
		s["pattern"] = filled
	}
	// What depends on the field itself.
	switch f.Type {
	case nodes.Timezone:
		s["description"] = "IANA time zone, e.g. Europe/Paris"
	case nodes.Enum:
		s["enum"] = f.Enum
	case nodes.Duration:
		s["pattern"] = durationPattern
	case nodes.TimeOfDay:
		s["pattern"] = timeOfDayPattern
	case nodes.Weekdays:
		s["items"] = map[string]any{"enum": nodes.WeekdayNames}
		s["maxItems"] = 7
		s["uniqueItems"] = true
	case nodes.Integer, nodes.Number:
		if f.Min != nil {
			s["minimum"] = *f.Min
		}
		if f.Max != nil {
			s["maximum"] = *f.Max
		}
	case nodes.List:
		s["items"] = specFields(f.Items)
		s["maxItems"] = nodes.MaxListItems
		if f.Max != nil {
			s["maxItems"] = int(*f.Max)
		}
		if f.Min != nil {
			s["minItems"] = int(*f.Min)
		}
	}
	if f.Title != "" {
		s["title"] = f.Title
	}
	var words []string
	if d, ok := s["description"].(string); ok {
		words = append(words, d)
	}
	if f.Help != "" {
		words = append(words, f.Help)
	}
	if f.Type == nodes.Connector && f.Channel != "" {
		words = append(words, "The name of a connector for the "+f.Channel+" channel.")
	}
	if f.Type == nodes.Duration {
		words = append(words, durationWords(f))
	}
	if f.When != nil {
		words = append(words, fmt.Sprintf("Applies only when %s is %s.", f.When.Field, strings.Join(f.When.Values, " or ")))
	}
	if f.Secret {
		s["writeOnly"] = true
		words = append(words, "Secret: stored encrypted, never returned.")
	}
	if len(words) > 0 {
		s["description"] = strings.Join(words, " ")
	}
	if f.Default != nil {
		s["default"] = jsonValue(f.Default)
	}
	return s
}

func maxLen(f nodes.Field, def int) int {
	if f.MaxLength > 0 {
		return f.MaxLength
	}
	if def == 0 {
		return nodes.MaxStringLength
	}
	return def
}

// durationWords says a duration field's format and bounds.
func durationWords(f nodes.Field) string {
	w := "A duration: whole numbers with units w, d, h, m, s, e.g. 90m, 3d, 1w2d"
	lo := "more than 0s"
	if f.Min != nil {
		lo = "at least " + nodes.FormatDuration(time.Duration(*f.Min)*time.Second)
	}
	hi := nodes.FormatDuration(nodes.MaxDuration)
	if f.Max != nil {
		hi = nodes.FormatDuration(time.Duration(*f.Max) * time.Second)
	}
	return w + "; " + lo + " and at most " + hi + "."
}

// jsonValue turns a spec default into the JSON value it stands for
// (durations are kept as written).
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return fmt.Sprint(v)
	}
	return out
}
