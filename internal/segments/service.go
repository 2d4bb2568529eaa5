// Package segments keeps a workspace's saved segments (docs/segments.md):
// named audience definitions, written as an expression or built from
// rules (Rule) that generate one, validated on every save, matched
// against a profile by their current definition (Match), and counted
// (Estimate).
package segments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/store"
)

// Store is the storage the service needs.
type Store interface {
	CreateSegment(ctx context.Context, seg store.Segment) (store.Segment, error)
	UpdateSegment(ctx context.Context, seg store.Segment) (store.Segment, error)
	DeleteSegment(ctx context.Context, workspaceID, id string) error
	GetSegment(ctx context.Context, workspaceID, id string) (store.Segment, error)
	GetSegmentByName(ctx context.Context, workspaceID, name string) (store.Segment, error)
	ListSegments(ctx context.Context, workspaceID string) ([]store.Segment, error)
	EstimateProfiles(ctx context.Context, workspaceID string, f store.ProfileFilter, sample int) (store.ProfileEstimate, error)
	CountProfiles(ctx context.Context, workspaceID string) (int64, error)
	ListProfilesPage(ctx context.Context, workspaceID, afterID string, limit int) ([]store.Profile, error)
	RecentProfiles(ctx context.Context, workspaceID string, limit int) ([]store.Profile, error)
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
}

// Bounds of a segment.
const (
	MaxDescription = 1000
	MaxRulesJSON   = 64 << 10
)

// ErrNotFound: the workspace has no such segment.
var ErrNotFound = errors.New("segment not found")

// Options tune the service.
type Options struct {
	// Now is the clock (now in expressions); default time.Now.
	Now func() time.Time
	// ScanTime and ScanRows bound an estimate that evaluates the
	// expression profile by profile; defaults 1.5 s and 250,000.
	ScanTime time.Duration
	ScanRows int64
	// History, when set, gives an estimate's environment the profile's
	// event history, so a segment using count, sum, last, first_seen or
	// last_seen is estimated by its real answer (one lookup per function
	// per profile, within the scan's budget). Without it those functions
	// fail and such a profile counts as not matching. serve wires
	// worker.AttachHistory.
	History func(ctx context.Context, env *expression.Env, workspaceID, profileID string)
	// Estimates bounds how many estimates run at once (each may scan for
	// ScanTime); more wait for a turn until their context ends. Default 4.
	Estimates int
}

// Service keeps saved segments.
type Service struct {
	st       Store
	now      func() time.Time
	scanTime time.Duration
	scanRows int64
	history  func(ctx context.Context, env *expression.Env, workspaceID, profileID string)
	turns    chan struct{} // one token per estimate running

	mu    sync.Mutex
	progs map[string]*expression.Program // by segment id + updated_at, or by expanded source
}

