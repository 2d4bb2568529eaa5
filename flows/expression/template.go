package expression

import (
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
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
	nodes []tnode // set when the template has blocks ({% if %}, {% for %}): parseBlocks
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
	if esc != JSONText && hasBlocks(src) { // a JSON template's text is JSON: "{%" in it is text
		return parseBlocks(src, esc, generate)
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
	if t.nodes != nil {
		return t.renderBlocks(env)
	}
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

// Blocks (docs/templates.md): a text or HTML template may also hold
//
//	{% if expr %}…{% else if expr %}…{% else %}…{% end %}
//	{% for item in list %}…{{ item.name }}…{% end %}
//
// Conditions are truthy (nil, false, "", 0 and empty lists and maps are
// false). Inside a for block the item's name and loop (loop.index from 1,
// loop.first, loop.last) are variables. The sandbox is the expressions':
// every placeholder and condition shares the render's budget
// (MaxEvalBytes) and the output is at most MaxRenderBytes; loops run at
// most MaxLoopIterations times in all per render, blocks nest at most
// MaxBlockDepth deep and a template has at most MaxPlaceholders
// placeholders and tags together. "{%" followed by anything but if, else,
// end or for is literal text; a literal tag is written {{ "{%" }}. JSON
// templates have no blocks: "{%" in them is text, as before.

// Block limits.
const (
	// MaxBlockDepth bounds how deep blocks nest.
	MaxBlockDepth = 8
	// MaxLoopIterations bounds the iterations of all for blocks of one
	// render together.
	MaxLoopIterations = 1000
)

// blockTag finds "{%" followed by a block keyword.
var blockTag = regexp.MustCompile(`\{%-?\s*(if|else|end|for)\b`)

var loopVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// hasBlocks reports whether src holds a block tag outside placeholders.
func hasBlocks(src string) bool {
	if !strings.Contains(src, "{%") {
		return false
	}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if blockTag.MatchString(seg) {
			return true
		}
		if i < 0 {
			return false
		}
		end := placeholderEnd(rest[i+2:])
		if end < 0 {
			return false
		}
		rest = rest[i+2+end+2:]
	}
}

type tnodeKind int

const (
	tText tnodeKind = iota
	tValue
	tIf
	tFor
)

// tnode is one piece of a block template.
type tnode struct {
	kind     tnodeKind
	text     string
	expr     *texpr    // value, for's list
	branches []tbranch // if: conditions in order; a nil cond is the else
	body     []tnode   // for
	loopVar  string    // for
	line     int       // of the tag, for run-time errors
	col      int
}

type tbranch struct {
	cond *texpr // nil: else
	body []tnode
}

// texpr is a placeholder or a tag's expression: a Program when no loop
// variable is in scope, else a program over loopEnv.
type texpr struct {
	src    string
	prog   *Program
	scoped *vm.Program
}

// loopEnv is Env with the loop variables in scope: an expression naming
// one reads it from __loop (rewritten by loopScope before the guard).
type loopEnv struct {
	Env
	Loop map[string]any `expr:"__loop"`
}

const loopEnvName = "__loop"

// loopScope rewrites the loop variables' names into reads of __loop.
type loopScope map[string]bool

func (v loopScope) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && v[id.Value] {
		ast.Patch(node, &ast.MemberNode{Node: &ast.IdentifierNode{Value: loopEnvName}, Property: &ast.StringNode{Value: id.Value}})
	}
}

// buildScoped compiles an expression with loop variables in scope, with
// the same guard, estimate and options as build.
func buildScoped(src string, scope loopScope, generate bool) (prog *vm.Program, err error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Message: "empty expression"}
	}
	if err := precheck(src); err != nil {
		return nil, err
	}
	g := &guard{src: src}
	cfg, _ := scopedConfigs.Get().(*conf.Config)
	if cfg == nil {
		cfg = conf.CreateNew()
		for _, op := range baseOptions(Any) {
			op(cfg)
		}
		expr.Env(loopEnv{})(cfg)
		for name := range cfg.Disabled {
			delete(cfg.Builtins, name)
		}
		cfg.Check()
	}
	cfg.Visitors = []ast.Visitor{scope, g}
	panicked := false
	prog, err = func() (prog *vm.Program, err error) {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
				prog, err = nil, fmt.Errorf("internal error: %v", r)
			}
		}()
		tree, err := checker.ParseCheck(src, cfg)
		g.finish()
		if err != nil || g.err != nil {
			return nil, err
		}
		if e := estimate(src, tree.Node); e != nil {
			g.err = e
			return nil, nil
		}
		if cfg.Optimize {
			if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
				return nil, err
			}
		}
		if !generate {
			return nil, nil
		}
		return compiler.Compile(tree, cfg)
	}()
	if !panicked {
		cfg.Visitors = nil
		scopedConfigs.Put(cfg) // a config that saw a panic is dropped
	}
	if g.err != nil {
		return nil, g.err
	}
	if err != nil {
		return nil, convertError(src, err, Any)
	}
	return prog, nil
}

