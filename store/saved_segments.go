package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Saved segments (docs/segments.md): named audience definitions of a
// workspace. The service (internal/segments) validates them and keeps
// Expr generated from Rules; the store keeps them and counts the
// profiles a ProfileFilter matches.

// Segment is one saved segment.
type Segment struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Expr        string    `json:"expr"`
	Rules       string    `json:"-"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type segmentRow struct {
	ID          string
	WorkspaceID string
	Name        string
	Description string
	Expr        string
	Rules       string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (segmentRow) TableName() string { return "segments" }

func (r segmentRow) domain() Segment {
	return Segment{ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Description: r.Description, Expr: r.Expr,
		Rules: r.Rules, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// MaxSegments bounds ListSegments (and, in the service, how many segments
// a workspace may hold).
const MaxSegments = 1000

// CreateSegment stores a new segment; its ID and times are set here. A
// name the workspace already uses is ErrConflict.
func (s *Store) CreateSegment(ctx context.Context, seg Segment) (Segment, error) {
	now := s.nowUTC()
	row := segmentRow{ID: NewID(), WorkspaceID: seg.WorkspaceID, Name: seg.Name, Description: seg.Description, Expr: seg.Expr,
		Rules: seg.Rules, CreatedBy: seg.CreatedBy, CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Segment{}, dbErr(err, "creating segment "+seg.Name)
	}
	return row.domain(), nil
}

// UpdateSegment replaces a segment's name, description, expression and
// rules, and moves its UpdatedAt on (strictly: two updates in the same
// clock tick still give two UpdatedAt, so a cache keyed by it never
// keeps a stale definition). ErrNotFound when the workspace has no such
// segment; ErrConflict when the new name is taken.
func (s *Store) UpdateSegment(ctx context.Context, seg Segment) (Segment, error) {
	var out segmentRow
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var row segmentRow
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", seg.WorkspaceID, seg.ID).Take(&row).Error; err != nil {
			return err
		}
		now := s.nowUTC()
		if !now.After(row.UpdatedAt) {
			now = row.UpdatedAt.UTC().Add(time.Millisecond)
		}
		row.Name, row.Description, row.Expr, row.Rules, row.UpdatedAt = seg.Name, seg.Description, seg.Expr, seg.Rules, now
		if err := tx.Model(&segmentRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"name": row.Name, "description": row.Description, "expr": row.Expr, "rules": row.Rules, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		out = row
		return nil
	})
	if err != nil {
		return Segment{}, dbErr(err, "updating segment "+seg.ID)
	}
	return out.domain(), nil
}

// DeleteSegment removes a segment; ErrNotFound when there is none.
func (s *Store) DeleteSegment(ctx context.Context, workspaceID, id string) error {
	res := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Delete(&segmentRow{})
	if res.Error != nil {
		return dbErr(res.Error, "deleting segment "+id)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("deleting segment %s: %w", id, ErrNotFound)
	}
	return nil
}

// GetSegment returns a segment by id.
func (s *Store) GetSegment(ctx context.Context, workspaceID, id string) (Segment, error) {
	var row segmentRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error
	if err != nil {
		return Segment{}, dbErr(err, "loading segment "+id)
	}
	return row.domain(), nil
}

// GetSegmentByName returns a segment by its name (the unique index's).
func (s *Store) GetSegmentByName(ctx context.Context, workspaceID, name string) (Segment, error) {
	var row segmentRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND name = ?", workspaceID, name).Take(&row).Error
	if err != nil {
		return Segment{}, dbErr(err, "loading segment "+name)
	}
	return row.domain(), nil
}

// ListSegments returns a workspace's segments by name (at most
// MaxSegments).
func (s *Store) ListSegments(ctx context.Context, workspaceID string) ([]Segment, error) {
	var rows []segmentRow
	err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("name").Limit(MaxSegments).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing segments")
	}
	out := make([]Segment, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// ProfileFilter is a condition on profiles the store evaluates in SQL: a
// group (Group "all" or "any" over Filters) or one test, of a built-in
// column (Field: external_id, email, phone, timezone, locale; "" is
// unset), of a custom attribute (Attribute, with the typed operators of
// AttributeCondition plus starts_with), or of a channel's consent status
// (Consent: the channel; Op "granted" or "not_granted"). Not negates it.
// Every test is true or false, never NULL, so Not and "any" read as the
// expressions the service generates from the same rules.
type ProfileFilter struct {
	Group   string // "all" or "any": a group of Filters
	Filters []ProfileFilter
	Not     bool

	Field     string
	Attribute string
	Consent   string
	Op        string // AttributeCondition's operators, starts_with; consent: granted, not_granted
	Value     string
	Number    float64
}

// Filter operators beyond AttributeCondition's.
const (
	AttrStartsWith     = "starts_with"
	ConsentGranted     = "granted"
	ConsentNotGranted  = "not_granted"
	maxFilterDepth     = 12
	maxFilterLeaves    = 200
	profileFieldsOfSQL = "external_id email phone timezone locale"
)

func (s *Store) filterSQL(f ProfileFilter, depth int, leaves *int) (string, []any, error) {
	if depth > maxFilterDepth {
		return "", nil, &QueryError{Field: "filter", Message: "nested too deep"}
	}
	var frag string
	var args []any
	switch {
	case f.Group != "":
		if f.Group != "all" && f.Group != "any" {
			return "", nil, &QueryError{Field: "group", Message: fmt.Sprintf("unknown group %q", f.Group)}
		}
		if len(f.Filters) == 0 {
			// An empty "all" holds for everyone, an empty "any" for nobody.
			frag = map[string]string{"all": "TRUE", "any": "FALSE"}[f.Group]
			break
		}
		parts := make([]string, 0, len(f.Filters))
		for _, sub := range f.Filters {
			p, a, err := s.filterSQL(sub, depth+1, leaves)
			if err != nil {
				return "", nil, err
			}
			parts = append(parts, "("+p+")")
			args = append(args, a...)
		}
		frag = strings.Join(parts, map[string]string{"all": " AND ", "any": " OR "}[f.Group])
	case f.Field != "":
		*leaves++
		var err error
		if frag, args, err = s.fieldSQL(f); err != nil {
			return "", nil, err
		}
	case f.Attribute != "":
		*leaves++
		c := AttributeCondition{Name: f.Attribute, Op: f.Op, Value: f.Value, Number: f.Number}
		op := c.Op
		if op == AttrStartsWith || op == AttrContains {
			c.Op = AttrIs // checks the name only
		}
		if err := checkAttributeCondition(c); err != nil {
			return "", nil, err
		}
		var fast bool
		switch op {
		case AttrContains, AttrStartsWith:
			frag, args = s.attrTextSQL(f.Attribute, op, f.Value)
		default:
			if frag, args, fast = s.attrFastSQLite(c); !fast {
				frag, args = s.attributeSQL(c)
			}
		}
		frag = "COALESCE((" + frag + "), FALSE)"
	case f.Consent != "":
		*leaves++
		if len(f.Consent) > 64 || strings.ContainsAny(f.Consent, "\"\\") || !utf8.ValidString(f.Consent) {
			return "", nil, &QueryError{Field: "consent", Message: "invalid channel name"}
		}
		var status string
		if s.dialect == DialectPostgres {
			status = "(consent -> CAST(? AS text) ->> 'status')"
			args = []any{f.Consent}
		} else {
			status = "json_extract(consent, ?)"
			args = []any{`$."` + f.Consent + `".status`}
		}
		switch f.Op {
		case ConsentGranted:
			frag = "COALESCE(" + status + " = 'granted', FALSE)"
		case ConsentNotGranted:
			frag = "NOT COALESCE(" + status + " = 'granted', FALSE)"
		default:
			return "", nil, &QueryError{Field: "op", Message: fmt.Sprintf("unknown consent operator %q", f.Op)}
		}
	default:
		return "", nil, &QueryError{Field: "filter", Message: "a filter needs a group, a field, an attribute or a consent channel"}
	}
	if *leaves > maxFilterLeaves {
		return "", nil, &QueryError{Field: "filter", Message: "too many conditions"}
	}
	if f.Not {
		frag = "NOT (" + frag + ")"
	}
	return frag, args, nil
}

// fieldSQL tests a built-in column; "" is an unset field (expressions see
// nil). Equality and prefixes compare bytes, so the (workspace_id, email)
// and (workspace_id, phone) indexes serve them.
func (s *Store) fieldSQL(f ProfileFilter) (string, []any, error) {
	if !strings.Contains(" "+profileFieldsOfSQL+" ", " "+f.Field+" ") {
		return "", nil, &QueryError{Field: "field", Message: fmt.Sprintf("unknown field %q", f.Field)}
	}
	col := f.Field
	if s.dialect == DialectPostgres {
		col = col + ` COLLATE "C"`
	}
	switch f.Op {
	case AttrIs:
		if f.Value == "" {
			return col + " = ''", nil, nil
		}
		return col + " = ?", []any{f.Value}, nil
	case AttrIsNot:
		return col + " <> ?", []any{f.Value}, nil
	case AttrContains:
		if s.dialect == DialectPostgres {
			return "strpos(" + f.Field + ", CAST(? AS text)) > 0", []any{f.Value}, nil
		}
		return "instr(" + f.Field + ", ?) > 0", []any{f.Value}, nil
	case AttrStartsWith:
		if f.Value == "" {
			return f.Field + " <> ''", nil, nil
		}
		if hi := prefixEnd(f.Value); hi != "" {
			return col + " >= ? AND " + col + " < ?", []any{f.Value, hi}, nil
		}
		return col + " >= ?", []any{f.Value}, nil
	case AttrSet:
		return f.Field + " <> ''", nil, nil
	case AttrNotSet:
		return f.Field + " = ''", nil, nil
	}
	return "", nil, &QueryError{Field: "op", Message: fmt.Sprintf("unknown operator %q for a field", f.Op)}
}

// attrFastSQLite is the SQLite form of the equality and number tests
// that reads the attribute's JSON once per profile where it can: the
// value is compared first and its JSON type checked only when the
// comparison held (AND stops at the first false), as JSON true and false
// read as 1 and 0. attributeSQL's form tests the type first, which costs
// a second JSON parse for every profile. ok is false for the other
// operators and on PostgreSQL.
func (s *Store) attrFastSQLite(c AttributeCondition) (string, []any, bool) {
	if s.dialect == DialectPostgres {
		return "", nil, false
	}
	path := `$."` + c.Name + `"`
	num := " AND json_type(attributes, ?) IN ('integer', 'real')"
	cmp := map[string]string{AttrEq: "=", AttrGt: ">", AttrGte: ">=", AttrLt: "<", AttrLte: "<="}
	switch c.Op {
	case AttrIs:
		// A JSON string reads as TEXT; a number or a boolean never equals
		// a TEXT parameter.
		return "json_extract(attributes, ?) = ?", []any{path, c.Value}, true
	case AttrIsNot:
		return "NOT COALESCE(json_extract(attributes, ?) = ?, FALSE)", []any{path, c.Value}, true
	case AttrNe:
		return "NOT COALESCE(json_extract(attributes, ?) = ?" + num + ", FALSE)", []any{path, c.Number, path}, true
	case AttrEq, AttrGt, AttrGte, AttrLt, AttrLte:
		return "json_extract(attributes, ?) " + cmp[c.Op] + " ?" + num, []any{path, c.Number, path}, true
	}
	return "", nil, false
}

// attrTextSQL: a string attribute that contains, or starts with, value
// (case-sensitive, as the expressions' contains and hasPrefix).
func (s *Store) attrTextSQL(name, op, value string) (string, []any) {
	if s.dialect == DialectPostgres {
		text := "(attributes ->> CAST(? AS text))"
		isString := "jsonb_typeof(attributes -> CAST(? AS text)) = 'string'"
		if op == AttrContains {
			return isString + " AND strpos(" + text + ", CAST(? AS text)) > 0", []any{name, name, value}
		}
		return isString + " AND substr(" + text + ", 1, CAST(? AS integer)) = CAST(? AS text)", []any{name, name, utf8.RuneCountInString(value), value}
	}
	path := `$."` + name + `"`
	if op == AttrContains {
		return "json_type(attributes, ?) = 'text' AND instr(json_extract(attributes, ?), ?) > 0", []any{path, path, value}
	}
	return "json_type(attributes, ?) = 'text' AND substr(json_extract(attributes, ?), 1, ?) = ?", []any{path, path, utf8.RuneCountInString(value), value}
}

// ProfileEstimate is how many live profiles a filter matches, with a
// sample of them (newest first).
type ProfileEstimate struct {
	Count  int64
	Sample []Profile
}

// MaxEstimateSample bounds EstimateProfiles' sample.
const MaxEstimateSample = 10

// EstimateProfiles counts a workspace's live profiles that match f, in
// SQL, and returns up to sample (at most MaxEstimateSample) of them. The
// caller bounds its time with ctx.
func (s *Store) EstimateProfiles(ctx context.Context, workspaceID string, f ProfileFilter, sample int) (ProfileEstimate, error) {
	leaves := 0
	frag, args, err := s.filterSQL(f, 0, &leaves)
	if err != nil {
		return ProfileEstimate{}, err
	}
	ws := "workspace_id = ?"
	if s.dialect != DialectPostgres && !indexable(f) {
		// Nothing an index serves: SQLite reads the table in order (the
		// unary + keeps it off the (workspace_id, …) indexes, whose row
		// lookups cost twice a plain scan of a workspace's profiles).
		ws = "+workspace_id = ?"
	}
	where := ws + " AND erased_at IS NULL AND (" + frag + ")"
	all := append([]any{workspaceID}, args...)
	var out ProfileEstimate
	if err := s.db.WithContext(ctx).Model(&profileRow{}).Where(where, all...).Count(&out.Count).Error; err != nil {
		return ProfileEstimate{}, dbErr(err, "counting profiles")
	}
	sample = min(max(sample, 0), MaxEstimateSample)
	if sample > 0 && out.Count > 0 {
		var rows []profileRow
		if err := s.db.WithContext(ctx).Where(where, all...).Order("id DESC").Limit(sample).Find(&rows).Error; err != nil {
			return ProfileEstimate{}, dbErr(err, "sampling profiles")
		}
		for _, r := range rows {
			out.Sample = append(out.Sample, r.domain())
		}
	}
	return out, nil
}

// indexable: an "all" filter (or a single test) with an equality or a
// prefix on email, phone or external_id, which their (workspace_id, …)
// indexes serve.
func indexable(f ProfileFilter) bool {
	if f.Not {
		return false
	}
	if f.Group == "all" {
		for _, sub := range f.Filters {
			if indexable(sub) {
				return true
			}
		}
		return false
	}
	return (f.Field == "email" || f.Field == "phone" || f.Field == "external_id") && (f.Op == AttrIs || f.Op == AttrStartsWith)
}

// CountProfiles counts a workspace's live (not erased) profiles.
func (s *Store) CountProfiles(ctx context.Context, workspaceID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&profileRow{}).Where("workspace_id = ? AND erased_at IS NULL", workspaceID).Count(&n).Error
	return n, dbErr(err, "counting profiles")
}

// IsQueryError reports whether err is a filter the store refused.
func IsQueryError(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe)
}