// New returns the service.
func New(st Store, opts Options) *Service {
	s := &Service{st: st, now: opts.Now, scanTime: opts.ScanTime, scanRows: opts.ScanRows, history: opts.History, progs: map[string]*expression.Program{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.scanTime <= 0 {
		s.scanTime = 1500 * time.Millisecond
	}
	if s.scanRows <= 0 {
		s.scanRows = 250_000
	}
	if opts.Estimates <= 0 {
		opts.Estimates = 4
	}
	s.turns = make(chan struct{}, opts.Estimates)
	return s
}

// Input is a segment as a caller writes it: either Rules (the visual
// builder's, which generate the expression) or Expr (hand-written).
type Input struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Expr        string `json:"expr,omitempty"`
	Rules       *Rule  `json:"rules,omitempty"`
}

// Segment is a saved segment as the service gives it.
type Segment struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Expr        string    `json:"expr"`
	Rules       *Rule     `json:"rules"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func view(s store.Segment) Segment {
	v := Segment{ID: s.ID, Name: s.Name, Description: s.Description, Expr: s.Expr, CreatedBy: s.CreatedBy,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if s.Rules != "" {
		if r, err := ParseRules(s.Rules); err == nil {
			v.Rules = &r
		}
	}
	return v
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// List returns the workspace's segments by name.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Segment, error) {
	segs, err := s.st.ListSegments(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	out := make([]Segment, len(segs))
	for i, seg := range segs {
		out[i] = view(seg)
	}
	return out, nil
}

// Get returns one segment.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Segment, error) {
	seg, err := s.st.GetSegment(ctx, workspaceID, id)
	if err != nil {
		return Segment{}, notFound(err)
	}
	return view(seg), nil
}

// Create validates and stores a new segment.
func (s *Service) Create(ctx context.Context, workspaceID, by string, in Input) (Segment, error) {
	expr, rules, err := s.validate(ctx, workspaceID, in, nil)
	if err != nil {
		return Segment{}, err
	}
	if all, err := s.st.ListSegments(ctx, workspaceID); err != nil {
		return Segment{}, err
	} else if len(all) >= store.MaxSegments {
		return Segment{}, &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("a workspace holds at most %d segments; delete one first", store.MaxSegments)}}}
	}
	seg, err := s.st.CreateSegment(ctx, store.Segment{WorkspaceID: workspaceID, Name: in.Name, Description: in.Description,
		Expr: expr, Rules: rules, CreatedBy: by})
	if errors.Is(err, store.ErrConflict) {
		return Segment{}, &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("a segment named %q exists already", in.Name)}}}
	}
	if err != nil {
		return Segment{}, err
	}
	return view(seg), nil
}

// Update validates and replaces a segment's definition (and name). A
// renamed segment is refused while another segment refers to it by its
// old name.
func (s *Service) Update(ctx context.Context, workspaceID, id string, in Input) (Segment, error) {
	cur, err := s.st.GetSegment(ctx, workspaceID, id)
	if err != nil {
		return Segment{}, notFound(err)
	}
	expr, rules, err := s.validate(ctx, workspaceID, in, &cur)
	if err != nil {
		return Segment{}, err
	}
	if in.Name != cur.Name {
		if users, err := s.referrers(ctx, workspaceID, cur.Name); err != nil {
			return Segment{}, err
		} else if len(users) > 0 {
			return Segment{}, &ValidationError{Problems: []Problem{{Field: "name",
				Message: fmt.Sprintf("segment %q refers to this segment by its name; change it first", users[0])}}}
		}
	}
	seg, err := s.st.UpdateSegment(ctx, store.Segment{ID: id, WorkspaceID: workspaceID, Name: in.Name, Description: in.Description, Expr: expr, Rules: rules})
	switch {
	case errors.Is(err, store.ErrConflict):
		return Segment{}, &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("a segment named %q exists already", in.Name)}}}
	case err != nil:
		return Segment{}, notFound(err)
	}
	return view(seg), nil
}

// InUseError: a segment other segments refer to cannot be deleted.
type InUseError struct {
	Name string
	By   []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("segment %q is used by segment %q", e.Name, e.By[0])
}

// Delete removes a segment no other segment refers to. Journeys whose
// segment trigger names it stop entering anyone (docs/segments.md).
func (s *Service) Delete(ctx context.Context, workspaceID, id string) (Segment, error) {
	cur, err := s.st.GetSegment(ctx, workspaceID, id)
	if err != nil {
		return Segment{}, notFound(err)
	}
	users, err := s.referrers(ctx, workspaceID, cur.Name)
	if err != nil {
		return Segment{}, err
	}
	if len(users) > 0 {
		return Segment{}, &InUseError{Name: cur.Name, By: users}
	}
	if err := s.st.DeleteSegment(ctx, workspaceID, id); err != nil {
		return Segment{}, notFound(err)
	}
	return view(cur), nil
}

// referrers are the segments whose definition names name.
func (s *Service) referrers(ctx context.Context, workspaceID, name string) ([]string, error) {
	all, err := s.st.ListSegments(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, seg := range all {
		names, _ := RefNames(seg.Expr)
		if contains(names, name) && seg.Name != name {
			out = append(out, seg.Name)
		}
	}
	return out, nil
}

// validate checks an input and gives the expression and the rules' JSON
// to store. cur is the segment being updated (nil on create).
func (s *Service) validate(ctx context.Context, workspaceID string, in Input, cur *store.Segment) (string, string, error) {
	var ps []Problem
	if msg := NameProblem(in.Name); msg != "" {
		ps = append(ps, Problem{Field: "name", Message: msg})
	}
	if len(in.Description) > MaxDescription || !utf8.ValidString(in.Description) {
		ps = append(ps, Problem{Field: "description", Message: fmt.Sprintf("at most %d bytes of UTF-8 text", MaxDescription)})
	}
	expr, rules, dps := s.definition(ctx, workspaceID, in.Expr, in.Rules, selfNames(in.Name, cur))
	ps = append(ps, dps...)
	if len(ps) > 0 {
		return "", "", &ValidationError{Problems: ps}
	}
	return expr, rules, nil
}

func selfNames(name string, cur *store.Segment) []string {
	out := []string{name}
	if cur != nil && cur.Name != name {
		out = append(out, cur.Name)
	}
	return out
}

// definition checks rules or an expression (exactly one) and gives the
// expression and the rules' JSON. self are the names the segment being
// saved goes by (a reference to one of them is a cycle).
func (s *Service) definition(ctx context.Context, workspaceID, expr string, rules *Rule, self []string) (string, string, []Problem) {
	var rulesJSON string
	field := "expr"
	switch {
	case rules != nil && expr != "":
		return "", "", []Problem{{Field: "expr", Message: "give either rules or an expression, not both"}}
	case rules == nil && expr == "":
		return "", "", []Problem{{Field: "rules", Message: "give rules or an expression (expr)"}}
	case rules != nil:
		r := *rules
		if r.Match == "" {
			r.Match = "all"
		}
		if ps := Validate(r); len(ps) > 0 {
			return "", "", ps
		}
		b, _ := json.Marshal(r)
		if len(b) > MaxRulesJSON {
			return "", "", []Problem{{Field: "rules", Message: "the rules are too large"}}
		}
		rulesJSON = string(b)
		expr = Generate(r)
		field = "rules"
	}
	if len(expr) > expression.MaxLength {
		return "", "", []Problem{{Field: field, Message: fmt.Sprintf("the expression is longer than %d bytes", expression.MaxLength)}}
	}
	names, err := RefNames(expr)
	if err != nil {
		return "", "", []Problem{{Field: "expr", Message: err.Error()}}
	}
	var ps []Problem
	for _, n := range names {
		at := refField(rules, n, field)
		if contains(self, n) {
			ps = append(ps, Problem{Field: at, Message: "a segment cannot contain itself"})
		}
	}
	if len(ps) > 0 {
		return "", "", ps
	}
	expanded, err := expand(expr, s.lookup(ctx, workspaceID, self), self[:1])
	if err != nil {
		var me *MissingError
		var ce *CycleError
		switch {
		case errors.As(err, &me):
			return "", "", []Problem{{Field: refField(rules, me.Name, field), Message: me.Error()}}
		case errors.As(err, &ce):
			return "", "", []Problem{{Field: refField(rules, ce.Path[1], field), Message: ce.Error()}}
		}
		return "", "", []Problem{{Field: field, Message: err.Error()}}
	}
	if err := expression.Check(expanded, expression.Bool); err != nil {
		msg := err.Error()
		if rules != nil {
			msg = "the rules make an expression that does not compile (" + msg + "); use fewer conditions or split them into segments"
		} else if expanded != expr {
			msg = "with the segments it refers to: " + msg
		}
		return "", "", []Problem{{Field: field, Message: msg}}
	}
	return expr, rulesJSON, nil
}

// refField names the rule that refers to segment name, or fallback.
func refField(rules *Rule, name, fallback string) string {
	if rules == nil {
		return fallback
	}
	var find func(r Rule, path string) string
	find = func(r Rule, path string) string {
		for i, sub := range r.Rules {
			p := fmt.Sprintf("%s[%d]", path, i)
			if sub.Segment == name {
				return p + ".segment"
			}
			if f := find(sub, p+".rules"); f != "" {
				return f
			}
		}
		return ""
	}
	if f := find(*rules, "rules"); f != "" {
		return f
	}
	return fallback
}

// lookup gives a segment's current expression by name for expand; a
// segment named in self is treated as missing (its own name, while it
// is being saved, is a cycle found by expand).
func (s *Service) lookup(ctx context.Context, workspaceID string, self []string) func(string) (string, error) {
	return func(name string) (string, error) {
		seg, err := s.st.GetSegmentByName(ctx, workspaceID, name)
		if errors.Is(err, store.ErrNotFound) {
			return "", &MissingError{Name: name}
		}
		if err != nil {
			return "", err
		}
		return seg.Expr, nil
	}
}

// Program compiles a segment's current definition (references expanded),
// cached by segment id and updated_at when it refers to no other segment
// and by the expanded source when it does.
func (s *Service) program(ctx context.Context, seg store.Segment) (*expression.Program, error) {
	key := seg.ID + "@" + seg.UpdatedAt.Format(time.RFC3339Nano)
	s.mu.Lock()
	p := s.progs[key]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	src, err := expand(seg.Expr, s.lookup(ctx, seg.WorkspaceID, nil), []string{seg.Name})
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", seg.Name, err)
	}
	if src != seg.Expr {
		key = "src:" + src
		s.mu.Lock()
		p = s.progs[key]
		s.mu.Unlock()
		if p != nil {
			return p, nil
		}
	}
	p, err = expression.Compile(src, expression.Bool)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", seg.Name, err)
	}
	s.mu.Lock()
	if len(s.progs) >= 1000 {
		clear(s.progs)
	}
	s.progs[key] = p
	s.mu.Unlock()
	return p, nil
}

// Match reports whether the profile in env matches the saved segment's
// current definition. env's profile map should carry consent (see
// ProfileEnv); a definition that errors for this profile (a date rule on
// a value that is not a date) is an error, which callers count as no
// match, as conditions do.
func (s *Service) Match(ctx context.Context, workspaceID, name string, env *expression.Env) (bool, error) {
	seg, err := s.st.GetSegmentByName(ctx, workspaceID, name)
	if err != nil {
		return false, fmt.Errorf("segment %q: %w", name, notFound(err))
	}
	p, err := s.program(ctx, seg)
	if err != nil {
		return false, err
	}
	return p.EvalBool(s.withConsent(ctx, workspaceID, p.Source(), env))
}

// withConsent gives a definition that reads profile.consent the
// profile's consent when env does not carry it (the engine's
// environments do not): env's profile is copied with it, read by the
// profile's external id.
func (s *Service) withConsent(ctx context.Context, workspaceID, src string, env *expression.Env) *expression.Env {
	if env == nil || !strings.Contains(src, "profile.consent") {
		return env
	}
	if _, ok := env.Profile["consent"]; ok {
		return env
	}
	ext, _ := env.Profile["external_id"].(string)
	if ext == "" {
		return env
	}
	p, err := s.st.GetProfileByExternalID(ctx, workspaceID, ext)
	if err != nil {
		return env
	}
	e := *env
	e.Profile = maps.Clone(env.Profile)
	e.Profile["consent"] = ConsentStatuses(p.Consent)
	return &e
}

// ProfileMap is the profile map segment expressions see: what every
// expression sees (expression.Profile) plus consent, each channel's
// status ("granted", "denied"…), so profile.consent.email == "granted".
func ProfileMap(p store.Profile) map[string]any {
	m := expression.Profile(expression.ProfileFields{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale}, p.Attributes)
	m["consent"] = ConsentStatuses(p.Consent)
	return m
}

// ConsentStatuses reads a profile's stored consent records as channel →
// status.
func ConsentStatuses(consent map[string]any) map[string]any {
	out := make(map[string]any, len(consent))
	for ch, rec := range consent {
		switch r := rec.(type) {
		case map[string]any:
			if st, ok := r["status"].(string); ok {
				out[ch] = st
			}
		case string:
			out[ch] = r
		}
	}
	return out
}
