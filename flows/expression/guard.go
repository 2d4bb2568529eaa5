package expression

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
)

// Limits enforced on every expression.
const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 4 << 10
	// MaxDepth bounds bracket nesting and chains of unary operators.
	MaxDepth = 64
	// MaxNodes bounds the parsed expression's size (expr.MaxNodes).
	MaxNodes = 300
)

// allowedBuiltins are the expr builtins an expression may call. All are
// pure and cost at most linear time in their input; the collection
// predicates, now(), repeat(), fromJSON and friends are left out.
var allowedBuiltins = map[string]bool{
	"len": true, "abs": true, "ceil": true, "floor": true, "round": true,
	"int": true, "float": true, "string": true, "type": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true,
	"split": true, "join": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true,
	"first": true, "last": true, "get": true, "keys": true, "values": true,
	"min": true, "max": true, "date": true, "duration": true, "toJSON": true,
}

// Error is a compile error with its position (1-based line and column).
type Error struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`

	cause error // for errors.Is (ErrTooLarge)
}

// Unwrap returns the run-time error this one reports, if any.
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// position returns the 1-based line and column of byte offset off.
func position(src string, off int) (line, col int) {
	line, col = 1, 1
	for i, r := range src {
		if i >= off {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// precheck rejects what could hurt expr's parser: oversize input, invalid
// UTF-8 and deep nesting. It scans once, skipping string literals.
func precheck(src string) error {
	if len(src) > MaxLength {
		return &Error{Message: fmt.Sprintf("expression too long (%d bytes, at most %d)", len(src), MaxLength)}
	}
	if !utf8.ValidString(src) {
		return &Error{Message: "expression is not valid UTF-8"}
	}
	depth, unary := 0, 0
	prevOperand := false // whether the previous token ends an operand
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"', '\'', '`':
			j := skipString(src, i)
			if j < 0 {
				line, col := position(src, i)
				return &Error{Line: line, Column: col, Message: "unterminated string"}
			}
			i = j
			unary, prevOperand = 0, true
			continue
		case '(', '[', '{':
			depth++
			if depth > MaxDepth {
				line, col := position(src, i)
				return &Error{Line: line, Column: col, Message: fmt.Sprintf("nested too deeply (more than %d levels)", MaxDepth)}
			}
			unary, prevOperand = 0, false
			continue
		case ')', ']', '}':
			depth--
			unary, prevOperand = 0, true
			continue
		case '!', '-', '+':
			if c == '!' && i+1 < len(src) && src[i+1] == '=' {
				unary, prevOperand = 0, false
				i++
				continue
			}
			if !prevOperand {
				unary++
				if unary > MaxDepth {
					line, col := position(src, i)
					return &Error{Line: line, Column: col, Message: fmt.Sprintf("too many unary operators in a row (more than %d)", MaxDepth)}
				}
			}
			prevOperand = false
			continue
		}
		if isIdentByte(c) {
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			word := src[i:j]
			i = j - 1
			if word == "not" {
				unary++
				if unary > MaxDepth {
					line, col := position(src, i)
					return &Error{Line: line, Column: col, Message: fmt.Sprintf("too many unary operators in a row (more than %d)", MaxDepth)}
				}
				prevOperand = false
				continue
			}
			unary, prevOperand = 0, !isOperatorWord(word)
			continue
		}
		unary, prevOperand = 0, false
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isOperatorWord(w string) bool {
	switch w {
	case "and", "or", "in", "matches", "contains", "startsWith", "endsWith", "if", "else", "let":
		return true
	}
	return false
}

// skipString returns the index of the closing quote of the literal
// starting at i, or -1.
func skipString(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j
		}
	}
	return -1
}

// guard is the expr.Patch visitor that enforces the allow-list and
// passes now to helpers that need it. It records the first violation.
type guard struct {
	src     string
	err     *Error
	history int                    // history lookups so far (MaxHistoryCalls)
	withins map[*ast.CallNode]bool // within() calls not (yet) taken by count or sum
}

