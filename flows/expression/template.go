package expression

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Escaping says how a template inserts values.
type Escaping int

// Escaping modes.
const (
	Text     Escaping = iota // values as text (subjects, SMS, plain-text bodies)
	HTML                     // values HTML-escaped (HTML bodies); literal text is kept as written
	JSONText                 // the template is JSON; values become JSON values, or string content inside "…"
)

// Template limits.
const (
	// MaxTemplateLength bounds a template's size in bytes.
	MaxTemplateLength = 512 << 10
	// MaxPlaceholders bounds the number of {{ … }} in one template.
	MaxPlaceholders = 200
)

// Template is a parsed template: literal text with {{ expression }}
// placeholders. Each placeholder is a guarded expression of kind Any;
// write a default with ?? (nil only) or default(x, "…") (nil or ""):
//
//	Hi {{ profile.first_name ?? "there" }}
//
// A literal "{{" is written {{ "{{" }}. A Template is safe for
// concurrent use.
type Template struct {
	src   string
	esc   Escaping
	parts []part
}

type part struct {
	text     string   // literal text, when prog is nil
	prog     *Program // placeholder
	inString bool     // JSON: placeholder sits inside a string literal
}

// Source returns the template's text.
func (t *Template) Source() string { return t.src }

// ParseTemplate parses and compiles a template. Errors are *Error values
// positioned in the template.
func ParseTemplate(src string, esc Escaping) (*Template, error) {
	return parseTemplate(src, esc, true)
}

// CheckTemplate validates a template like ParseTemplate without
// generating bytecode.
func CheckTemplate(src string, esc Escaping) error {
	_, err := parseTemplate(src, esc, false)
	return err
}

// Render renders src once; prefer ParseTemplate then Template.Render.
func Render(src string, env *Env, html bool) (string, error) {
	esc := Text
	if html {
		esc = HTML
	}
	t, err := ParseTemplate(src, esc)
	if err != nil {
		return "", err
	}
	return t.Render(env)
}

func parseTemplate(src string, esc Escaping, generate bool) (*Template, error) {
	if len(src) > MaxTemplateLength {
		return nil, &Error{Message: fmt.Sprintf("template too long (%d bytes, at most %d)", len(src), MaxTemplateLength)}
	}
	if !utf8.ValidString(src) {
		return nil, &Error{Message: "template is not valid UTF-8"}
	}
	t := &Template{src: src, esc: esc}
	var js jsonScanner
	var skeleton strings.Builder // JSON: the template with placeholders replaced, to check syntax
	rest, off, n := src, 0, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, part{text: rest})
				js.scan(rest)
				skeleton.WriteString(rest)
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{text: rest[:i]})
			js.scan(rest[:i])
			skeleton.WriteString(rest[:i])
		}
		start := off + i // offset of "{{"
		body := rest[i+2:]
		end := placeholderEnd(body)
		if end < 0 {
			line, col := position(src, start)
			return nil, &Error{Line: line, Column: col, Message: "{{ is not closed by }}"}
		}
		n++
		if n > MaxPlaceholders {
			line, col := position(src, start)
			return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("too many placeholders (at most %d)", MaxPlaceholders)}
		}
		exprSrc := body[:end]
		p, err := build(exprSrc, Any, generate)
		if err != nil {
			return nil, shiftError(src, start+2, err)
		}
		var prog *Program
		if generate {
			prog = &Program{src: exprSrc, kind: Any, prog: p}
		}
		t.parts = append(t.parts, part{prog: prog, inString: js.inString})
		if js.inString {
			skeleton.WriteString("x")
		} else {
			skeleton.WriteString("null")
		}
		consumed := i + 2 + end + 2
		rest = rest[consumed:]
		off += consumed
	}
	if esc == JSONText && !json.Valid([]byte(skeleton.String())) {
		var v any
		err := json.Unmarshal([]byte(skeleton.String()), &v)
		return nil, &Error{Message: fmt.Sprintf("not valid JSON (with placeholders as values): %v", err)}
	}
	return t, nil
}

