package segments

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/store"
)

// Rule is one node of the visual builder's rule tree: a group (Match
// "all" or "any" over Rules) or one condition, on a built-in field
// (Field), a custom attribute (Attribute with its Type), a channel's
// consent (Consent) or another saved segment (Segment). The top of a tree
// is a group. Generate turns a tree into the segment's expression; it is
// the only place that does, so the expression is what the rules mean.
type Rule struct {
	Match string `json:"match,omitempty"`
	Rules []Rule `json:"rules,omitempty"`

	Field     string `json:"field,omitempty"`
	Attribute string `json:"attribute,omitempty"`
	Type      string `json:"type,omitempty"`
	Consent   string `json:"consent,omitempty"`
	Segment   string `json:"segment,omitempty"`
	Op        string `json:"op,omitempty"`
	Value     any    `json:"value"` // no omitempty: 0 and false are values
}

// Bounds of a rule tree.
const (
	// MaxConditions is the most conditions a tree holds.
	MaxConditions = 50
	// MaxNesting is how deep groups nest (the top group is level 1).
	MaxNesting = 4
	// MaxValueLength bounds a string value, in bytes.
	MaxValueLength = 500
	// MaxWithinDays bounds "within the last N days".
	MaxWithinDays = 3650
)

// Fields are the built-in profile fields a rule can test.
var Fields = []string{"email", "phone", "external_id", "timezone", "locale"}

// Attribute types and their operators.
var (
	StringOps  = []string{"is", "is_not", "contains", "starts_with", "exists", "not_exists"}
	NumberOps  = []string{"eq", "ne", "lt", "lte", "gt", "gte", "exists", "not_exists"}
	BooleanOps = []string{"is_true", "is_false", "exists", "not_exists"}
	DateOps    = []string{"before", "after", "within_days", "exists", "not_exists"}
	ConsentOps = []string{"granted", "not_granted"}
	SegmentOps = []string{"in", "not_in"}
	// TypeOps maps an attribute type to its operators.
	TypeOps = map[string][]string{"string": StringOps, "number": NumberOps, "boolean": BooleanOps, "date": DateOps}
)

var (
	identRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	channelRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	dateRe    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	// Words expr reads as operators or literals: an attribute so named is
	// read with profile["…"].
	exprWords = map[string]bool{"in": true, "not": true, "and": true, "or": true, "contains": true, "matches": true,
		"startsWith": true, "endsWith": true, "nil": true, "true": true, "false": true, "let": true, "if": true, "else": true}
)

// Problem is one thing wrong with a segment, Field naming it the way the
// request does ("name", "expr", "rules[2].value").
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists what is wrong with a segment or an estimate's
// rules.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid segment"
	}
	return e.Problems[0].Field + ": " + e.Problems[0].Message
}

type checker struct {
	problems   []Problem
	conditions int
}

