package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
)

// The profile list (the Profiles page): a search by prefix of the
// external id, the email or the phone number, an optional condition on
// one attribute, and keyset pages. Every part a page reads is an index
// range scan (profiles_list_*_idx, migration 00018): a search walks the
// external ids that start with it, then the emails, then the phone
// numbers, each in its index's order, so a page never sorts the table.
// An attribute condition is no index's (attributes are free-form), so it
// filters a bounded window of candidates: a page reads at most
// ProfileScanBudget of them per part and, when that window holds fewer
// matches than the page wants, says so (Partial) with a cursor that goes
// on from the window's end.

// Bounds of ListProfiles.
const (
	// MaxProfilePage is the most profiles one page returns.
	MaxProfilePage = 500
	// ProfileScanBudget is how many candidates an attribute condition
	// reads per part of a page before the page stops (Partial).
	ProfileScanBudget = 5000
)

// Attribute condition operators. Strings: Is, IsNot, Contains; numbers:
// Eq … Lte; booleans: IsTrue, IsFalse; any type: Set, NotSet. The negative
// ones (IsNot, Ne) keep profiles without the attribute.
const (
	AttrIs       = "is"
	AttrIsNot    = "is_not"
	AttrContains = "contains"
	AttrEq       = "eq"
	AttrNe       = "ne"
	AttrGt       = "gt"
	AttrGte      = "gte"
	AttrLt       = "lt"
	AttrLte      = "lte"
	AttrIsTrue   = "is_true"
	AttrIsFalse  = "is_false"
	AttrSet      = "set"
	AttrNotSet   = "not_set"
)

// AttributeCondition is a typed test of one attribute: Value for the
// string operators, Number for the number ones, nothing for the others.
type AttributeCondition struct {
	Name   string
	Op     string
	Value  string
	Number float64
}

// ProfileQuery narrows ListProfiles.
type ProfileQuery struct {
	// Search keeps the profiles whose external id, email (compared in
	// lower case) or phone number (digits, with or without "+") starts
	// with it.
	Search    string
	Attribute *AttributeCondition
	// After is the cursor of the previous page (ProfileList.Next).
	After string
	// Limit: default 50, at most MaxProfilePage.
	Limit int
	// Scan overrides ProfileScanBudget (tests).
	Scan int
}

// ProfileList is one page of profiles.
type ProfileList struct {
	Profiles []Profile
	// Matched says, per profile, which field the search matched:
	// "external_id", "email" or "phone" ("" without a search).
	Matched []string
	// Next is the cursor of the next page; "" when there is none.
	Next string
	// Partial: an attribute condition read its whole scan budget and
	// found fewer profiles than a page; Next goes on from there.
	Partial bool
}

// ErrBadCursor is a cursor ListProfiles did not give.
var ErrBadCursor = errors.New("invalid cursor")

// QueryError is a condition the store cannot evaluate; Field names it.
type QueryError struct {
	Field, Message string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Message }

// profilePart is one ordered part of a search: the profiles whose column
// lies in [lo, hi), by (column, id), less those an earlier part showed.
type profilePart struct {
	match   string // what the part matches, as ProfileList.Matched says
	col     string // external_id, email or phone
	lo, hi  string // hi "": no upper bound; lo "" and hi "": every profile
	tie     bool   // the column is not unique: order by (column, id)
	exclude []profilePart
}

type profileCursor struct {
	Part int    `json:"p"`
	Key  string `json:"k"`
	ID   string `json:"i,omitempty"`
}

