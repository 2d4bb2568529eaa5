package profiles

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/store"
)

// Fields a CSV column can map to, besides "attributes.<name>".
var Fields = []string{"external_id", "email", "phone", "timezone", "locale"}

// Skip is the mapping target of a column that is not imported.
const Skip = "-"

// Mapping maps CSV column headers to profile fields: a built-in field
// (external_id, email, phone, timezone, locale), "attributes.<name>", or
// "-" to skip the column.
type Mapping map[string]string

// DefaultMapping maps each header to the built-in field of the same name
// (case-insensitive) and any other column to an attribute named after it.
func DefaultMapping(headers []string) Mapping {
	m := Mapping{}
	for _, h := range headers {
		name := strings.ToLower(strings.TrimSpace(h))
		builtin := false
		for _, f := range Fields {
			if name == f {
				m[h], builtin = f, true
			}
		}
		if !builtin {
			m[h] = "attributes." + attributeName(name)
		}
	}
	return m
}

func attributeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.':
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ParseMapping reads "column=field,…" overrides on top of the default
// mapping for these headers.
func ParseMapping(spec string, headers []string) (Mapping, error) {
	m := DefaultMapping(headers)
	if strings.TrimSpace(spec) == "" {
		return m, m.Check(headers)
	}
	for _, pair := range strings.Split(spec, ",") {
		col, field, ok := strings.Cut(pair, "=")
		col, field = strings.TrimSpace(col), strings.TrimSpace(field)
		if !ok || col == "" || field == "" {
			return nil, fmt.Errorf("--map: %q: want column=field", pair)
		}
		if _, known := m[col]; !known {
			return nil, fmt.Errorf("--map: no column %q in the file (columns: %s)", col, strings.Join(headers, ", "))
		}
		m[col] = field
	}
	return m, m.Check(headers)
}

// Check validates a mapping: known targets, each built-in field at most
// once, and an external_id column.
func (m Mapping) Check(headers []string) error {
	seen := map[string]string{}
	for _, h := range headers {
		target, ok := m[h]
		if !ok || target == Skip || target == "" {
			continue
		}
		if name, isAttr := strings.CutPrefix(target, "attributes."); isAttr {
			if name == "" || len(name) > 64 {
				return fmt.Errorf("column %q: attribute names are 1 to 64 characters", h)
			}
		} else if !isField(target) {
			return fmt.Errorf("column %q: unknown field %q (want %s, attributes.<name> or -)", h, target, strings.Join(Fields, ", "))
		}
		if other, dup := seen[target]; dup {
			return fmt.Errorf("columns %q and %q both map to %s", other, h, target)
		}
		seen[target] = h
	}
	if _, ok := seen["external_id"]; !ok {
		return errors.New("no column maps to external_id: map one (e.g. --map user_id=external_id)")
	}
	return nil
}

func isField(s string) bool {
	for _, f := range Fields {
		if s == f {
			return true
		}
	}
	return false
}

// Row is one parsed CSV row: its line and the profile it writes, or its
// problems.
type Row struct {
	Line   int
	Input  Input
	Errors []store.ImportError
}

// Reader streams a CSV file's rows as profile writes.
type Reader struct {
	r       *csv.Reader
	Headers []string
	mapping Mapping
	columns map[string]string // field → column, for error reports
}

// MaxColumns bounds the columns of an imported file.
const MaxColumns = 250

// NewReader reads the header line of a CSV file (comma or semicolon
// separated, detected from the header).
func NewReader(src io.Reader) (*Reader, error) {
	br := newSniffer(src)
	r := csv.NewReader(br)
	r.Comma = br.comma()
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	headers, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: the first line must name the columns")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header line: %w", err)
	}
	if len(headers) > MaxColumns {
		return nil, fmt.Errorf("the file has %d columns; at most %d", len(headers), MaxColumns)
	}
	seen := map[string]bool{}
	for i, h := range headers {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			return nil, fmt.Errorf("column %d has no name in the header line", i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("column %q appears twice in the header line", h)
		}
		seen[h] = true
		headers[i] = h
	}
	return &Reader{r: r, Headers: headers}, nil
}

// SetMapping sets how columns map to fields.
func (rd *Reader) SetMapping(m Mapping) error {
	if err := m.Check(rd.Headers); err != nil {
		return err
	}
	rd.mapping = m
	rd.columns = map[string]string{}
	for col, f := range m {
		rd.columns[f] = col
	}
	return nil
}

