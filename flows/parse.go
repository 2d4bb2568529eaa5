package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
)

// Parse reads a journey document. It checks size (at most
// [MaxDocumentSize]), nesting (at most jsonlimit.MaxDepth levels), JSON syntax (reported with line and column), the
// v1 shape (unknown fields, wrong JSON types, each with its path, e.g.
// "nodes[3].position.x: expected a number, got a string") and the format
// version. Node configs are kept as decoded; their fields are checked
// by [Validate]. Errors are *ParseError.
func Parse(data []byte) (*Journey, error) {
	if len(data) > MaxDocumentSize {
		return nil, parseError("", fmt.Sprintf("document too large (%d bytes, at most %d)", len(data), MaxDocumentSize))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, parseError("", "empty document")
	}
	var deep *jsonlimit.DepthError
	if errors.As(jsonlimit.CheckDepth(data, jsonlimit.MaxDepth), &deep) {
		// Checked on the raw bytes, before decoding: a deep value costs
		// quadratic space once indented (Marshal), as documents are stored.
		line, col := lineCol(data, deep.Offset)
		return nil, parseError("", fmt.Sprintf("invalid JSON at line %d, column %d: objects and arrays nest deeper than %d levels (at most %d)", line, col, deep.Limit, deep.Limit))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, parseError("", syntaxMessage(data, err, dec.InputOffset()))
	}
	end := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		for end < len(data) && (data[end] == ' ' || data[end] == '\t' || data[end] == '\n' || data[end] == '\r') {
			end++
		}
		line, col := lineCol(data, end)
		return nil, parseError("", fmt.Sprintf("invalid JSON at line %d, column %d: unexpected data after the document", line, col))
	}
	d := &decoder{}
	var j Journey
	d.decode("", raw, reflect.ValueOf(&j).Elem())
	if m, ok := raw.(map[string]any); ok {
		switch f, present := m["format"]; {
		case !present:
			d.add("format", fmt.Sprintf("required: this Waymark reads format %d", Format))
		case j.Format != Format:
			if n, ok := f.(json.Number); ok {
				d.add("format", fmt.Sprintf("unsupported format %s: this Waymark reads format %d", clipKey(string(n)), Format))
			}
		}
	}
	if path, ok := findNUL("", raw); ok {
		// No database text column can store it (PostgreSQL refuses it).
		d.add(path, "contains a NUL character (\\u0000): text cannot hold it")
	}
	if len(d.problems) > 0 {
		attachNodeIDs(d.problems, raw)
		return nil, &ParseError{Problems: d.problems}
	}
	return &j, nil
}

// findNUL reports the path of the first key or string of v that holds a
// NUL character (keys in sorted order, so the answer is stable).
func findNUL(path string, v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return path, strings.ContainsRune(t, 0)
	case []any:
		for i, e := range t {
			if p, ok := findNUL(fmt.Sprintf("%s[%d]", path, i), e); ok {
				return p, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.ContainsRune(k, 0) {
				return path, true
			}
			if q, ok := findNUL(p, t[k]); ok {
				return q, true
			}
		}
	}
	return "", false
}

func parseError(field, msg string) *ParseError {
	return &ParseError{Problems: []Problem{{Field: field, Message: msg}}}
}

// syntaxMessage describes a JSON decoding error with its position.
func syntaxMessage(data []byte, err error, offset int64) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, int(se.Offset)-1) // Offset is just past the bad byte
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		line, col := lineCol(data, len(data))
		return fmt.Sprintf("invalid JSON at line %d, column %d: unexpected end of input (is the document truncated?)", line, col)
	}
	line, col := lineCol(data, int(offset))
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(err.Error(), "json: "))
}

// lineCol returns the 1-based line and column (in bytes) of offset.
func lineCol(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = offset - bytes.LastIndexByte(before, '\n')
	return line, col
}