func (c profileCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeProfileCursor(s string, parts int) (profileCursor, error) {
	var c profileCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 2048 || json.Unmarshal(b, &c) != nil || c.Part < 0 || c.Part >= parts || !utf8.ValidString(c.Key) || !utf8.ValidString(c.ID) {
		return c, ErrBadCursor
	}
	return c, nil
}

// prefixEnd is the least string greater than every string that starts
// with p, in code point (= UTF-8 byte) order; "" when there is none.
func prefixEnd(p string) string {
	r := []rune(p)
	for len(r) > 0 {
		last := r[len(r)-1]
		if last < utf8.MaxRune {
			last++
			if last == 0xD800 { // surrogates are not characters
				last = 0xE000
			}
			r[len(r)-1] = last
			return string(r)
		}
		r = r[:len(r)-1]
	}
	return ""
}

// phonePrefix reads a search as the start of an E.164 number: "+" then
// digits, spaces, dots, dashes and brackets dropped; digits without "+"
// are taken as starting with the country code. ok is false when the
// search is not the start of a phone number.
func phonePrefix(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return "+" + b.String(), true
}

func profileParts(search string) []profilePart {
	search = strings.TrimSpace(search)
	if search == "" {
		return []profilePart{{col: "external_id"}}
	}
	id := profilePart{match: "external_id", col: "external_id", lo: search, hi: prefixEnd(search)}
	email := strings.ToLower(search)
	em := profilePart{match: "email", col: "email", lo: email, hi: prefixEnd(email), tie: true, exclude: []profilePart{id}}
	parts := []profilePart{id, em}
	if ph, ok := phonePrefix(search); ok {
		parts = append(parts, profilePart{match: "phone", col: "phone", lo: ph, hi: prefixEnd(ph), tie: true, exclude: []profilePart{id, em}})
	}
	return parts
}

// ListProfiles returns a page of a workspace's profiles (erased ones left
// out), ordered by external id, or, with a search, by the field it
// matched (see profileParts). The caller bounds its time with ctx.
func (s *Store) ListProfiles(ctx context.Context, workspaceID string, q ProfileQuery) (ProfileList, error) {
	var out ProfileList
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, MaxProfilePage)
	if q.Scan <= 0 {
		q.Scan = ProfileScanBudget
	}
	if q.Attribute != nil {
		if err := checkAttributeCondition(*q.Attribute); err != nil {
			return out, err
		}
	}
	parts := profileParts(q.Search)
	var pos *profileCursor
	if q.After != "" {
		c, err := decodeProfileCursor(q.After, len(parts))
		if err != nil {
			return out, err
		}
		pos = &c
	}
	start := 0
	if pos != nil {
		start = pos.Part
	}
	var last *profileCursor
	for i := start; i < len(parts); i++ {
		p := parts[i]
		after := pos
		if pos != nil && pos.Part != i {
			after = nil
		}
		need := q.Limit - len(out.Profiles)
		var end *profileCursor
		if q.Attribute != nil {
			e, err := s.profileWindowEnd(ctx, workspaceID, p, i, after, q.Scan)
			if err != nil {
				return out, err
			}
			end = e
		}
		rows, err := s.profilePartRows(ctx, workspaceID, p, after, end, q.Attribute, need+1)
		if err != nil {
			return out, err
		}
		if len(rows) > need {
			for _, r := range rows[:need] {
				out.Profiles = append(out.Profiles, r.domain())
				out.Matched = append(out.Matched, p.match)
				last = partPosition(p, i, r)
			}
			if last != nil {
				out.Next = last.encode()
			}
			return out, nil
		}
		for _, r := range rows {
			out.Profiles = append(out.Profiles, r.domain())
			out.Matched = append(out.Matched, p.match)
			last = partPosition(p, i, r)
		}
		if end != nil {
			out.Partial = true
			out.Next = end.encode()
			return out, nil
		}
	}
	return out, nil
}

func partPosition(p profilePart, i int, r profileRow) *profileCursor {
	c := &profileCursor{Part: i, Key: profileColumn(r, p.col)}
	if p.tie {
		c.ID = r.ID
	}
	return c
}

func profileColumn(r profileRow, col string) string {
	switch col {
	case "email":
		return r.Email
	case "phone":
		return r.Phone
	}
	return r.ExternalID
}

