// Package sim is Waymark's journey simulator and replay check. A simulation
// runs the real engine (worker.Engine) on a private in-memory database, a
// virtual clock and an in-memory task queue: delays pass instantly, scripted
// events arrive at their virtual times, and every connector is replaced by
// the simulation's own inbox, so no message can leave. The real database is
// only read (existing profiles, journey documents, recorded runs).
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Limits bound one simulation.
type Limits struct {
	MaxProfiles int           // profiles in one simulation (typed + existing + cohort)
	MaxHorizon  time.Duration // how far the virtual clock may run
	MaxEvents   int           // scripted events, counted per profile they go to
	Timeout     time.Duration // wall-clock time for one simulation
	// MaxTasksPerProfile bounds the engine tasks and events per profile (a
	// journey that loops runs into the step budget long before).
	MaxTasksPerProfile int
	// MaxDetailed is how many profiles get their full timeline in the
	// result; counts always cover every profile.
	MaxDetailed int
	// Concurrent is how many simulations one process runs at once; more
	// wait up to BusyWait, then get ErrBusy.
	Concurrent int
	BusyWait   time.Duration
}

// DefaultLimits are the limits the API, the editor and the CLI use.
var DefaultLimits = Limits{
	MaxProfiles: 10000, MaxHorizon: 400 * nodes.Day, MaxEvents: 100000, Timeout: 2 * time.Minute,
	MaxTasksPerProfile: 2000, MaxDetailed: 200, Concurrent: 2, BusyWait: 15 * time.Second,
}

// ErrBusy says the process is already running as many simulations as it may.
var ErrBusy = errors.New("too many simulations are running; try again in a moment")

// ProfileSource reads existing profiles (read-only) from the real database.
type ProfileSource interface {
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
}

// Config wires a Simulator.
type Config struct {
	Registry *nodes.Registry
	// Profiles reads existing profiles; nil: only typed and generated
	// profiles can be simulated (the CLI without a database).
	Profiles ProfileSource
	// Suppressions, if set, is the real suppression list (read-only), so a
	// simulation shows the sends it would skip.
	Suppressions worker.Suppressions
	Limits       Limits
	Now          func() time.Time // the default start of the virtual clock
	Logger       *slog.Logger
}

// Simulator runs simulations. It is safe for concurrent use: every
// simulation has its own private world.
type Simulator struct {
	cfg   Config
	slots chan struct{}
}

// New returns a simulator.
func New(cfg Config) *Simulator {
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.Concurrent <= 0 {
		cfg.Limits.Concurrent = DefaultLimits.Concurrent
	}
	if cfg.Limits.BusyWait <= 0 {
		cfg.Limits.BusyWait = DefaultLimits.BusyWait
	}
	return &Simulator{cfg: cfg, slots: make(chan struct{}, cfg.Limits.Concurrent)}
}

