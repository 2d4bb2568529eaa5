package expression

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// Output limits. Every value an expression builds (a string, a list) is
// charged to a per-evaluation budget before it is allocated, so no
// expression, however nested, can ask for more than about twice
// MaxEvalBytes. A template's renders share one budget and its output
// is capped at MaxRenderBytes.
const (
	// MaxEvalBytes bounds what one evaluation may build, and the size of
	// its result.
	MaxEvalBytes = 2 << 20
	// MaxRenderBytes bounds a rendered template.
	MaxRenderBytes = 2 << 20
	// probeInputBytes is the size assumed for every input value (a
	// profile attribute, a body field) when validation estimates the
	// worst-case output of an expression.
	probeInputBytes = 1 << 10
)

// meterName is the hidden identifier the guard passes to the functions
// that build values; expressions cannot name it themselves.
const meterName = "__meter"

// ErrTooLarge is wrapped by the errors of evaluations that would build
// more than MaxEvalBytes, and of renders longer than MaxRenderBytes.
var ErrTooLarge = fmt.Errorf("output too large")

// Meter counts the bytes one evaluation builds. Eval sets it; an
// expression never sees it.
type Meter struct {
	used, limit int
}

func newMeter(limit int) Meter { return Meter{limit: limit} }

// charge records n more bytes, or fails when the budget would be
// exceeded. Callers charge before they allocate.
func (m *Meter) charge(n int) error {
	if m == nil {
		return fmt.Errorf("%w: no budget", ErrTooLarge)
	}
	if n < 0 || n > m.limit-m.used {
		return fmt.Errorf("%w: the expression would build more than %s", ErrTooLarge, byteSize(m.limit))
	}
	m.used += n
	return nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func meterArg(args []any) *Meter {
	m, _ := args[len(args)-1].(*Meter)
	return m
}

// stringHeader is what a string in a list costs beyond its bytes.
const stringHeader = 16

// Metered replacements for the expr builtins that build strings and
// lists. Each takes the meter as its hidden last argument.

func meteredSplit(args ...any) (any, error) {
	m := meterArg(args)
	args = args[:len(args)-1]
	s, ok := toString(args[0])
	if !ok {
		return nil, fmt.Errorf("split: %T is not a string", args[0])
	}
	sep, ok := toString(args[1])
	if !ok {
		return nil, fmt.Errorf("split: separator %T is not a string", args[1])
	}
	n := -1
	if len(args) == 3 {
		n = runtime.ToInt(args[2])
	}
	count := 1
	if sep == "" {
		count = utf8.RuneCountInString(s)
	} else {
		count += strings.Count(s, sep)
	}
	if n >= 0 && n < count {
		count = n
	}
	if err := m.charge(count * stringHeader); err != nil {
		return nil, fmt.Errorf("split: %w", err)
	}
	return strings.SplitN(s, sep, n), nil
}

func meteredJoin(args ...any) (any, error) {
	m := meterArg(args)
	args = args[:len(args)-1]
	sep := ""
	if len(args) == 2 {
		s, ok := toString(args[1])
		if !ok {
			return nil, fmt.Errorf("join: separator %T is not a string", args[1])
		}
		sep = s
	}
	var parts []string
	switch l := args[0].(type) {
	case []string:
		parts = l
	case nil:
		return "", nil
	default:
		items, ok := asList(args[0])
		if !ok {
			return nil, fmt.Errorf("join: %T is not a list", args[0])
		}
		parts = make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %T, not a string", i, it)
			}
			parts[i] = s
		}
	}
	size := 0
	for _, p := range parts {
		size += len(p)
		if size > MaxEvalBytes {
			break
		}
	}
	if len(parts) > 1 {
		if len(sep) > 0 && len(parts)-1 > (MaxEvalBytes-size)/len(sep) {
			size = MaxEvalBytes + 1
		} else {
			size += (len(parts) - 1) * len(sep)
		}
	}
	if err := m.charge(size); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	return strings.Join(parts, sep), nil
}

func meteredToJSON(args ...any) (any, error) {
	m := meterArg(args)
	size, err := jsonSize(args[0], true, MaxEvalBytes)
	if err != nil {
		return nil, fmt.Errorf("toJSON: %w", err)
	}
	if err := m.charge(size); err != nil {
		return nil, fmt.Errorf("toJSON: %w", err)
	}
	b, err := json.MarshalIndent(args[0], "", "  ")
	if err != nil {
		return nil, fmt.Errorf("toJSON: %w", err)
	}
	return string(b), nil
}

func meteredString(args ...any) (any, error) {
	m := meterArg(args)
	v := args[0]
	switch x := v.(type) {
	case string:
		return x, nil
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		return fmt.Sprintf("%v", v), nil
	}
	// %v of a list or map is never longer than twice its compact JSON.
	size, err := jsonSize(v, false, MaxEvalBytes)
	if err != nil {
		return nil, fmt.Errorf("string: %w", err)
	}
	if err := m.charge(2*size + 16); err != nil {
		return nil, fmt.Errorf("string: %w", err)
	}
	return fmt.Sprintf("%v", v), nil
}