// key is the part's column as compared and ordered: byte order on both
// stores (PostgreSQL's "C" collation, which its indexes use).
func (s *Store) profileKey(col string) string {
	if s.dialect == DialectPostgres {
		return col + ` COLLATE "C"`
	}
	return col
}

// partScope is the part's candidates after the cursor: the range, the
// non-empty column of a search, the keyset.
func (s *Store) partScope(ctx context.Context, workspaceID string, p profilePart, after *profileCursor) *gorm.DB {
	key := s.profileKey(p.col)
	db := s.db.WithContext(ctx).Model(&profileRow{}).Where("workspace_id = ?", workspaceID)
	if p.lo != "" {
		db = db.Where(key+" >= ?", p.lo)
	}
	if p.hi != "" {
		db = db.Where(key+" < ?", p.hi)
	}
	if p.tie {
		// The partial indexes hold non-empty values only.
		db = db.Where(p.col + " <> ''")
	}
	if after != nil {
		if p.tie {
			db = db.Where("("+key+", id) > (?, ?)", after.Key, after.ID)
		} else {
			db = db.Where(key+" > ?", after.Key)
		}
	}
	if p.tie {
		return db.Order(key + ", id")
	}
	return db.Order(key)
}

// profileWindowEnd is the position of the budget-th candidate of the part
// after the cursor (an index-only walk), or nil when the part holds fewer.
func (s *Store) profileWindowEnd(ctx context.Context, workspaceID string, p profilePart, i int, after *profileCursor, budget int) (*profileCursor, error) {
	var row struct {
		Key string
		ID  string
	}
	err := s.windowScope(ctx, workspaceID, p, after, budget).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err, "listing profiles")
	}
	c := &profileCursor{Part: i, Key: row.Key}
	if p.tie {
		c.ID = row.ID
	}
	return c, nil
}

// windowScope selects the budget-th candidate's position.
func (s *Store) windowScope(ctx context.Context, workspaceID string, p profilePart, after *profileCursor, budget int) *gorm.DB {
	cols := p.col + " AS key"
	if p.tie {
		cols += ", id"
	}
	return s.partScope(ctx, workspaceID, p, after).Select(cols).Offset(budget - 1).Limit(1)
}

func (s *Store) profilePartRows(ctx context.Context, workspaceID string, p profilePart, after, end *profileCursor, cond *AttributeCondition, limit int) ([]profileRow, error) {
	var rows []profileRow
	if err := s.partRows(ctx, workspaceID, p, after, end, cond).Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing profiles")
	}
	return rows, nil
}

// partRows is the part's profiles after the cursor, up to the window's
// end, less the earlier parts' matches, that pass the condition.
func (s *Store) partRows(ctx context.Context, workspaceID string, p profilePart, after, end *profileCursor, cond *AttributeCondition) *gorm.DB {
	db := s.partScope(ctx, workspaceID, p, after).Where("erased_at IS NULL")
	key := s.profileKey(p.col)
	if end != nil {
		if p.tie {
			db = db.Where("("+key+", id) <= (?, ?)", end.Key, end.ID)
		} else {
			db = db.Where(key+" <= ?", end.Key)
		}
	}
	for _, x := range p.exclude {
		xk := s.profileKey(x.col)
		if x.hi != "" {
			db = db.Where("NOT ("+xk+" >= ? AND "+xk+" < ?)", x.lo, x.hi)
		} else {
			db = db.Where("NOT ("+xk+" >= ?)", x.lo)
		}
	}
	if cond != nil {
		sql, args := s.attributeSQL(*cond)
		db = db.Where(sql, args...)
	}
	return db
}

// MaxAttributeFilterValue bounds the text an attribute filter compares
// with.
const MaxAttributeFilterValue = 1024

