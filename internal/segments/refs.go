package segments

import (
	"fmt"
	"regexp"
	"strings"
)

// A segment refers to another with in_segment("name"), in its rules ("is
// in segment") or its hand-written expression. The service expands every
// reference into the referenced segment's current expression before
// compiling, so a definition is whole (it evaluates without looking
// anything up) and a change to a referenced segment is seen by the next
// compilation. References nest at most maxRefDepth deep and never form a
// cycle (refused on save).

const maxRefDepth = 5

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// NameProblem says what is wrong with a segment name, "" when nothing:
// a lower-case letter, then up to 63 lower-case letters, digits, _ or -.
func NameProblem(name string) string {
	if !nameRe.MatchString(name) {
		return "a segment name is a lower-case letter, then up to 63 lower-case letters, digits, _ or - (e.g. vip_customers)"
	}
	return ""
}

// ref is one in_segment("name") call in an expression: the name and the
// call's byte span.
type ref struct {
	name       string
	start, end int
}

// RefError is an in_segment call the scanner cannot read.
type RefError struct {
	Offset  int
	Message string
}

func (e *RefError) Error() string { return e.Message }

const refFunc = "in_segment"

// refs finds the in_segment calls of an expression, outside string
// literals. The argument must be one segment name in quotes.
func refs(src string) ([]ref, error) {
	var out []ref
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipLiteral(src, i)
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdent(src[j]) {
				j++
			}
			if src[i:j] == refFunc && (i == 0 || src[i-1] != '.') {
				r, err := readCall(src, i, j)
				if err != nil {
					return nil, err
				}
				out = append(out, r)
				j = r.end
			}
			i = j
		default:
			i++
		}
	}
	return out, nil
}

func readCall(src string, start, j int) (ref, error) {
	bad := &RefError{Offset: start, Message: `in_segment takes one segment name in double quotes, e.g. in_segment("vip")`}
	j = skipSpace(src, j)
	if j >= len(src) || src[j] != '(' {
		return ref{}, bad
	}
	j = skipSpace(src, j+1)
	if j >= len(src) || src[j] != '"' {
		return ref{}, bad
	}
	k := strings.IndexByte(src[j+1:], '"')
	if k < 0 {
		return ref{}, bad
	}
	name := src[j+1 : j+1+k]
	if msg := NameProblem(name); msg != "" {
		return ref{}, &RefError{Offset: start, Message: fmt.Sprintf("in_segment(%q): %s", name, msg)}
	}
	j = skipSpace(src, j+k+2)
	if j >= len(src) || src[j] != ')' {
		return ref{}, bad
	}
	return ref{name: name, start: start, end: j + 1}, nil
}

func skipSpace(src string, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

func skipLiteral(src string, i int) int {
	q := src[i]
	i++
	for i < len(src) {
		switch {
		case src[i] == '\\' && q != '`':
			i += 2
		case src[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return i
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// RefNames lists the segments an expression refers to, in order, once
// each.
func RefNames(src string) ([]string, error) {
	rs, err := refs(src)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if !seen[r.name] {
			seen[r.name] = true
			out = append(out, r.name)
		}
	}
	return out, nil
}

// CycleError is a chain of references that comes back to its start.
type CycleError struct{ Path []string }

func (e *CycleError) Error() string {
	return "segments refer to each other in a cycle: " + strings.Join(e.Path, " → ")
}

// MissingError is a reference to a segment that does not exist.
type MissingError struct{ Name string }

func (e *MissingError) Error() string { return fmt.Sprintf("no segment named %q", e.Name) }

// expand replaces every in_segment("name") of src with the named
// segment's expression, itself expanded, in brackets. lookup gives a
// segment's current expression (an error when it has none). path is the
// chain of names that led here (for cycles and depth).
func expand(src string, lookup func(name string) (string, error), path []string) (string, error) {
	rs, err := refs(src)
	if err != nil || len(rs) == 0 {
		return src, err
	}
	if len(path) >= maxRefDepth {
		return "", fmt.Errorf("segments refer to segments more than %d deep (%s)", maxRefDepth, strings.Join(path, " → "))
	}
	var b strings.Builder
	last := 0
	for _, r := range rs {
		for i, p := range path {
			if p == r.name {
				return "", &CycleError{Path: append(append([]string{}, path[i:]...), r.name)}
			}
		}
		inner, err := lookup(r.name)
		if err != nil {
			return "", err
		}
		inner, err = expand(inner, lookup, append(append([]string{}, path...), r.name))
		if err != nil {
			return "", err
		}
		b.WriteString(src[last:r.start])
		b.WriteString("(" + inner + ")")
		last = r.end
	}
	b.WriteString(src[last:])
	return b.String(), nil
}