func (g *guard) fail(n ast.Node, format string, args ...any) {
	if g.err != nil {
		return
	}
	line, col := runePosition(g.src, n.Location().From)
	g.err = &Error{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// runePosition returns the 1-based line and column of rune offset off.
func runePosition(src string, off int) (line, col int) {
	line, col = 1, 1
	n := 0
	for _, r := range src {
		if n >= off {
			break
		}
		n++
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Visit implements ast.Visitor.
func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if g.visitLast(node, n) {
			return
		}
		if !allowedBuiltins[n.Name] {
			g.fail(n, "function %s is not allowed", n.Name)
		}
	case *ast.PredicateNode, *ast.PointerNode:
		g.fail(n, "predicates (#, map, filter, …) are not allowed")
	case *ast.VariableDeclaratorNode:
		g.fail(n, "let is not allowed")
	case *ast.SequenceNode:
		g.fail(n, "sequences (;) are not allowed")
	case *ast.BinaryNode:
		if n.Operator == ".." {
			g.fail(n, "the range operator .. is not allowed")
		}
		if n.Operator == "+" {
			g.meterAdd(node, n)
		}
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			g.fail(n, "$env is not allowed")
		}
		if n.Value == meterName || n.Value == factsName {
			g.fail(n, "unknown name %s", n.Value)
			return
		}
		g.visitHistoryValue(node, n)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			if _, isCall := n.Callee.(*ast.CallNode); isCall {
				// first_seen(), rewritten as a value before its call.
				g.fail(n, "first_seen and last_seen are values, not functions: write them without ()")
			}
			return // a method call on a value (e.g. now.Hour()): only time values have methods
		}
		if id.Value == "within" {
			if g.withins == nil {
				g.withins = map[*ast.CallNode]bool{}
			}
			g.withins[n] = true
			return
		}
		if g.visitHistoryCall(n, id.Value) {
			return
		}
		h, ok := helperByName[id.Value]
		if !ok && id.Value == "now" {
			g.fail(n, "now is a value, not a function: write now instead of now()")
			return
		}
		if !ok {
			g.fail(n, "unknown function %s", id.Value)
			return
		}
		if h.withNow && len(n.Arguments) == 1 {
			now := &ast.IdentifierNode{Value: "now"}
			now.SetLocation(n.Location())
			n.Arguments = append(n.Arguments, now)
			n.SetType(nil)
		}
		if h.metered {
			if ar := h.arities(); !slices.Contains(ar, len(n.Arguments)) {
				g.fail(n, "%s takes %s, not %d", h.name, argCounts(ar), len(n.Arguments))
				return
			}
			n.Arguments = append(n.Arguments, meterIdent(n))
			// The check before this visit typed the call for fewer
			// arguments; clear it so the final check picks the overload.
			n.SetType(nil)
		}
	}
}

func meterIdent(at ast.Node) ast.Node {
	m := &ast.IdentifierNode{Value: meterName}
	m.SetLocation(at.Location())
	return m
}

func argCounts(ar []int) string {
	ar = slices.Compact(ar)
	words := make([]string, len(ar))
	for i, n := range ar {
		words[i] = strconv.Itoa(n)
	}
	unit := "arguments"
	if len(ar) == 1 && ar[0] == 1 {
		unit = "argument"
	}
	return strings.Join(words, " or ") + " " + unit
}

// meterAdd replaces a + whose operands are not both numbers or times
// with a call that charges what it builds: "a" + "b" allocates, and
// without a budget a few hundred nested + of long inputs would too.
// Types come from the check that runs before the visitors.
func (g *guard) meterAdd(node *ast.Node, n *ast.BinaryNode) {
	lt, rt := n.Left.Type(), n.Right.Type()
	if plainAddend(lt) && plainAddend(rt) {
		return
	}
	name := "+"
	if isString(lt) && isString(rt) {
		name = "+s"
	} else if known(lt) && known(rt) {
		return // mismatched known types: the checker reports them
	}
	call := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: name},
		Arguments: []ast.Node{n.Left, n.Right, meterIdent(n)},
	}
	call.Callee.SetLocation(n.Location())
	call.SetLocation(n.Location())
	ast.Patch(node, call)
}

var (
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
)

func known(t reflect.Type) bool { return t != nil && t.Kind() != reflect.Interface }

func isString(t reflect.Type) bool { return known(t) && t.Kind() == reflect.String }

// plainAddend reports whether + on t builds nothing: numbers, times and
// durations.
func plainAddend(t reflect.Type) bool {
	if !known(t) {
		return false
	}
	if t == timeType || t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