// checkAttributeCondition refuses what attributeSQL cannot say: an
// unknown operator, a name SQLite's JSON paths cannot quote.
func checkAttributeCondition(c AttributeCondition) error {
	if c.Name == "" || len(c.Name) > 64 || !utf8.ValidString(c.Name) {
		return &QueryError{Field: "attribute", Message: "attribute names are 1 to 64 characters"}
	}
	for _, r := range c.Name {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return &QueryError{Field: "attribute", Message: "a filter cannot name an attribute with quotes, backslashes or control characters"}
		}
	}
	if len(c.Value) > MaxAttributeFilterValue || !utf8.ValidString(c.Value) {
		return &QueryError{Field: "value", Message: fmt.Sprintf("a filter's value is at most %d bytes of UTF-8", MaxAttributeFilterValue)}
	}
	switch c.Op {
	case AttrIs, AttrIsNot, AttrContains, AttrEq, AttrNe, AttrGt, AttrGte, AttrLt, AttrLte, AttrIsTrue, AttrIsFalse, AttrSet, AttrNotSet:
	default:
		return &QueryError{Field: "op", Message: fmt.Sprintf("unknown operator %q", c.Op)}
	}
	return nil
}

// attributeSQL is the condition as SQL for the store's dialect: the
// attribute's JSON type is tested before its value, so "5" (a string) is
// never the number 5, and a missing attribute makes a test false, never
// NULL (the negative operators keep it).
func (s *Store) attributeSQL(c AttributeCondition) (string, []any) {
	// Each fragment takes the attribute's name (or SQLite's JSON path to
	// it) once per "?" it holds.
	var name any
	var typ, isString, text, num, isTrue, isFalse, contains string
	if s.dialect == DialectPostgres {
		name = c.Name
		typ = "jsonb_typeof(attributes -> CAST(? AS text))"
		isString = typ + " = 'string'"
		text = "(attributes ->> CAST(? AS text))"
		num = "CASE WHEN " + typ + " = 'number' THEN " + text + "::float8 END"
		isTrue = "(attributes -> CAST(? AS text)) = 'true'::jsonb"
		isFalse = "(attributes -> CAST(? AS text)) = 'false'::jsonb"
		contains = "strpos(lower(" + text + "), lower(CAST(? AS text))) > 0"
	} else {
		name = `$."` + c.Name + `"`
		typ = "json_type(attributes, ?)"
		isString = typ + " = 'text'"
		text = "json_extract(attributes, ?)"
		num = "CASE WHEN " + typ + " IN ('integer', 'real') THEN " + text + " END"
		isTrue = typ + " = 'true'"
		isFalse = typ + " = 'false'"
		contains = "instr(lower(" + text + "), lower(?)) > 0"
	}
	sql := func(frag string, value ...any) (string, []any) {
		args := repeat(name, strings.Count(frag, "?")-len(value))
		return frag, append(args, value...)
	}
	not := func(frag string, args []any) (string, []any) { return "NOT COALESCE((" + frag + "), FALSE)", args }
	switch c.Op {
	case AttrIs:
		return sql(isString+" AND "+text+" = ?", c.Value)
	case AttrIsNot:
		return not(sql(isString+" AND "+text+" = ?", c.Value))
	case AttrContains:
		return sql(isString+" AND "+contains, c.Value)
	case AttrEq:
		return sql(num+" = ?", c.Number)
	case AttrNe:
		return not(sql(num+" = ?", c.Number))
	case AttrGt:
		return sql(num+" > ?", c.Number)
	case AttrGte:
		return sql(num+" >= ?", c.Number)
	case AttrLt:
		return sql(num+" < ?", c.Number)
	case AttrLte:
		return sql(num+" <= ?", c.Number)
	case AttrIsTrue:
		return sql(isTrue)
	case AttrIsFalse:
		return sql(isFalse)
	case AttrSet:
		return sql("COALESCE(" + typ + ", 'null') <> 'null'")
	case AttrNotSet:
		return sql("COALESCE(" + typ + ", 'null') = 'null'")
	}
	return "FALSE", nil // checkAttributeCondition refused it
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}