// attachNodeIDs sets NodeID on problems under nodes[i] whose node has a
// string id.
func attachNodeIDs(problems []Problem, raw any) {
	m, _ := raw.(map[string]any)
	list, _ := m["nodes"].([]any)
	for i := range problems {
		f := problems[i].Field
		if !strings.HasPrefix(f, "nodes[") {
			continue
		}
		end := strings.IndexByte(f, ']')
		idx, err := strconv.Atoi(f[len("nodes["):max(end, len("nodes["))])
		if err != nil || idx < 0 || idx >= len(list) {
			continue
		}
		if n, ok := list[idx].(map[string]any); ok {
			if id, ok := n["id"].(string); ok && validNodeID(id) {
				problems[i].NodeID = id
			}
		}
	}
}

// decoder maps a decoded JSON value onto the document types, recording
// every mismatch with its path.
type decoder struct {
	problems []Problem
}

func (d *decoder) add(path, msg string) {
	if len(d.problems) < MaxProblems {
		d.problems = append(d.problems, Problem{Field: path, Message: msg})
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldCache sync.Map // reflect.Type → map[string]int

// jsonFields maps a struct's JSON names to field indexes.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	fieldCache.Store(t, m)
	return m
}

func (d *decoder) decode(path string, v any, rv reflect.Value) {
	if v == nil {
		return // null leaves the zero value
	}
	where := path
	if where == "" {
		where = "document"
	}
	switch rv.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(where, fmt.Sprintf("expected an object, got %s", jsonType(v)))
			return
		}
		t := rv.Type()
		fields := jsonFields(t)
		for i := 0; i < t.NumField(); i++ { // known fields in declaration order
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if val, ok := m[name]; ok && name != "" && name != "-" {
				d.decode(join(path, name), val, rv.Field(i))
			}
		}
		var unknown []string
		for k := range m {
			if _, ok := fields[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			d.add(join(path, clipKey(k)), "unknown field")
		}
	case reflect.Pointer:
		p := reflect.New(rv.Type().Elem())
		d.decode(path, v, p.Elem())
		rv.Set(p)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.add(where, fmt.Sprintf("expected a string, got %s", jsonType(v)))
			return
		}
		rv.SetString(s)
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			d.add(where, fmt.Sprintf("expected a number, got %s", jsonType(v)))
			return
		}
		i, err := strconv.ParseInt(string(n), 10, 32)
		if err != nil {
			f, ferr := n.Float64()
			if ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<31 {
				i = int64(f)
			} else {
				d.add(where, fmt.Sprintf("expected a whole number, got %s", clipKey(string(n))))
				return
			}
		}
		rv.SetInt(i)
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			d.add(where, fmt.Sprintf("expected a number, got %s", jsonType(v)))
			return
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			d.add(where, fmt.Sprintf("number out of range: %s", clipKey(string(n))))
			return
		}
		rv.SetFloat(f)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.add(where, fmt.Sprintf("expected true or false, got %s", jsonType(v)))
			return
		}
		rv.SetBool(b)
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			d.add(where, fmt.Sprintf("expected a list, got %s", jsonType(v)))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(l), len(l))
		for i, e := range l {
			d.decode(fmt.Sprintf("%s[%d]", path, i), e, s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(where, fmt.Sprintf("expected an object, got %s", jsonType(v)))
			return
		}
		if rv.Type().Elem().Kind() == reflect.Interface {
			rv.Set(reflect.ValueOf(m))
			return
		}
		out := reflect.MakeMapWithSize(rv.Type(), len(m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := reflect.New(rv.Type().Elem()).Elem()
			d.decode(join(path, clipKey(k)), m[k], e)
			out.SetMapIndex(reflect.ValueOf(k), e)
		}
		rv.Set(out)
	case reflect.Interface:
		rv.Set(reflect.ValueOf(v))
	default:
		d.add(where, fmt.Sprintf("unsupported field type %s", rv.Type()))
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func clipKey(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return s
}
