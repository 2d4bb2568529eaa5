package web

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/views"
)

// Checking what a template reads of the profile (docs/editor.md,
// "Preview as a real person"): every profile field a placeholder names
// without a fallback is looked up on the previewed profile and on the
// workspace's recent profiles. A field the previewed profile lacks, or
// that more than missingShareWarn of the recent profiles lack, gets a
// warning with a fallback to add; a field none of them has is flagged
// as a likely typo, with the closest name they do have.

// missingShareWarn: a field missing on more than this share of the
// recent profiles is worth a fallback.
const missingShareWarn = 0.10

// recentProfilesChecked is how many of the newest profiles the check
// reads (store.RecentProfiles).
const recentProfilesChecked = 200

// profileRef is a profile field a template reads by name; Guarded when
// the read has a fallback (the left side of ??, or a condition's test).
type profileRef struct {
	Name    string
	Guarded bool
}

// templateProfileRefs lists the profile fields src's placeholders read by
// name, in order of first use. A placeholder that does not parse is
// skipped (the field's own error says why).
func templateProfileRefs(src string) []profileRef {
	var out []profileRef
	index := map[string]int{}
	for _, code := range expression.Placeholders(src) {
		tree, err := parser.Parse(code)
		if err != nil {
			continue
		}
		all := &profileNames{}
		ast.Walk(&tree.Node, all)
		guard := &guardFinder{}
		ast.Walk(&tree.Node, guard)
		for _, name := range all.names {
			g := slices.Contains(guard.names, name)
			if i, ok := index[name]; ok {
				out[i].Guarded = out[i].Guarded && g
				continue
			}
			index[name] = len(out)
			out = append(out, profileRef{Name: name, Guarded: g})
		}
	}
	return out
}

// profileNames collects profile.x and profile["x"].
type profileNames struct{ names []string }

func (v *profileNames) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.MemberNode)
	if !ok || n.Method {
		return
	}
	if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "profile" {
		if s, ok := n.Property.(*ast.StringNode); ok && !slices.Contains(v.names, s.Value) {
			v.names = append(v.names, s.Value)
		}
	}
}

// guardFinder collects the names read where a missing value is handled:
// the left of ??, the test of a ternary.
type guardFinder struct{ names []string }

func (v *guardFinder) Visit(node *ast.Node) {
	var sub *ast.Node
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator == "??" {
			sub = &n.Left
		}
	case *ast.ConditionalNode:
		sub = &n.Cond
	}
	if sub != nil {
		p := &profileNames{}
		ast.Walk(sub, p)
		v.names = append(v.names, p.names...)
	}
}

// profileHas reports whether p has a non-empty value for the field name,
// as a template would see it (built-in fields included).
func profileHas(p *store.Profile, name string) bool {
	var v any
	switch name {
	case "external_id":
		v = p.ExternalID
	case "email":
		v = p.Email
	case "phone":
		v = p.Phone
	case "timezone":
		v = p.Timezone
	case "locale":
		v = p.Locale
	default:
		v = p.Attributes[name]
	}
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	}
	return true
}

var builtinProfileFields = []string{"external_id", "email", "phone", "timezone", "locale"}

// fallbackFix is the placeholder with a fallback, as the warning suggests.
func fallbackFix(name string) string {
	return `{{ ` + profileExpr(name) + ` ?? "there" }}`
}

func profileExpr(name string) string {
	if isIdent(name) {
		return "profile." + name
	}
	return fmt.Sprintf("profile[%q]", name)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

// checkProfileRefs warns about the unguarded fields refs reads: missing on
// the previewed profile (chosen, nil for the sample), missing on too many
// recent profiles, or on none of them (a typo, then, with the closest
// known name). who names the previewed profile.
func checkProfileRefs(refs []profileRef, chosen *store.Profile, who string, recent []store.Profile) []views.PreviewWarning {
	var out []views.PreviewWarning
	var known map[string]bool
	for _, r := range refs {
		if r.Guarded {
			continue
		}
		missing := 0
		for i := range recent {
			if !profileHas(&recent[i], r.Name) {
				missing++
			}
		}
		builtin := slices.Contains(builtinProfileFields, r.Name)
		switch {
		case !builtin && len(recent) > 0 && missing == len(recent) && (chosen == nil || !profileHas(chosen, r.Name)):
			if known == nil {
				known = knownFields(recent)
			}
			w := views.PreviewWarning{Attribute: r.Name, Kind: "unknown",
				Message: fmt.Sprintf("No profile has %q (none of the %d newest profiles): is it a typo?", r.Name, len(recent))}
			if near := closestName(r.Name, known); near != "" {
				w.Message = fmt.Sprintf("No profile has %q (none of the %d newest profiles). Did you mean %q?", r.Name, len(recent), near)
				w.Fix = "{{ " + profileExpr(near) + " }}"
			}
			out = append(out, w)
		case chosen != nil && !profileHas(chosen, r.Name):
			out = append(out, views.PreviewWarning{Attribute: r.Name, Kind: "missing", Fix: fallbackFix(r.Name),
				Message: fmt.Sprintf("%s has no %q: the message shows nothing there. Add a fallback:", who, r.Name)})
		case len(recent) > 0 && float64(missing) > missingShareWarn*float64(len(recent)):
			out = append(out, views.PreviewWarning{Attribute: r.Name, Kind: "rare", Fix: fallbackFix(r.Name),
				Message: fmt.Sprintf("%q is missing on %d of the %d newest profiles (%d%%): they would see nothing there. Add a fallback:",
					r.Name, missing, len(recent), (missing*100+len(recent)/2)/len(recent))})
		}
	}
	return out
}

// knownFields is every field name the profiles have, built-ins included.
func knownFields(ps []store.Profile) map[string]bool {
	out := map[string]bool{}
	for _, f := range builtinProfileFields {
		out[f] = true
	}
	for _, p := range ps {
		for k := range p.Attributes {
			out[k] = true
		}
	}
	return out
}

// closestName is the known name closest to name: the same letters
// without case and underscores, or within two edits; "" when none is.
func closestName(name string, known map[string]bool) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	squash := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(s))
	}
	for _, k := range names {
		if squash(k) == squash(name) {
			return k
		}
	}
	best, bestD := "", 3
	for _, k := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k), bestD); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or max when it is
// at least max (names are short; longer ones are cut off).
func editDistance(a, b string, max int) int {
	if len(a) > 64 || len(b) > 64 {
		return max
	}
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}