func (c *checker) add(field, format string, args ...any) {
	if len(c.problems) < 50 {
		c.problems = append(c.problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseRules reads a rule tree from JSON (as stored, or as a request
// sends it) without validating it.
func ParseRules(s string) (Rule, error) {
	var r Rule
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return Rule{}, err
	}
	return Normalize(r), nil
}

// Normalize turns json.Number values into float64 (JSON numbers decoded
// into any are float64 elsewhere).
func Normalize(r Rule) Rule {
	if n, ok := r.Value.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			r.Value = f
		}
	}
	for i := range r.Rules {
		r.Rules[i] = Normalize(r.Rules[i])
	}
	return r
}

// Validate checks a rule tree (the top a group), naming each problem by
// its path under prefix ("rules" for the top group's conditions).
func Validate(top Rule) []Problem {
	c := &checker{}
	if top.Match == "" {
		top.Match = "all"
	}
	c.group(top, "rules", 1)
	if c.conditions > MaxConditions {
		c.add("rules", "at most %d conditions (these rules have %d); split them into segments and combine those", MaxConditions, c.conditions)
	}
	return c.problems
}

func (c *checker) group(g Rule, path string, level int) {
	if g.Match != "all" && g.Match != "any" {
		c.add(strings.TrimSuffix(path, ".rules")+".match", `must be "all" or "any"`)
	}
	if level > MaxNesting {
		c.add(path, "groups nest at most %d levels deep", MaxNesting)
		return
	}
	if len(g.Rules) > MaxConditions {
		c.add(path, "at most %d rules in a group", MaxConditions)
		return
	}
	for i, r := range g.Rules {
		c.rule(r, fmt.Sprintf("%s[%d]", path, i), level)
	}
}

func (c *checker) rule(r Rule, path string, level int) {
	set := 0
	for _, s := range []string{r.Match, r.Field, r.Attribute, r.Consent, r.Segment} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		c.add(path, "a rule is a group (match) or tests one of field, attribute, consent or segment")
		return
	}
	if r.Match != "" {
		c.group(r, path+".rules", level+1)
		return
	}
	c.conditions++
	switch {
	case r.Field != "":
		if !contains(Fields, r.Field) {
			c.add(path+".field", "unknown field %q (one of %s)", r.Field, strings.Join(Fields, ", "))
			return
		}
		c.op(r, path, StringOps)
	case r.Attribute != "":
		if msg := attributeNameProblem(r.Attribute); msg != "" {
			c.add(path+".attribute", "%s", msg)
			return
		}
		ops, ok := TypeOps[r.Type]
		if !ok {
			c.add(path+".type", `must be "string", "number", "boolean" or "date"`)
			return
		}
		c.op(r, path, ops)
	case r.Consent != "":
		if !channelRe.MatchString(r.Consent) {
			c.add(path+".consent", "a channel name is a lower-case letter then up to 63 letters, digits or _")
			return
		}
		c.op(r, path, ConsentOps)
	case r.Segment != "":
		if msg := NameProblem(r.Segment); msg != "" {
			c.add(path+".segment", "%s", msg)
			return
		}
		c.op(r, path, SegmentOps)
	}
}

func attributeNameProblem(name string) string {
	if name == "" || len(name) > 64 || !utf8.ValidString(name) {
		return "attribute names are 1 to 64 characters"
	}
	for _, r := range name {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return "attribute names cannot hold quotes, backslashes or control characters"
		}
	}
	if contains(Fields, name) || name == "consent" {
		return fmt.Sprintf("%q is a built-in field: test it as a field", name)
	}
	return ""
}

// op checks the operator and the value it needs.
func (c *checker) op(r Rule, path string, ops []string) {
	if !contains(ops, r.Op) {
		c.add(path+".op", "must be one of %s", strings.Join(ops, ", "))
		return
	}
	vp := path + ".value"
	switch r.Op {
	case "exists", "not_exists", "is_true", "is_false", "granted", "not_granted", "in", "not_in":
		if r.Value != nil {
			c.add(vp, "takes no value with %s", r.Op)
		}
	case "is", "is_not", "contains", "starts_with":
		s, ok := r.Value.(string)
		switch {
		case !ok:
			c.add(vp, "must be text")
		case s == "":
			c.add(vp, "must not be empty (use exists or not_exists)")
		case len(s) > MaxValueLength || !utf8.ValidString(s):
			c.add(vp, "at most %d bytes of UTF-8 text", MaxValueLength)
		}
	case "eq", "ne", "lt", "lte", "gt", "gte":
		f, ok := r.Value.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			c.add(vp, "must be a number")
		}
	case "before", "after":
		s, _ := r.Value.(string)
		if _, err := time.Parse(time.DateOnly, s); err != nil || !dateRe.MatchString(s) {
			c.add(vp, "must be a date, YYYY-MM-DD")
		}
	case "within_days":
		f, ok := r.Value.(float64)
		if !ok || f != math.Trunc(f) || f < 1 || f > MaxWithinDays {
			c.add(vp, "must be a whole number of days from 1 to %d", MaxWithinDays)
		}
	}
}

// Generate is the expression a valid rule tree means: a condition over
// profile and now, with in_segment("name") for segment rules. Every
// condition is true or false for every profile, never an error (types
// are tested before comparisons), except a date rule on a value that is
// not a date; so "any" groups mean what they say.
func Generate(top Rule) string {
	if top.Match == "" {
		top.Match = "all"
	}
	return group(top)
}