// scopedConfigs are compiler configurations over loopEnv, reused as
// build's are.
var scopedConfigs sync.Pool

func (e *texpr) eval(env *Env, vars map[string]any, meter *Meter) (out any, err error) {
	if e.scoped == nil {
		return e.prog.eval(env, meter)
	}
	le := loopEnv{Loop: vars}
	if env != nil {
		le.Env = *env
	}
	le.Meter = meter
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluating %q: %v", clip(e.src, 80), r)
		}
	}()
	var machine vm.VM
	out, err = machine.Run(e.scoped, &le)
	if err != nil {
		return nil, runtimeError(err)
	}
	switch out.(type) {
	case bool, nil, int, float64, time.Time:
	default:
		if _, err := textSize(out, meter.limit); err != nil {
			return nil, fmt.Errorf("evaluating %q: %w", clip(e.src, 80), err)
		}
	}
	return out, nil
}

// blockParser reads a template with blocks into a tree.
type blockParser struct {
	src      string
	generate bool
	count    int
	scope    loopScope
}

// frame is an open block while parsing.
type frame struct {
	node      *tnode
	tag       string
	line, col int
	sawElse   bool
}

func parseBlocks(src string, esc Escaping, generate bool) (*Template, error) {
	p := &blockParser{src: src, generate: generate, scope: loopScope{}}
	root := &tnode{kind: tFor} // holds the top level in body
	var stack []*frame
	// out returns the list new nodes go to.
	out := func() *[]tnode {
		if len(stack) == 0 {
			return &root.body
		}
		f := stack[len(stack)-1]
		if f.node.kind == tIf {
			return &f.node.branches[len(f.node.branches)-1].body
		}
		return &f.node.body
	}
	pos := 0
	for pos < len(src) {
		rest := src[pos:]
		iv := strings.Index(rest, "{{")
		ib := -1
		if loc := blockTag.FindStringIndex(rest); loc != nil {
			ib = loc[0]
		}
		if iv < 0 && ib < 0 {
			*out() = append(*out(), tnode{kind: tText, text: rest})
			break
		}
		i, isTag := iv, false
		if iv < 0 || (ib >= 0 && ib < iv) {
			i, isTag = ib, true
		}
		if i > 0 {
			*out() = append(*out(), tnode{kind: tText, text: rest[:i]})
		}
		start := pos + i
		line, col := position(src, start)
		p.count++
		if p.count > MaxPlaceholders {
			return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("too many placeholders and tags (at most %d)", MaxPlaceholders)}
		}
		body := src[start+2:]
		if !isTag {
			end := placeholderEnd(body)
			if end < 0 {
				return nil, &Error{Line: line, Column: col, Message: "{{ is not closed by }}"}
			}
			e, err := p.expr(body[:end], start+2)
			if err != nil {
				return nil, err
			}
			*out() = append(*out(), tnode{kind: tValue, expr: e, line: line, col: col})
			pos = start + 2 + end + 2
			continue
		}
		end := tagEnd(body)
		if end < 0 {
			return nil, &Error{Line: line, Column: col, Message: "{% is not closed by %}"}
		}
		inner := body[:end]
		innerOff := start + 2
		// Trim the tag's spaces (and a "-" some editors add), remembering
		// where the words start for error positions.
		lead := len(inner) - len(strings.TrimLeft(inner, " \t\r\n-"))
		words := strings.TrimRight(inner[lead:], " \t\r\n-")
		innerOff += lead
		pos = start + 2 + end + 2
		k := 0
		for k < len(words) && words[k] >= 'a' && words[k] <= 'z' {
			k++
		}
		keyword, args := words[:k], words[k:]
		argsOff := innerOff + k
		switch {
		case keyword == "if":
			if len(stack) >= MaxBlockDepth {
				return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("blocks nest at most %d deep", MaxBlockDepth)}
			}
			e, err := p.cond(args, argsOff, line, col, "if")
			if err != nil {
				return nil, err
			}
			n := tnode{kind: tIf, branches: []tbranch{{cond: e}}, line: line, col: col}
			*out() = append(*out(), n)
			list := *out()
			stack = append(stack, &frame{node: &list[len(list)-1], tag: "if", line: line, col: col})
		case keyword == "else":
			if len(stack) == 0 || stack[len(stack)-1].tag != "if" {
				return nil, &Error{Line: line, Column: col, Message: "{% else %} without {% if %}"}
			}
			f := stack[len(stack)-1]
			if f.sawElse {
				return nil, &Error{Line: line, Column: col, Message: "{% else %} after {% else %}: the else comes last"}
			}
			rest := strings.TrimLeft(args, " \t\r\n")
			if rest == "" {
				f.sawElse = true
				f.node.branches = append(f.node.branches, tbranch{})
				break
			}
			if !strings.HasPrefix(rest, "if") || (len(rest) > 2 && rest[2] >= 'a' && rest[2] <= 'z') {
				return nil, &Error{Line: line, Column: col, Message: "write {% else %} or {% else if condition %}"}
			}
			cond := rest[2:]
			e, err := p.cond(cond, argsOff+len(args)-len(cond), line, col, "else if")
			if err != nil {
				return nil, err
			}
			f.node.branches = append(f.node.branches, tbranch{cond: e})
		case keyword == "end":
			if strings.TrimSpace(args) != "" {
				return nil, &Error{Line: line, Column: col, Message: "{% end %} takes nothing after end"}
			}
			if len(stack) == 0 {
				return nil, &Error{Line: line, Column: col, Message: "{% end %} without a block"}
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.tag == "for" {
				p.scope = loopScope{} // the loops still open
				for _, o := range stack {
					if o.tag == "for" {
						p.scope[o.node.loopVar], p.scope["loop"] = true, true
					}
				}
			}
		case keyword == "for":
			if len(stack) >= MaxBlockDepth {
				return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("blocks nest at most %d deep", MaxBlockDepth)}
			}
			name, list, ok := strings.Cut(strings.TrimSpace(args), " in ")
			name = strings.TrimSpace(name)
			if !ok || strings.TrimSpace(list) == "" {
				return nil, &Error{Line: line, Column: col, Message: "write {% for item in list %}"}
			}
			if !loopVarName.MatchString(name) || reservedName(name) {
				return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("%q cannot name a loop's item: use a name like item (not profile, event, run, journey, now, change or loop)", name)}
			}
			listOff := argsOff + strings.Index(args, " in ") + 4
			e, err := p.expr(list, listOff)
			if err != nil {
				return nil, err
			}
			n := tnode{kind: tFor, expr: e, loopVar: name, line: line, col: col}
			*out() = append(*out(), n)
			lst := *out()
			stack = append(stack, &frame{node: &lst[len(lst)-1], tag: "for", line: line, col: col})
			p.scope[name] = true
			p.scope["loop"] = true
		default:
			return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("unknown tag {%% %s %%}: the tags are if, else, else if, for and end", clip(words, 30))}
		}
	}
	if len(stack) > 0 {
		f := stack[len(stack)-1]
		return nil, &Error{Line: f.line, Column: f.col, Message: fmt.Sprintf("{%% %s %%} is not closed by {%% end %%}", f.tag)}
	}
	return &Template{src: src, esc: esc, nodes: root.body}, nil
}

