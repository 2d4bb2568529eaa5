// Package jsonlimit bounds what deeply nested JSON can cost: a cheap
// streaming depth check for what comes in (webhook bodies, events,
// profiles, journey documents), a depth check for values already decoded,
// and a bounded pretty-printer for what pages show. Standard library only.
//
// Why: encoding/json accepts nesting up to 10,000 levels, and indenting a
// value d levels deep costs about d² bytes (each of its d lines is indented
// up to 2·d spaces), so a 20 KB body nested 9,990 levels deep became a
// 200 MB page (security review F3).
package jsonlimit

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth is how deeply JSON Waymark accepts may nest: objects and arrays
// inside each other, the outermost counting as 1. `{"a": [1]}` is 2 deep.
const MaxDepth = 64

// DepthError says where a document nests deeper than allowed.
type DepthError struct {
	Limit  int
	Offset int // byte offset of the opening bracket that went one level too deep
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("the JSON nests deeper than %d levels (at byte %d); at most %d levels of objects and arrays are accepted", e.Limit, e.Offset, e.Limit)
}

// CheckDepth scans data, without decoding it, and returns a *DepthError
// if objects and arrays nest deeper than limit. It does not validate the
// JSON (the decoder that follows does); it only follows strings so that
// brackets inside them are not counted. One pass, no allocation.
func CheckDepth(data []byte, limit int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return &DepthError{Limit: limit, Offset: i}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// NULError says where a JSON document holds a \u0000 escape.
type NULError struct {
	Offset int // byte offset of the backslash
}

func (e *NULError) Error() string {
	return fmt.Sprintf("the body contains a NUL character (\\u0000 at byte %d): text cannot hold it", e.Offset)
}

// CheckNUL returns a *NULError if data holds a \u0000 escape: the NUL
// character it stands for cannot be stored in a text or JSON column
// (PostgreSQL refuses it), so inbound JSON with one is refused whole,
// before anything is written. Like CheckDepth it scans without decoding.
func CheckNUL(data []byte) error {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(`u0000`))
		if j < 0 {
			return nil
		}
		j += i
		// A real escape has an odd number of backslashes before the u.
		k := j
		for k > 0 && data[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 1 {
			return &NULError{Offset: j - 1}
		}
		i = j + 1
	}
}

// Exceeds reports whether a decoded value (maps, slices, scalars as
// encoding/json produces them) nests deeper than limit. It stops as soon
// as it knows, so a deep value costs at most limit levels of recursion.
func Exceeds(v any, limit int) bool {
	if limit < 0 {
		return true
	}
	switch t := v.(type) {
	case map[string]any:
		if limit == 0 {
			return true
		}
		for _, e := range t {
			if Exceeds(e, limit-1) {
				return true
			}
		}
	case []any:
		if limit == 0 {
			return true
		}
		for _, e := range t {
			if Exceeds(e, limit-1) {
				return true
			}
		}
	}
	return false
}

// IndentLevels is how many levels Pretty indents; deeper objects and
// arrays are written compactly on their line, so indentation never costs
// more than 2·IndentLevels bytes a line.
const IndentLevels = 16

// Pretty indents JSON for reading, two spaces a level, in at most limit
// bytes (plus a final line saying how much was cut). Objects and arrays
// deeper than IndentLevels stay compact, so the output grows linearly with
// the input whatever its depth. data should be valid JSON (whitespace
// outside strings is dropped and re-made); strings are copied as they are.
func Pretty(data []byte, limit int) string {
	var b strings.Builder
	indent := func(depth int) {
		b.WriteByte('\n')
		for range min(depth, IndentLevels) {
			b.WriteString("  ")
		}
	}
	// next returns the index of the next byte after i that is not JSON
	// whitespace (len(data) if none).
	next := func(i int) int {
		for i++; i < len(data); i++ {
			switch data[i] {
			case ' ', '\t', '\n', '\r':
			default:
				return i
			}
		}
		return i
	}
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(data) && b.Len() <= limit; i++ {
		c := data[i]
		if inString {
			b.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			inString = true
			b.WriteByte(c)
		case '{', '[':
			b.WriteByte(c)
			depth++
			if j := next(i); j < len(data) && (data[j] == '}' || data[j] == ']') {
				b.WriteByte(data[j]) // an empty object or array stays {} or []
				depth--
				i = j
			} else if depth <= IndentLevels {
				indent(depth)
			}
		case '}', ']':
			if depth <= IndentLevels {
				indent(depth - 1)
			}
			depth = max(depth-1, 0)
			b.WriteByte(c)
		case ',':
			b.WriteByte(c)
			if depth <= IndentLevels {
				indent(depth)
			}
		case ':':
			b.WriteByte(c)
			if depth <= IndentLevels {
				b.WriteByte(' ')
			}
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() <= limit {
		return b.String()
	}
	return Clip(b.String(), limit, len(data))
}

// Clip returns s cut to at most limit bytes (on a character boundary)
// with a last line saying so, or s itself when it fits. total is the size
// to report for the whole value (0: len(s)).
func Clip(s string, limit, total int) string {
	if len(s) <= limit {
		return s
	}
	if total <= 0 {
		total = len(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "\n" + TruncatedMarker + fmt.Sprintf(" the first %s are shown; the value is %s)", size(cut), size(total))
}

// TruncatedMarker starts the last line of a value Pretty or Clip cut.
const TruncatedMarker = "… (truncated:"

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