// Placeholders returns the expression source between each {{ and its }}
// in src, in order, as ParseTemplate reads them (string literals may hold
// braces), up to MaxPlaceholders; it stops at a {{ that is not closed.
// Tools that look into a template (the editor's preview check) read it
// through this rather than a scan of their own.
func Placeholders(src string) []string {
	var out []string
	for len(out) < MaxPlaceholders {
		i := strings.Index(src, "{{")
		if i < 0 {
			break
		}
		body := src[i+2:]
		end := placeholderEnd(body)
		if end < 0 {
			break
		}
		out = append(out, body[:end])
		src = body[end+2:]
	}
	return out
}

// placeholderEnd returns the offset of the "}}" closing a placeholder
// body, skipping string literals and balanced braces, or -1.
func placeholderEnd(s string) int {
	depth := 0
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			k := skipString(s, j)
			if k < 0 {
				return -1
			}
			j = k
		case '{':
			depth++
		case '}':
			if depth == 0 {
				if j+1 < len(s) && s[j+1] == '}' {
					return j
				}
				return -1
			}
			depth--
		}
	}
	return -1
}

// shiftError positions an expression error inside the template, where
// the expression starts at byte offset base.
func shiftError(src string, base int, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	line, col := position(src, base)
	if e.Line == 0 {
		return &Error{Line: line, Column: col, Message: e.Message}
	}
	if e.Line == 1 {
		return &Error{Line: line, Column: col + e.Column - 1, Message: e.Message}
	}
	return &Error{Line: line + e.Line - 1, Column: e.Column, Message: e.Message}
}

// jsonScanner tracks whether the text scanned so far ends inside a JSON
// string literal.
type jsonScanner struct {
	inString, escaped bool
}

func (s *jsonScanner) scan(text string) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case s.escaped:
			s.escaped = false
		case s.inString && c == '\\':
			s.escaped = true
		case c == '"':
			s.inString = !s.inString
		}
	}
}

// Render evaluates the placeholders against env and joins the parts.
// The placeholders share one budget (MaxEvalBytes) and the output is at
// most MaxRenderBytes; past either the error wraps ErrTooLarge.
func (t *Template) Render(env *Env) (string, error) {
	var b strings.Builder
	b.Grow(min(len(t.src), MaxRenderBytes))
	meter := newMeter(MaxEvalBytes)
	room := func(n int) error {
		if n > MaxRenderBytes-b.Len() {
			return fmt.Errorf("%w: the rendered text would be longer than %s", ErrTooLarge, byteSize(MaxRenderBytes))
		}
		return nil
	}
	for _, p := range t.parts {
		if p.prog == nil {
			if err := room(len(p.text)); err != nil {
				return "", err
			}
			b.WriteString(p.text)
			continue
		}
		fail := func(err error) (string, error) {
			return "", fmt.Errorf("rendering {{ %s }}: %w", clip(strings.TrimSpace(p.prog.src), 60), err)
		}
		v, err := p.prog.eval(env, &meter)
		if err != nil {
			return fail(err)
		}
		// Measure before formatting: a list of long values is written
		// out as JSON only if it fits.
		if _, err := textSize(v, MaxRenderBytes-b.Len()); err != nil {
			return fail(room(MaxRenderBytes + 1))
		}
		var out string
		switch t.esc {
		case HTML:
			out = html.EscapeString(FormatValue(v)) // at most 5 bytes per byte of a bounded value
		case JSONText:
			if p.inString {
				q, _ := json.Marshal(FormatValue(v))
				out = string(q[1 : len(q)-1])
			} else {
				q, err := json.Marshal(jsonValue(v))
				if err != nil {
					return fail(err)
				}
				out = string(q)
			}
		default:
			out = FormatValue(v)
		}
		if err := room(len(out)); err != nil {
			return fail(err)
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

// FormatValue turns an expression's value into text: nil is "", numbers
// are written without exponent, times in RFC 3339, lists and maps as
// JSON.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonValue makes v marshalable: NaN and infinities become null.
func jsonValue(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil
	}
	return v
}