func group(g Rule) string {
	if len(g.Rules) == 0 {
		if g.Match == "any" {
			return "false"
		}
		return "true"
	}
	parts := make([]string, len(g.Rules))
	for i, r := range g.Rules {
		if r.Match != "" {
			parts[i] = group(r)
		} else {
			parts[i] = condition(r)
		}
		if len(g.Rules) > 1 && (strings.Contains(parts[i], " && ") || strings.Contains(parts[i], " || ")) {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	sep := " && "
	if g.Match == "any" {
		sep = " || "
	}
	return strings.Join(parts, sep)
}

func quote(s string) string { return strconv.Quote(s) }

func accessor(r Rule) string {
	name := r.Attribute
	if r.Field != "" {
		name = r.Field
	}
	if identRe.MatchString(name) && !exprWords[name] {
		return "profile." + name
	}
	return "profile[" + quote(name) + "]"
}

func number(v any) string {
	f, _ := v.(float64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func condition(r Rule) string {
	switch {
	case r.Consent != "":
		a := "profile.consent?." + r.Consent
		if r.Op == "granted" {
			return a + ` == "granted"`
		}
		return a + ` != "granted"`
	case r.Segment != "":
		if r.Op == "not_in" {
			return "not in_segment(" + quote(r.Segment) + ")"
		}
		return "in_segment(" + quote(r.Segment) + ")"
	}
	a := accessor(r)
	s, _ := r.Value.(string)
	switch r.Op {
	case "exists":
		return a + " != nil"
	case "not_exists":
		return a + " == nil"
	case "is":
		return a + " == " + quote(s)
	case "is_not":
		return a + " != " + quote(s)
	case "contains":
		if r.Field != "" {
			return "(" + a + ` ?? "") contains ` + quote(s)
		}
		return "type(" + a + `) == "string" && ` + a + " contains " + quote(s)
	case "starts_with":
		if r.Field != "" {
			return "hasPrefix(" + a + ` ?? "", ` + quote(s) + ")"
		}
		return "type(" + a + `) == "string" && hasPrefix(` + a + ", " + quote(s) + ")"
	case "eq":
		return a + " == " + number(r.Value)
	case "ne":
		return a + " != " + number(r.Value)
	case "lt", "lte", "gt", "gte":
		op := map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[r.Op]
		return "type(" + a + `) in ["int", "float"] && ` + a + " " + op + " " + number(r.Value)
	case "is_true":
		return a + " == true"
	case "is_false":
		return a + " == false"
	case "before":
		return "has(" + a + ") && to_time(" + a + `) < date(` + quote(s) + ")"
	case "after":
		d, _ := time.Parse(time.DateOnly, s)
		return "has(" + a + ") && to_time(" + a + `) >= date(` + quote(d.AddDate(0, 0, 1).Format(time.DateOnly)) + ")"
	case "within_days":
		h := int(r.Value.(float64)) * 24
		return "has(" + a + ") && to_time(" + a + ") >= now - duration(" + quote(strconv.Itoa(h)+"h") + ") && to_time(" + a + ") <= now"
	}
	return "false"
}

// Filter translates a valid rule tree to the store's SQL filter. ok is
// false when a rule has no SQL form (a date rule, a segment defined by a
// hand-written expression): the estimate then evaluates the expression.
// resolve gives a referenced segment's rules (ok false: it has none).
func Filter(top Rule, resolve func(name string) (Rule, bool), depth int) (store.ProfileFilter, bool) {
	if depth > maxRefDepth {
		return store.ProfileFilter{}, false
	}
	if top.Match == "" {
		top.Match = "all"
	}
	out := store.ProfileFilter{Group: top.Match}
	for _, r := range top.Rules {
		var f store.ProfileFilter
		ok := true
		switch {
		case r.Match != "":
			f, ok = Filter(r, resolve, depth)
		case r.Segment != "":
			var ref Rule
			if ref, ok = resolve(r.Segment); ok {
				f, ok = Filter(ref, resolve, depth+1)
				f.Not = r.Op == "not_in"
			}
		case r.Consent != "":
			f = store.ProfileFilter{Consent: r.Consent, Op: r.Op}
		case r.Type == "date":
			ok = false
		default:
			f = store.ProfileFilter{Field: r.Field, Attribute: r.Attribute, Op: storeOp(r.Op)}
			switch v := r.Value.(type) {
			case string:
				f.Value = v
			case float64:
				f.Number = v
			}
		}
		if !ok {
			return store.ProfileFilter{}, false
		}
		out.Filters = append(out.Filters, f)
	}
	return out, true
}

func storeOp(op string) string {
	switch op {
	case "exists":
		return store.AttrSet
	case "not_exists":
		return store.AttrNotSet
	}
	return op // is, is_not, contains, starts_with, eq … gte, is_true, is_false share the store's names
}