func meteredCase(name string, conv func(string) string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		m := meterArg(args)
		s, ok := toString(args[0])
		if !ok {
			return nil, fmt.Errorf("%s: %T is not a string", name, args[0])
		}
		// Case mapping grows a UTF-8 string by at most half.
		if err := m.charge(len(s) + len(s)/2); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return conv(s), nil
	}
}

// meteredAdd is + for operands that are not both numbers or times:
// strings are charged before they are joined; anything else is expr's
// own addition.
func meteredAdd(args ...any) (any, error) {
	m := meterArg(args)
	if a, ok := args[0].(string); ok {
		if b, ok := args[1].(string); ok {
			if err := m.charge(len(a) + len(b)); err != nil {
				return nil, fmt.Errorf("+: %w", err)
			}
			return a + b, nil
		}
	}
	return addValues(args[0], args[1])
}

func addValues(a, b any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return runtime.Add(a, b), nil
}

// jsonSize returns the length of v marshalled as JSON (indented with two
// spaces when indent is set, as toJSON does), or an error once it passes
// limit. Only values expressions see are walked; anything else is
// marshalled to be measured.
func jsonSize(v any, indent bool, limit int) (int, error) {
	w := sizer{indent: indent, limit: limit}
	w.value(v, 0)
	if w.err != nil {
		return 0, w.err
	}
	return w.n, nil
}

type sizer struct {
	indent bool
	limit  int
	n      int
	err    error
}

func (w *sizer) add(n int) bool {
	if w.err != nil {
		return false
	}
	w.n += n
	if w.n > w.limit {
		w.err = fmt.Errorf("%w: more than %s", ErrTooLarge, byteSize(w.limit))
		return false
	}
	return true
}

// container adds the punctuation of a list or map of n entries at depth.
func (w *sizer) container(n, depth int) bool {
	if n == 0 {
		return w.add(2)
	}
	size := 2 + (n - 1) // brackets and commas
	if w.indent {
		size += n*(1+2*(depth+1)) + 1 + 2*depth // a newline and indentation per entry, and before the close
	}
	return w.add(size)
}

func (w *sizer) value(v any, depth int) {
	if w.err != nil {
		return
	}
	switch x := v.(type) {
	case nil:
		w.add(4)
	case bool:
		if x {
			w.add(4)
		} else {
			w.add(5)
		}
	case string:
		w.add(quotedLen(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			w.err = fmt.Errorf("json: unsupported value: %v", x)
			return
		}
		b, _ := json.Marshal(x)
		w.add(len(b))
	case int:
		w.add(len(strconv.Itoa(x)))
	case int64:
		w.add(len(strconv.FormatInt(x, 10)))
	case []any:
		if !w.container(len(x), depth) {
			return
		}
		for _, it := range x {
			w.value(it, depth+1)
		}
	case []string:
		if !w.container(len(x), depth) {
			return
		}
		for _, it := range x {
			w.add(quotedLen(it))
		}
	case map[string]any:
		if !w.container(len(x), depth) {
			return
		}
		sep := 1 // ":"
		if w.indent {
			sep = 2 // ": "
		}
		for k, it := range x {
			if !w.add(quotedLen(k) + sep) {
				return
			}
			w.value(it, depth+1)
		}
	default:
		w.other(v, depth)
	}
}

// other measures a value of another type (a time, a struct such as
// run.entry, a typed map) by marshalling it; such values come from the
// environment, whose size is bounded where it is built.
func (w *sizer) other(v any, depth int) {
	rv := reflect.ValueOf(v)
	if (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Type().Elem().Kind() != reflect.Uint8 {
		if !w.container(rv.Len(), depth) {
			return
		}
		for i := 0; i < rv.Len() && w.err == nil; i++ {
			w.value(rv.Index(i).Interface(), depth+1)
		}
		return
	}
	var b []byte
	var err error
	if w.indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		w.err = err
		return
	}
	n := len(b)
	if w.indent {
		n += 2 * depth * strings.Count(string(b), "\n")
	}
	w.add(n)
}

// quotedLen is the length of s as a JSON string, as encoding/json
// writes it (HTML characters and U+2028/2029 escaped, invalid UTF-8 as
// \ufffd).
func quotedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// textSize is the length of v as FormatValue writes it, or an error
// past limit.
func textSize(v any, limit int) (int, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		if len(x) > limit {
			return 0, fmt.Errorf("%w: more than %s", ErrTooLarge, byteSize(limit))
		}
		return len(x), nil
	case bool, int, int64, float64, time.Time, time.Duration:
		return 40, nil
	}
	return jsonSize(v, false, limit)
}