// reservedName reports the names a loop's item may not take.
func reservedName(name string) bool {
	switch name {
	case "profile", "event", "run", "journey", "now", "change", "loop", "true", "false", "nil", "in", "not", "and", "or":
		return true
	}
	return strings.HasPrefix(name, "__")
}

// cond parses a condition of if or else if.
func (p *blockParser) cond(src string, off, line, col int, tag string) (*texpr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Line: line, Column: col, Message: fmt.Sprintf("{%% %s %%} needs a condition", tag)}
	}
	return p.expr(src, off)
}

// expr compiles an expression at byte offset off of the template, with
// the loop variables in scope.
func (p *blockParser) expr(src string, off int) (*texpr, error) {
	e := &texpr{src: src}
	if len(p.scope) == 0 {
		prog, err := build(src, Any, p.generate)
		if err != nil {
			return nil, shiftError(p.src, off, err)
		}
		if p.generate {
			e.prog = &Program{src: src, kind: Any, prog: prog}
		}
		return e, nil
	}
	scope := loopScope{}
	for k := range p.scope {
		scope[k] = true
	}
	prog, err := buildScoped(src, scope, p.generate)
	if err != nil {
		return nil, shiftError(p.src, off, err)
	}
	e.scoped = prog
	if p.generate && prog == nil {
		return nil, &Error{Message: "internal error: no program"}
	}
	return e, nil
}

