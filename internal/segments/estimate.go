package segments

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/store"
)

// EstimateInput is what to count: rules or an expression (exactly one).
type EstimateInput struct {
	Expr  string `json:"expr,omitempty"`
	Rules *Rule  `json:"rules,omitempty"`
}

// Estimate is how many profiles a definition matches now.
type Estimate struct {
	// Count of matching profiles; when Exact is false, at least Count:
	// the scan stopped at its budget after Scanned of Total profiles.
	Count   int64 `json:"count"`
	Exact   bool  `json:"exact"`
	Scanned int64 `json:"scanned"`
	Total   int64 `json:"total"`
	// Method: "sql" (counted by the database) or "scan" (the expression
	// evaluated profile by profile).
	Method string          `json:"method"`
	Sample []SampleProfile `json:"sample"`
	// Expr is the expression counted (generated from the rules).
	Expr string `json:"expr"`
}

// SampleProfile is one profile of an estimate's sample.
type SampleProfile struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
}

// String is the estimate in words: "1,204 profiles", or "at least 310
// profiles (scanned 50,000 of 100,000)".
func (e Estimate) String() string {
	if e.Exact {
		return plural(e.Count, "profile")
	}
	return fmt.Sprintf("at least %s (scanned %s of %s)", plural(e.Count, "profile"), thousands(e.Scanned), thousands(e.Total))
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return thousands(n) + " " + what + "s"
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Estimate counts the workspace's profiles that match rules or an
// expression now, with a sample of at most store.MaxEstimateSample. Rules
// whose every condition has an SQL form are counted by the database;
// anything else is evaluated over pages of profiles within the service's
// time and row budget. ctx cancels it.
func (s *Service) Estimate(ctx context.Context, workspaceID string, in EstimateInput) (Estimate, error) {
	expr, _, ps := s.definition(ctx, workspaceID, in.Expr, in.Rules, []string{""})
	if len(ps) > 0 {
		return Estimate{}, &ValidationError{Problems: ps}
	}
	var rules *Rule
	if in.Rules != nil {
		r := *in.Rules
		rules = &r
	}
	return s.estimate(ctx, workspaceID, "", expr, rules)
}

// EstimateSegment counts a saved segment's profiles.
func (s *Service) EstimateSegment(ctx context.Context, workspaceID, id string) (Estimate, error) {
	seg, err := s.st.GetSegment(ctx, workspaceID, id)
	if err != nil {
		return Estimate{}, notFound(err)
	}
	v := view(seg)
	return s.estimate(ctx, workspaceID, seg.Name, seg.Expr, v.Rules)
}

func (s *Service) estimate(ctx context.Context, workspaceID, name, expr string, rules *Rule) (Estimate, error) {
	// At most Options.Estimates at once, whoever asks: each may read a
	// large share of the profiles.
	select {
	case s.turns <- struct{}{}:
		defer func() { <-s.turns }()
	case <-ctx.Done():
		return Estimate{}, ctx.Err()
	}
	total, err := s.st.CountProfiles(ctx, workspaceID)
	if err != nil {
		return Estimate{}, err
	}
	if rules != nil {
		f, ok := Filter(*rules, s.resolveRules(ctx, workspaceID), 0)
		if ok {
			est, err := s.st.EstimateProfiles(ctx, workspaceID, f, store.MaxEstimateSample)
			if err != nil {
				return Estimate{}, err
			}
			return Estimate{Count: est.Count, Exact: true, Scanned: total, Total: total, Method: "sql", Sample: sample(est.Sample), Expr: expr}, nil
		}
	}
	return s.scan(ctx, workspaceID, name, expr, total)
}

// resolveRules gives a referenced segment's rules, for Filter.
func (s *Service) resolveRules(ctx context.Context, workspaceID string) func(string) (Rule, bool) {
	return func(name string) (Rule, bool) {
		seg, err := s.st.GetSegmentByName(ctx, workspaceID, name)
		if err != nil || seg.Rules == "" {
			return Rule{}, false
		}
		r, err := ParseRules(seg.Rules)
		return r, err == nil
	}
}

func sample(ps []store.Profile) []SampleProfile {
	out := make([]SampleProfile, 0, len(ps))
	for _, p := range ps {
		out = append(out, SampleProfile{ID: p.ID, ExternalID: p.ExternalID, Email: p.Email})
	}
	return out
}

const scanPage = 2000

// scan evaluates the expression over the workspace's profiles, page by
// page, until the time or row budget runs out.
func (s *Service) scan(ctx context.Context, workspaceID, name, expr string, total int64) (Estimate, error) {
	if name == "" {
		name = "(estimate)"
	}
	src, err := expand(expr, s.lookup(ctx, workspaceID, nil), []string{name})
	if err != nil {
		return Estimate{}, err
	}
	prog, err := expression.Compile(src, expression.Bool)
	if err != nil {
		return Estimate{}, err
	}
	deadline := time.Now().Add(s.scanTime)
	est := Estimate{Exact: true, Total: total, Method: "scan", Expr: expr, Sample: []SampleProfile{}}
	env := &expression.Env{Now: s.now()}
	var matched []store.Profile
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return Estimate{}, err
		}
		if est.Scanned >= s.scanRows || time.Now().After(deadline) {
			est.Exact = false
			break
		}
		page, err := s.st.ListProfilesPage(ctx, workspaceID, after, scanPage)
		if err != nil {
			return Estimate{}, err
		}
		for _, p := range page {
			env.Profile = ProfileMap(p)
			if s.history != nil {
				s.history(ctx, env, workspaceID, p.ID)
			}
			if ok, _ := prog.EvalBool(env); ok {
				est.Count++
				matched = append(matched, p)
				if len(matched) > store.MaxEstimateSample {
					matched = matched[1:]
				}
			}
		}
		est.Scanned += int64(len(page))
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].ID
	}
	if est.Scanned > est.Total { // profiles added while scanning
		est.Total = est.Scanned
	}
	// Newest first, as the database's sample.
	sort.Slice(matched, func(i, j int) bool { return matched[i].ID > matched[j].ID })
	est.Sample = sample(matched)
	return est, nil
}

// Attribute is a custom attribute the workspace's profiles carry, with
// the type its values suggest.
type Attribute struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Attributes lists the attribute names of the workspace's newest
// profiles (at most 500 read), for the builder's field picker.
func (s *Service) Attributes(ctx context.Context, workspaceID string) ([]Attribute, error) {
	ps, err := s.st.RecentProfiles(ctx, workspaceID, store.MaxRecentProfiles)
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	for _, p := range ps {
		for k, v := range p.Attributes {
			if attributeNameProblem(k) != "" {
				continue
			}
			t := typeOf(v)
			if prev, ok := types[k]; !ok || prev == "" {
				types[k] = t
			}
		}
	}
	out := make([]Attribute, 0, len(types))
	for k, t := range types {
		if t == "" {
			t = "string"
		}
		out = append(out, Attribute{Name: k, Type: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) > 500 {
		out = out[:500]
	}
	return out, nil
}

func typeOf(v any) string {
	switch x := v.(type) {
	case float64, int, int64:
		return "number"
	case bool:
		return "boolean"
	case string:
		if _, err := expression.ToTime(x); err == nil && len(x) >= 10 && dateRe.MatchString(x[:10]) {
			return "date"
		}
		return "string"
	}
	return ""
}

// IsValidation reports whether err is a validation error.
func IsValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}