// Next returns the next row; io.EOF at the end. A malformed line comes back
// as a row with an error, and reading goes on.
func (rd *Reader) Next() (Row, error) {
	rec, err := rd.r.Read()
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Row{Line: pe.StartLine, Errors: []store.ImportError{{Line: pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()}}}, nil
	}
	if err != nil {
		return Row{}, err
	}
	line, _ := rd.r.FieldPos(0) // rec has at least one field here
	row := Row{Line: line}
	if len(rec) != len(rd.Headers) {
		row.Errors = append(row.Errors, store.ImportError{Line: line, Reason: fmt.Sprintf("%d values for %d columns", len(rec), len(rd.Headers))})
		return row, nil
	}
	in := Input{}
	for i, v := range rec {
		col := rd.Headers[i]
		if !utf8.ValidString(v) {
			row.Errors = append(row.Errors, store.ImportError{Line: line, Column: col, Reason: "not valid UTF-8"})
			continue
		}
		v = strings.TrimSpace(v)
		target := rd.mapping[col]
		if v == "" || target == "" || target == Skip {
			continue
		}
		val := v
		switch target {
		case "external_id":
			in.ExternalID = v
		case "email":
			in.Email = &val
		case "phone":
			in.Phone = &val
		case "timezone":
			in.Timezone = &val
		case "locale":
			in.Locale = &val
		default:
			if in.Attributes == nil {
				in.Attributes = map[string]any{}
			}
			in.Attributes[strings.TrimPrefix(target, "attributes.")] = TypedValue(v)
		}
	}
	for _, p := range in.Validate("") {
		col := rd.columns[p.Field]
		if col == "" {
			col = p.Field
		}
		row.Errors = append(row.Errors, store.ImportError{Line: line, Column: col, Reason: p.Message})
	}
	row.Input = in
	return row, nil
}

// TypedValue types a CSV cell for an attribute: true/false become
// booleans, decimal numbers become numbers, anything else stays text.
func TypedValue(s string) any {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpPiInN_") && (len(s) < 2 || s[0] != '0' || s[1] == '.') {
		return f
	}
	return s
}

// ImportStore is the storage an import writes to.
type ImportStore interface {
	UpsertProfile(ctx context.Context, u store.ProfileUpsert) (store.Profile, bool, error)
}

// Result sums up an import.
type Result struct {
	Rows     int64
	Imported int64
	Failed   int64
	Errors   []store.ImportError
}

// Importer writes CSV rows as profiles: each valid row in its own
// transaction (a row is written whole or not at all), invalid rows listed.
type Importer struct {
	Store ImportStore
	// Changed is told about every written profile (segment and attribute
	// triggers); may be nil.
	Changed func(ctx context.Context, p store.Profile)
	// Progress is called every ProgressEvery rows and at the end; may be nil.
	Progress      func(r Result) error
	ProgressEvery int
}

// Run imports every row of rd into the workspace. With dryRun nothing is
// written: rows are only validated.
func (im *Importer) Run(ctx context.Context, workspaceID string, rd *Reader, dryRun bool) (Result, error) {
	var res Result
	every := im.ProgressEvery
	if every <= 0 {
		every = 500
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("reading line %d: %w", row.Line, err)
		}
		res.Rows++
		if len(row.Errors) > 0 {
			res.Failed++
			if len(res.Errors) < store.MaxImportErrors {
				res.Errors = append(res.Errors, row.Errors...)
			}
		} else if dryRun {
			res.Imported++
		} else {
			up := row.Input.Upsert(workspaceID)
			up.Source = "import"
			p, _, err := im.Store.UpsertProfile(ctx, up)
			if err != nil {
				return res, fmt.Errorf("writing line %d: %w", row.Line, err)
			}
			res.Imported++
			if im.Changed != nil {
				im.Changed(ctx, p)
			}
		}
		if im.Progress != nil && res.Rows%int64(every) == 0 {
			if err := im.Progress(res); err != nil {
				return res, err
			}
		}
	}
	if im.Progress != nil {
		if err := im.Progress(res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sniffer detects the separator from the first line without consuming it.
type sniffer struct {
	io.Reader
	first []byte
}

func newSniffer(r io.Reader) *sniffer {
	buf := make([]byte, 4096)
	n, _ := io.ReadFull(r, buf)
	buf = buf[:n]
	return &sniffer{Reader: io.MultiReader(strings.NewReader(string(buf)), r), first: buf}
}

func (s *sniffer) comma() rune {
	line := s.first
	if i := strings.IndexByte(string(line), '\n'); i >= 0 {
		line = line[:i]
	}
	if strings.Count(string(line), ";") > strings.Count(string(line), ",") {
		return ';'
	}
	return ','
}

// Preview reads up to n rows (raw values) for the mapping screen.
func Preview(src io.Reader, n int) (headers []string, rows [][]string, err error) {
	rd, err := NewReader(src)
	if err != nil {
		return nil, nil, err
	}
	for len(rows) < n {
		rec, err := rd.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			continue
		}
		rows = append(rows, rec)
	}
	return rd.Headers, rows, nil
}