// tagEnd returns the offset of the "%}" closing a tag body, skipping
// string literals, or -1.
func tagEnd(s string) int {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			k := skipString(s, j)
			if k < 0 {
				return -1
			}
			j = k
		case '%':
			if j+1 < len(s) && s[j+1] == '}' {
				return j
			}
		case '\n':
			if j > 4096 {
				return -1
			}
		}
	}
	return -1
}

// blockRender is one render of a block template.
type blockRender struct {
	t     *Template
	env   *Env
	b     strings.Builder
	meter Meter
	loops int
}

func (t *Template) renderBlocks(env *Env) (string, error) {
	r := &blockRender{t: t, env: env, meter: newMeter(MaxEvalBytes)}
	r.b.Grow(min(len(t.src), MaxRenderBytes))
	if err := r.render(t.nodes, nil); err != nil {
		return "", err
	}
	return r.b.String(), nil
}

func (r *blockRender) room(n int) error {
	if n > MaxRenderBytes-r.b.Len() {
		return fmt.Errorf("%w: the rendered text would be longer than %s", ErrTooLarge, byteSize(MaxRenderBytes))
	}
	return nil
}

func (r *blockRender) render(nodes []tnode, vars map[string]any) error {
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case tText:
			if err := r.room(len(n.text)); err != nil {
				return err
			}
			r.b.WriteString(n.text)
		case tValue:
			fail := func(err error) error {
				return fmt.Errorf("rendering {{ %s }}: %w", clip(strings.TrimSpace(n.expr.src), 60), err)
			}
			v, err := n.expr.eval(r.env, vars, &r.meter)
			if err != nil {
				return fail(err)
			}
			if _, err := textSize(v, MaxRenderBytes-r.b.Len()); err != nil {
				return fail(r.room(MaxRenderBytes + 1))
			}
			out := FormatValue(v)
			if r.t.esc == HTML {
				out = html.EscapeString(out)
			}
			if err := r.room(len(out)); err != nil {
				return fail(err)
			}
			r.b.WriteString(out)
		case tIf:
			for _, br := range n.branches {
				if br.cond != nil {
					v, err := br.cond.eval(r.env, vars, &r.meter)
					if err != nil {
						return fmt.Errorf("line %d, column %d: {%% if %s %%}: %w", n.line, n.col, clip(strings.TrimSpace(br.cond.src), 60), err)
					}
					if !truthy(v) {
						continue
					}
				}
				if err := r.render(br.body, vars); err != nil {
					return err
				}
				break
			}
		case tFor:
			v, err := n.expr.eval(r.env, vars, &r.meter)
			if err != nil {
				return fmt.Errorf("line %d, column %d: {%% for %s in … %%}: %w", n.line, n.col, n.loopVar, err)
			}
			items, err := listItems(v)
			if err != nil {
				return fmt.Errorf("line %d, column %d: {%% for %s in %s %%}: %w", n.line, n.col, n.loopVar, clip(strings.TrimSpace(n.expr.src), 60), err)
			}
			if r.loops+len(items) > MaxLoopIterations {
				return fmt.Errorf("line %d, column %d: %w: loops may run at most %d times in all per message", n.line, n.col, ErrTooLarge, MaxLoopIterations)
			}
			r.loops += len(items)
			for k, item := range items {
				inner := make(map[string]any, len(vars)+2)
				maps.Copy(inner, vars)
				inner[n.loopVar] = item
				inner["loop"] = map[string]any{"index": k + 1, "first": k == 0, "last": k == len(items)-1, "length": len(items)}
				if err := r.render(n.body, inner); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// truthy: nil, false, "", 0, and empty lists and maps are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() > 0
	}
	return true
}

// listItems returns the items a for block loops over: a list's values;
// nil is no items.
func listItems(v any) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("want a list, not %T", v)
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, nil
}