// acquire takes a simulation slot; release gives it back.
func (s *Simulator) acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(s.cfg.Limits.BusyWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Limits reports the simulator's limits.
func (s *Simulator) Limits() Limits { return s.cfg.Limits }

// Request is what to simulate.
type Request struct {
	// Start is the virtual time the profiles enter (default: now).
	Start time.Time `json:"start,omitzero"`
	// Horizon is how long the virtual clock may run, e.g. "30d" (default
	// and maximum: 400d). The simulation ends earlier when nothing is left
	// to do.
	Horizon string `json:"horizon,omitempty"`
	// ProfileIDs are existing profiles, by external id (read, never changed).
	ProfileIDs []string `json:"profile_ids,omitempty"`
	// Profiles are sample profiles typed in.
	Profiles []ProfileInput `json:"profiles,omitempty"`
	// Cohort generates profiles.
	Cohort *CohortSpec `json:"cohort,omitempty"`
	// Entry is the event each profile enters with.
	Entry Entry `json:"entry,omitzero"`
	// Events are scripted events, each at an offset from the start.
	Events []ScriptedEvent `json:"events,omitempty"`
	// AllSuppressions checks every address against the real suppression
	// list (Config.Suppressions). Without it only existing profiles'
	// addresses are: a caller who may not read the list cannot type an
	// address in to learn whether it is on it. Set by the server, never
	// from JSON.
	AllSuppressions bool `json:"-"`
}

// ProfileInput is a sample profile, in the API's profile shape.
type ProfileInput struct {
	ExternalID string         `json:"external_id"`
	Email      string         `json:"email,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	Timezone   string         `json:"timezone,omitempty"`
	Locale     string         `json:"locale,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Consent    map[string]any `json:"consent,omitempty"`
}

// Entry is how the profiles enter: through which trigger, with what event.
type Entry struct {
	// Trigger is the trigger node's id (default: the first trigger).
	Trigger string `json:"trigger,omitempty"`
	// Name and Properties make the entry event of an event trigger (the
	// name defaults to the trigger's event).
	Name       string         `json:"name,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	// Body and Headers make a webhook trigger's request.
	Body    any               `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Change makes an attribute trigger's change: every profile's
	// attribute goes from Old to New (New is written to the profile).
	// Without it, the change is from nothing to the profile's value.
	Change *EntryChange `json:"change,omitempty"`
}

// EntryChange is the change profiles enter an attribute trigger on.
type EntryChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ScriptedEvent is an event a profile sends at a virtual time.
type ScriptedEvent struct {
	// Profile is the external id; empty: every simulated profile.
	Profile    string         `json:"profile,omitempty"`
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties,omitempty"`
	// After is the offset from the start, e.g. "2d", "36h", "0s".
	After string `json:"after"`
}

// Problem is one invalid field of a request.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InputError lists what is wrong with a request (the caller's fault).
type InputError struct{ Problems []Problem }

func (e *InputError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid simulation request"
	}
	s := e.Problems[0].Field + ": " + e.Problems[0].Message
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// InvalidError lists the problems of a journey document that cannot run.
type InvalidError struct{ Problems []flows.Problem }

func (e *InvalidError) Error() string {
	if len(e.Problems) == 0 {
		return "the journey cannot run"
	}
	s := "the journey cannot run: " + e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// Result is a simulation's outcome.
type Result struct {
	Journey  string    `json:"journey"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`     // the virtual time the simulation stopped at
	Horizon  string    `json:"horizon"` // the horizon it ran with
	Stopped  string    `json:"stopped"` // done, horizon, budget, timeout
	Profiles int       `json:"profile_count"`
	Entered  int       `json:"entered"`
	// Statuses counts runs by final status (waiting ones were still waiting at the end).
	Statuses map[string]int `json:"statuses"`
	Messages int            `json:"messages"`
	// Paths counts distinct paths (node:port, in order), most common first.
	Paths []PathCount `json:"paths"`
	// Nodes counts steps per node and port.
	Nodes []NodeCount `json:"nodes"`
	// Timelines has every profile's runs (the first MaxDetailed profiles).
	Timelines []ProfileTimeline `json:"timelines"`
	Truncated bool              `json:"truncated,omitempty"`
}

// PathCount is one distinct path and how many runs took it.
type PathCount struct {
	Path  []string `json:"path"` // node:port
	Runs  int      `json:"runs"`
	Share float64  `json:"share"`
}

// NodeCount is how many steps a node took, by port and outcome.
type NodeCount struct {
	NodeID   string         `json:"node_id"`
	Steps    int            `json:"steps"`
	Ports    map[string]int `json:"ports"`
	Outcomes map[string]int `json:"outcomes"`
}

// ProfileTimeline is one profile's simulated runs.
type ProfileTimeline struct {
	ExternalID string         `json:"external_id"`
	Source     string         `json:"source"` // existing, sample, cohort
	Email      string         `json:"email,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	Timezone   string         `json:"timezone,omitempty"`
	Attributes map[string]any `json:"attributes"` // as they are at the end
	// NotEntered says why the profile did not enter (entry rules, trigger filter).
	NotEntered string      `json:"not_entered,omitempty"`
	Runs       []RunResult `json:"runs"`
}

// RunResult is one simulated run.
type RunResult struct {
	RunID       string     `json:"run_id"`
	Status      string     `json:"status"`
	CurrentNode string     `json:"current_node"`
	Error       string     `json:"error,omitempty"`
	EnteredAt   time.Time  `json:"entered_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	WaitUntil   *time.Time `json:"wait_until,omitempty"`
	Steps       []Step     `json:"steps"`
	Messages    []Message  `json:"messages"`
}

// Step is one ledger step of a simulated run.
type Step struct {
	Sequence int            `json:"seq"`
	At       time.Time      `json:"at"`
	Offset   string         `json:"offset"` // from the simulation's start
	NodeID   string         `json:"node_id"`
	Kind     string         `json:"kind"`
	Title    string         `json:"title,omitempty"`
	Port     string         `json:"port"`
	Outcome  string         `json:"outcome"`
	Detail   map[string]any `json:"detail,omitempty"`
	// Expr is the expression that decided a condition.
	Expr string `json:"expr,omitempty"`
	// Summary explains the step in words (value of the branch, wake time,
	// deferral, cap).
	Summary string `json:"summary"`
}

// Message is a message the simulation would have sent, rendered with the
// profile's data.
type Message struct {
	Sequence  int             `json:"seq"`
	NodeID    string          `json:"node_id"`
	Kind      string          `json:"kind"`
	Connector string          `json:"connector"`
	To        string          `json:"to"`
	Subject   string          `json:"subject,omitempty"`
	Body      string          `json:"body,omitempty"`
	Text      string          `json:"text,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	At        time.Time       `json:"at"`
}

// simProfile is a profile ready to go into the private database.
type simProfile struct {
	source  string
	input   profiles.Input
	consent map[string]string
	id      string // in the private database
}

// Simulate runs doc (a journey document: a draft or a published version)
// for the request's profiles. Errors are *InputError (the request) or
// *InvalidError / *flows.ParseError (the document) when the caller is at
// fault.
func (s *Simulator) Simulate(ctx context.Context, workspaceID string, doc []byte, req Request) (*Result, error) {
	lim := s.cfg.Limits
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()

	j, err := flows.Parse(doc)
	if err != nil {
		return nil, err
	}
	compiled, problems := flows.Compile(s.cfg.Registry, j, flows.ValidateOptions{})
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}

	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	start := req.Start
	if start.IsZero() {
		start = s.cfg.Now()
	}
	start = start.UTC().Truncate(time.Second)
	horizon := lim.MaxHorizon
	if req.Horizon != "" {
		d, err := nodes.ParseDuration(req.Horizon)
		switch {
		case err != nil:
			bad("horizon", "%q is not a duration (like 30d or 12h)", req.Horizon)
		case d <= 0:
			bad("horizon", "must be positive")
		case d > lim.MaxHorizon:
			bad("horizon", "at most %s", nodes.FormatDuration(lim.MaxHorizon))
		default:
			horizon = d
		}
	}

	trigger, entryProblems := entryTrigger(compiled, req.Entry)
	ps = append(ps, entryProblems...)

	// Profiles.
	var sps []*simProfile
	seen := map[string]string{}
	add := func(field string, p *simProfile) {
		if prev, dup := seen[p.input.ExternalID]; dup {
			bad(field, "profile %q is listed twice (also at %s)", p.input.ExternalID, prev)
			return
		}
		seen[p.input.ExternalID] = field
		sps = append(sps, p)
	}
	if req.Cohort != nil && (req.Cohort.Size < 1 || req.Cohort.Size > lim.MaxProfiles) {
		// Checked alone first: a huge size must not wrap the sum below.
		bad("cohort.size", "%d: between 1 and %d", req.Cohort.Size, lim.MaxProfiles)
		return nil, &InputError{Problems: ps}
	}
	total := len(req.ProfileIDs) + len(req.Profiles)
	if req.Cohort != nil {
		total += req.Cohort.Size
	}
	if total == 0 {
		bad("profiles", "give at least one profile: profile_ids, profiles or cohort")
	}
	if total > lim.MaxProfiles {
		bad("profiles", "%d profiles: at most %d in one simulation", total, lim.MaxProfiles)
		return nil, &InputError{Problems: ps}
	}
	for i, ext := range req.ProfileIDs {
		field := fmt.Sprintf("profile_ids[%d]", i)
		if s.cfg.Profiles == nil {
			bad(field, "existing profiles need a database (use typed profiles offline)")
			continue
		}
		p, err := s.cfg.Profiles.GetProfileByExternalID(ctx, workspaceID, strings.TrimSpace(ext))
		if errors.Is(err, store.ErrNotFound) || err == nil && p.ErasedAt != nil {
			bad(field, "no profile with external id %q", ext)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading profile %q: %w", ext, err)
		}
		add(field, existingProfile(p))
	}
	for i, in := range req.Profiles {
		field := fmt.Sprintf("profiles[%d]", i)
		sp, probs := sampleProfile(in, field+".")
		if len(probs) > 0 {
			ps = append(ps, probs...)
			continue
		}
		add(field, sp)
	}
	if req.Cohort != nil {
		gen, probs := req.Cohort.generate()
		ps = append(ps, probs...)
		for _, sp := range gen {
			add("cohort", sp)
		}
	}
	if c := req.Entry.Change; c != nil && trigger != nil {
		if trigger.Kind != "trigger_attribute" {
			bad("entry.change", "only for an attribute trigger (trigger_attribute); %q is a %s", trigger.ID, trigger.Kind)
		} else if err := applyChange(sps, trigger.Config.String("attribute"), c.New); err != nil {
			bad("entry.change.new", "%s", err.Error())
		}
	}

	// Scripted events.
	var events []timedEvent
	fanout := 0
	for i, ev := range req.Events {
		field := fmt.Sprintf("events[%d]", i)
		if strings.TrimSpace(ev.Name) == "" {
			bad(field+".name", "required")
		}
		d, err := nodes.ParseDuration(ev.After)
		switch {
		case strings.TrimSpace(ev.After) == "":
			bad(field+".after", "required: the offset from the start, like 2d or 36h")
			continue
		case err != nil:
			bad(field+".after", "%q is not a duration (like 2d or 36h)", ev.After)
			continue
		case d < 0:
			bad(field+".after", "must not be negative")
			continue
		case d > horizon:
			bad(field+".after", "%s is past the simulation's horizon of %s", ev.After, nodes.FormatDuration(horizon))
			continue
		}
		te := timedEvent{at: start.Add(d), ev: ev}
		if ev.Profile == "" {
			te.targets = sps
		} else {
			for _, sp := range sps {
				if sp.input.ExternalID == ev.Profile {
					te.targets = []*simProfile{sp}
				}
			}
			if te.targets == nil {
				bad(field+".profile", "%q is not one of the simulated profiles", ev.Profile)
				continue
			}
		}
		fanout += len(te.targets)
		events = append(events, te)
	}
	if fanout > lim.MaxEvents {
		bad("events", "%d scripted events across the profiles: at most %d", fanout, lim.MaxEvents)
	}
	if len(ps) > 0 {
		return nil, &InputError{Problems: ps}
	}

	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sort.SliceStable(events, func(i, k int) bool { return events[i].at.Before(events[k].at) })

	// Profiles are independent of each other unless the journey limits its
	// total entries: then they share one world. Otherwise large cohorts
	// run in shards, one private world each, in parallel.
	shards := [][]*simProfile{sps}
	if n := shardCount(len(sps)); n > 1 && compiled.Settings.EntryLimitTotal == 0 {
		shards = make([][]*simProfile, n)
		size := (len(sps) + n - 1) / n
		for i := range shards {
			shards[i] = sps[min(i*size, len(sps)):min((i+1)*size, len(sps))]
		}
	}
	end := start.Add(horizon)
	outs := make([]*partial, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	base := 0
	for i, shard := range shards {
		in := map[*simProfile]bool{}
		for _, sp := range shard {
			in[sp] = true
		}
		var evs []timedEvent
		for _, te := range events {
			var targets []*simProfile
			for _, sp := range te.targets {
				if in[sp] {
					targets = append(targets, sp)
				}
			}
			if len(targets) > 0 {
				evs = append(evs, timedEvent{at: te.at, ev: te.ev, targets: targets})
			}
		}
		sup := s.suppressionsFor(req, shard)
		wg.Add(1)
		go func(i, base int, shard []*simProfile, evs []timedEvent) {
			defer wg.Done()
			outs[i], errs[i] = s.runShard(ctx, workspaceID, doc, trigger, req.Entry, start, end, shard, evs, base, sup)
		}(i, base, shard, evs)
		base += len(shard)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res := merge(outs, compiled)
	res.Journey = j.Name
	res.Start, res.Horizon = start, nodes.FormatDuration(horizon)
	return res, nil
}

// shardCount is how many worlds a simulation of n profiles runs in.
func shardCount(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/shardMin))
}

// shardMin is the fewest profiles worth a world of their own.
const shardMin = 250

// timedEvent is a scripted event at its virtual time, with its profiles.
type timedEvent struct {
	at      time.Time
	ev      ScriptedEvent
	targets []*simProfile
}

// runShard simulates some of the profiles in a world of their own.
// base is the index of the shard's first profile in the request.
func (s *Simulator) runShard(ctx context.Context, workspaceID string, doc []byte, trigger *flows.CompiledNode, entry Entry,
	start, end time.Time, sps []*simProfile, events []timedEvent, base int, sup worker.Suppressions) (*partial, error) {
	lim := s.cfg.Limits
	w, err := newWorld(ctx, s.cfg.Registry, workspaceID, start, sup, s.cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer w.close()
	w.maxTasks = lim.MaxTasksPerProfile*len(sps) + 1000
	if err := w.publish(ctx, s.cfg.Registry, doc); err != nil {
		return nil, err
	}
	for _, sp := range sps {
		if err := w.addProfile(ctx, sp); err != nil {
			return nil, err
		}
	}

	// Entries at the start, then the scripted events, in time order (at
	// one instant: entries first, then events in the order given).
	notEntered := map[*simProfile]string{}
	for _, sp := range sps {
		w.at(start, func(ctx context.Context) error {
			reason, err := w.enter(ctx, trigger, entry, sp)
			if reason != "" {
				notEntered[sp] = reason
			}
			return err
		})
	}
	for _, te := range events {
		for _, sp := range te.targets {
			w.at(te.at, func(ctx context.Context) error {
				return w.event(ctx, sp, te.ev.Name, te.ev.Properties, te.at)
			})
		}
	}

	stopped := "done"
	runErr := w.run(ctx, end)
	switch {
	case errors.Is(runErr, errBudget):
		stopped = "budget"
	case errors.Is(runErr, context.DeadlineExceeded):
		stopped = "timeout"
	case runErr != nil:
		return nil, runErr
	default:
		if w.queue.len() > 0 {
			stopped = "horizon"
			w.clock.Set(end)
		}
	}
	// Reading the results must not fail for the timeout that stopped the run.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), lim.Timeout)
	defer rcancel()
	out, err := w.collect(rctx, sps, notEntered, max(0, lim.MaxDetailed-base))
	if err != nil {
		return nil, err
	}
	out.stopped, out.end = stopped, w.clock.Now()
	return out, nil
}

// entryTrigger picks the trigger the profiles enter through.
func entryTrigger(c *flows.Compiled, e Entry) (*flows.CompiledNode, []Problem) {
	if e.Trigger != "" {
		n, ok := c.Nodes[e.Trigger]
		if !ok || n.Spec.Category != nodes.Trigger {
			return nil, []Problem{{Field: "entry.trigger", Message: fmt.Sprintf("%q is not a trigger node of the journey", e.Trigger)}}
		}
		return n, nil
	}
	if len(c.Triggers) == 0 {
		return nil, []Problem{{Field: "entry.trigger", Message: "the journey has no trigger"}}
	}
	n := c.Triggers[0]
	if n.Kind == "trigger_event" && e.Name != "" && e.Name != n.Config.String("event") {
		return nil, []Problem{{Field: "entry.name", Message: fmt.Sprintf("the trigger %q starts on %q, not %q", n.ID, n.Config.String("event"), e.Name)}}
	}
	return n, nil
}

// applyChange sets every profile's attribute (or built-in field) to the
// new value of the entry's change, checked as every profile write is.
func applyChange(sps []*simProfile, attr string, v any) error {
	if profiles.IsBuiltinField(attr) {
		s, ok := v.(string)
		if v != nil && !ok {
			return fmt.Errorf("%s: want a string or null", attr)
		}
		s, err := profiles.CheckField(attr, s)
		if err != nil {
			return fmt.Errorf("%s: %v", attr, err)
		}
		for _, sp := range sps {
			switch attr {
			case "email":
				sp.input.Email = &s
			case "phone":
				sp.input.Phone = &s
			case "timezone":
				sp.input.Timezone = &s
			case "locale":
				sp.input.Locale = &s
			}
		}
		return nil
	}
	for _, sp := range sps {
		attrs := maps.Clone(sp.input.Attributes)
		if attrs == nil {
			attrs = map[string]any{}
		}
		if v == nil {
			delete(attrs, attr)
		} else {
			attrs[attr] = v
		}
		sp.input.Attributes = attrs
	}
	return nil
}

// suppressionsFor is the suppression list a shard's world checks: the real
// one with req.AllSuppressions, else the real one for the addresses of
// existing profiles only (typed and generated ones are never suppressed).
func (s *Simulator) suppressionsFor(req Request, shard []*simProfile) worker.Suppressions {
	if s.cfg.Suppressions == nil || req.AllSuppressions {
		return s.cfg.Suppressions
	}
	known := map[string]bool{}
	for _, sp := range shard {
		if sp.source != "existing" {
			continue
		}
		for _, a := range []*string{sp.input.Email, sp.input.Phone} {
			if a != nil && *a != "" {
				known[*a] = true
			}
		}
	}
	return knownOnly{inner: s.cfg.Suppressions, known: known}
}

type knownOnly struct {
	inner worker.Suppressions
	known map[string]bool
}

func (k knownOnly) IsSuppressed(ctx context.Context, workspaceID, channel, address string) (bool, error) {
	if !k.known[address] {
		return false, nil
	}
	return k.inner.IsSuppressed(ctx, workspaceID, channel, address)
}

func existingProfile(p store.Profile) *simProfile {
	in := profiles.Input{ExternalID: p.ExternalID, Email: &p.Email, Phone: &p.Phone, Timezone: &p.Timezone, Locale: &p.Locale, Attributes: p.Attributes}
	consent := map[string]string{}
	for ch, v := range p.Consent {
		if st, ok := profiles.ConsentStatus(v); ok {
			consent[ch] = st
		}
	}
	return &simProfile{source: "existing", input: in, consent: consent}
}

func sampleProfile(p ProfileInput, prefix string) (*simProfile, []Problem) {
	in := profiles.Input{ExternalID: p.ExternalID, Email: &p.Email, Phone: &p.Phone, Timezone: &p.Timezone, Locale: &p.Locale,
		Attributes: p.Attributes, Consent: p.Consent}
	var ps []Problem
	for _, pr := range in.Validate(prefix) {
		ps = append(ps, Problem{Field: pr.Field, Message: pr.Message})
	}
	consent := map[string]string{}
	for ch, v := range p.Consent {
		if st, ok := profiles.ConsentStatus(v); ok {
			consent[ch] = st
		}
	}
	return &simProfile{source: "sample", input: in, consent: consent}, ps
}

// addProfile writes a profile into the private database.
func (w *world) addProfile(ctx context.Context, sp *simProfile) error {
	up := sp.input.Upsert(w.ws)
	up.Consent, up.Source = sp.consent, "simulation"
	p, _, err := w.st.UpsertProfile(ctx, up)
	if err != nil {
		return fmt.Errorf("adding profile %q to the simulation: %w", sp.input.ExternalID, err)
	}
	sp.id = p.ID
	return nil
}

// enter makes a profile enter through trigger; it returns why the profile
// did not enter, if it did not.
func (w *world) enter(ctx context.Context, trigger *flows.CompiledNode, e Entry, sp *simProfile) (string, error) {
	if trigger.Kind == "trigger_event" {
		name := e.Name
		if name == "" {
			name = trigger.Config.String("event")
		}
		ev, err := w.st.InsertEvent(ctx, store.Event{WorkspaceID: w.ws, ProfileID: sp.id, Name: name, Properties: e.Properties, OccurredAt: w.clock.Now()})
		if err != nil {
			return "", err
		}
		res, err := w.eng.HandleEvent(ctx, ev)
		if err != nil {
			return "", err
		}
		if len(res.Entered) == 0 {
			if len(res.Refused) > 0 {
				return "the journey's entry rules refused the profile", nil
			}
			return fmt.Sprintf("the entry event %q did not match the trigger's filter", name), nil
		}
		return "", nil
	}
	if trigger.Kind == "trigger_attribute" {
		return w.enterOnChange(ctx, trigger, e, sp)
	}
	if prog := trigger.Program("expr"); prog != nil && (trigger.Kind == "trigger_segment" || trigger.Kind == "trigger_schedule") {
		// Segment and schedule triggers take only the profiles their
		// condition matches (an error counts as false, as in production).
		p, err := w.st.GetProfile(ctx, sp.id)
		if err != nil {
			return "", err
		}
		now := w.clock.Now()
		env := &expression.Env{
			Profile: expression.Profile(expression.ProfileFields{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale}, p.Attributes),
			Run:     expression.Run{EnteredAt: now},
			Journey: expression.Journey{ID: w.journeyID, Name: w.compiled.Journey.Name, Version: w.version},
			Now:     now,
		}
		w.eng.WithHistory(ctx, env, p) // the simulation's own events, at its virtual clock
		ok, err := prog.EvalBool(env)
		if !ok {
			reason := fmt.Sprintf("the profile does not match the trigger's condition (%s)", trigger.Config.String("expr"))
			if err != nil {
				reason += ": " + err.Error()
			}
			return reason, nil
		}
	}
	body := e.Body
	if body == nil && trigger.Kind == "trigger_webhook" {
		body = map[string]any{}
	}
	_, err := w.eng.Enter(ctx, worker.EnterRequest{WorkspaceID: w.ws, JourneyID: w.journeyID, ProfileID: sp.id, TriggerNode: trigger.ID,
		Event: worker.EntryEvent{Name: e.Name, Properties: e.Properties, Body: body, Headers: e.Headers}})
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused):
		return refused.Reason, nil
	case errors.Is(err, worker.ErrOutsideWindow):
		return "outside the journey's entry window", nil
	}
	return "", err
}

// enterOnChange enters a profile through an attribute trigger, as the
// engine's triggers do (worker.AttributeTriggerMatches, the same entry
// event): on the request's change, or from nothing to the profile's value.
func (w *world) enterOnChange(ctx context.Context, trigger *flows.CompiledNode, e Entry, sp *simProfile) (string, error) {
	p, err := w.st.GetProfile(ctx, sp.id)
	if err != nil {
		return "", err
	}
	attr := trigger.Config.String("attribute")
	now := w.clock.Now()
	profile := expression.Profile(expression.ProfileFields{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale}, p.Attributes)
	var before, after any = nil, profile[attr]
	if e.Change != nil {
		before = e.Change.Old
	}
	ev := worker.AttributeChangeEntry(attr, before, after, "simulation", 0, now)
	env := &expression.Env{
		Profile: profile,
		Event:   expression.Event{Name: ev.Name, Properties: ev.Properties, OccurredAt: now},
		Run:     expression.Run{EnteredAt: now},
		Journey: expression.Journey{ID: w.journeyID, Name: w.compiled.Journey.Name, Version: w.version},
		Now:     now,
		Change:  expression.Change{Attribute: attr, Old: before, New: after},
	}
	env.Run.Entry = env.Event
	w.eng.WithHistory(ctx, env, p)
	if !worker.AttributeTriggerMatches(trigger, env) {
		return fmt.Sprintf("the change of %s from %s to %s does not match the trigger", attr, shown(before), shown(after)), nil
	}
	_, err = w.eng.Enter(ctx, worker.EnterRequest{WorkspaceID: w.ws, JourneyID: w.journeyID, ProfileID: sp.id, TriggerNode: trigger.ID, Event: ev})
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused):
		return refused.Reason, nil
	case errors.Is(err, worker.ErrOutsideWindow):
		return "outside the journey's entry window", nil
	}
	return "", err
}

func shown(v any) string {
	if v == nil {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// event stores a profile's event and lets the engine handle it.
func (w *world) event(ctx context.Context, sp *simProfile, name string, props map[string]any, at time.Time) error {
	ev, err := w.st.InsertEvent(ctx, store.Event{WorkspaceID: w.ws, ProfileID: sp.id, Name: name, Properties: props, OccurredAt: at})
	if err != nil {
		return err
	}
	_, err = w.eng.HandleEvent(ctx, ev)
	return err
}

// partial is one world's share of a result.
type partial struct {
	res     *Result
	paths   map[string]*PathCount
	nodes   map[string]*NodeCount
	runs    int
	stopped string
	end     time.Time
}

// collect reads every run back from the private database; the first
// detailed profiles get their full timeline.
func (w *world) collect(ctx context.Context, sps []*simProfile, notEntered map[*simProfile]string, maxDetailed int) (*partial, error) {
	out := &partial{res: &Result{Profiles: len(sps), Statuses: map[string]int{}, Timelines: []ProfileTimeline{}},
		paths: map[string]*PathCount{}, nodes: map[string]*NodeCount{}}
	res := out.res
	msgs := map[string][]sentMessage{}        // by run id
	actions := map[string]*nodes.ActionSpec{} // by kind
	for _, n := range w.compiled.Nodes {
		if n.Spec.Action != nil {
			actions[n.Kind] = n.Spec.Action
		}
	}
	for _, m := range w.inbox.all() {
		runID := m.msg.IdempotencyKey
		if i := strings.LastIndexByte(runID, ':'); i >= 0 {
			runID = runID[:i]
		}
		msgs[runID] = append(msgs[runID], m)
		res.Messages++
	}
	for i, sp := range sps {
		runs, err := w.st.ListProfileRuns(ctx, sp.id, w.journeyID, time.Time{})
		if err != nil {
			return nil, err
		}
		detailed := i < maxDetailed
		var tl ProfileTimeline
		if detailed {
			p, err := w.st.GetProfile(ctx, sp.id)
			if err != nil {
				return nil, err
			}
			tl = ProfileTimeline{ExternalID: p.ExternalID, Source: sp.source, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone,
				Attributes: p.Attributes, NotEntered: notEntered[sp], Runs: []RunResult{}}
		}
		if len(runs) > 0 {
			res.Entered++
		}
		for _, r := range runs {
			steps, err := w.st.ListRunSteps(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			out.runs++
			res.Statuses[r.Status]++
			key := make([]string, 0, len(steps))
			for _, st := range steps {
				key = append(key, st.NodeID+":"+st.Port)
				nc := out.nodes[st.NodeID]
				if nc == nil {
					nc = &NodeCount{NodeID: st.NodeID, Ports: map[string]int{}, Outcomes: map[string]int{}}
					out.nodes[st.NodeID] = nc
				}
				nc.Steps++
				if st.Port != "" {
					nc.Ports[st.Port]++
				}
				nc.Outcomes[st.Outcome]++
			}
			k := strings.Join(key, ">")
			if pc := out.paths[k]; pc != nil {
				pc.Runs++
			} else {
				out.paths[k] = &PathCount{Path: key, Runs: 1}
			}
			if !detailed {
				continue
			}
			rr := RunResult{RunID: r.ID, Status: r.Status, CurrentNode: r.CurrentNode, Error: r.Error, EnteredAt: r.EnteredAt,
				FinishedAt: r.FinishedAt, WaitUntil: r.WaitUntil, Steps: make([]Step, 0, len(steps)), Messages: []Message{}}
			for _, st := range steps {
				rr.Steps = append(rr.Steps, w.step(st))
			}
			for _, m := range msgs[r.ID] {
				rr.Messages = append(rr.Messages, message(m, steps, actions[m.msg.Kind]))
			}
			tl.Runs = append(tl.Runs, rr)
		}
		if detailed {
			res.Timelines = append(res.Timelines, tl)
		}
	}
	res.Truncated = len(sps) > maxDetailed
	return out, nil
}

// stopRank orders why worlds stopped, the most telling last.
var stopRank = map[string]int{"done": 0, "horizon": 1, "budget": 2, "timeout": 3}

// merge adds the worlds' shares up into one result.
func merge(parts []*partial, c *flows.Compiled) *Result {
	res := &Result{Statuses: map[string]int{}, Timelines: []ProfileTimeline{}, Paths: []PathCount{}, Nodes: []NodeCount{}, Stopped: "done"}
	paths := map[string]*PathCount{}
	nodeCounts := map[string]*NodeCount{}
	runs := 0
	for _, p := range parts {
		res.Profiles += p.res.Profiles
		res.Entered += p.res.Entered
		res.Messages += p.res.Messages
		res.Truncated = res.Truncated || p.res.Truncated
		res.Timelines = append(res.Timelines, p.res.Timelines...)
		for k, v := range p.res.Statuses {
			res.Statuses[k] += v
		}
		runs += p.runs
		for k, pc := range p.paths {
			if cur := paths[k]; cur != nil {
				cur.Runs += pc.Runs
			} else {
				cp := *pc
				paths[k] = &cp
			}
		}
		for id, nc := range p.nodes {
			cur := nodeCounts[id]
			if cur == nil {
				cur = &NodeCount{NodeID: id, Ports: map[string]int{}, Outcomes: map[string]int{}}
				nodeCounts[id] = cur
			}
			cur.Steps += nc.Steps
			for k, v := range nc.Ports {
				cur.Ports[k] += v
			}
			for k, v := range nc.Outcomes {
				cur.Outcomes[k] += v
			}
		}
		if stopRank[p.stopped] > stopRank[res.Stopped] {
			res.Stopped = p.stopped
		}
		if p.end.After(res.End) {
			res.End = p.end
		}
	}
	for _, pc := range paths {
		pc.Share = float64(pc.Runs) / float64(max(runs, 1))
		res.Paths = append(res.Paths, *pc)
	}
	sort.Slice(res.Paths, func(i, k int) bool {
		if res.Paths[i].Runs != res.Paths[k].Runs {
			return res.Paths[i].Runs > res.Paths[k].Runs
		}
		return strings.Join(res.Paths[i].Path, ">") < strings.Join(res.Paths[k].Path, ">")
	})
	for _, n := range c.Journey.Nodes {
		if nc := nodeCounts[n.ID]; nc != nil {
			res.Nodes = append(res.Nodes, *nc)
		}
	}
	return res
}

// message is a sent message as the result shows it; a says where its kind
// sends (the first of its profile fields that is set).
func message(m sentMessage, steps []store.RunStep, a *nodes.ActionSpec) Message {
	seq := 0
	if i := strings.LastIndexByte(m.msg.IdempotencyKey, ':'); i >= 0 {
		_, _ = fmt.Sscanf(m.msg.IdempotencyKey[i+1:], "%d", &seq)
	}
	out := Message{Sequence: seq, Kind: m.msg.Kind, Connector: m.connector, Subject: m.msg.Subject, Body: m.msg.HTML, Text: m.msg.Text,
		Payload: m.msg.Payload}
	for _, st := range steps {
		if st.Sequence == seq {
			out.NodeID, out.At = st.NodeID, st.StartedAt
		}
	}
	out.To = m.msg.ProfileID
	if a != nil {
		out.To = ""
		for _, f := range a.To {
			if out.To = messageField(m.msg, f); out.To != "" {
				break
			}
		}
	}
	if out.Body == "" {
		out.Body = m.msg.Text
	}
	return out
}

// messageField reads the profile field an action goes to from its message.
func messageField(m connectors.Message, f nodes.ProfileField) string {
	switch f {
	case nodes.ProfileEmail:
		return m.Email
	case nodes.ProfilePhone:
		return m.Phone
	case nodes.ProfileExternalID:
		return m.ProfileID
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
