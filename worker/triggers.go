package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// TriggerStore is the storage segment, schedule and attribute triggers
// need.
type TriggerStore interface {
	ListProfileChanges(ctx context.Context, profileID string, limit int) ([]store.ProfileChange, error)
	ListStaleProfileChanges(ctx context.Context, before time.Time, limit int) ([]store.ProfileChange, error)
	DeleteProfileChanges(ctx context.Context, ids []int64) error
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (store.JourneyVersion, error)
	ListProfilesPage(ctx context.Context, workspaceID, afterID string, limit int) ([]store.Profile, error)
	AddSegmentMembers(ctx context.Context, journeyID, nodeID string, profileIDs []string) ([]string, error)
	RemoveSegmentMembers(ctx context.Context, journeyID, nodeID string, profileIDs []string) (int64, error)
	ClaimTriggerRun(ctx context.Context, r store.TriggerRun) (store.TriggerRun, bool, error)
	SaveTriggerRun(ctx context.Context, r store.TriggerRun) error
}

// DefaultSweep is how often a segment trigger without a sweep interval is
// swept (time-based conditions need a sweep to notice time passing).
const DefaultSweep = 24 * time.Hour

// Triggers runs segment, attribute and schedule triggers: segment and
// attribute entry when a profile changes (ProfileChanged, called by
// whoever wrote the profile, the engine's update_profile included), and,
// on the leader, segment sweeps and schedule ticks streamed over every
// profile in keyset pages, and the profile changes nobody handed over
// (changes.go).
type Triggers struct {
	e           *Engine
	st          TriggerStore
	lease       *Lease // nil: this process always leads (tests, single process)
	every       time.Duration
	batch       int
	concurrency int
	workspaces  []string
	changeGrace time.Duration
	logger      *slog.Logger
	running     sync.Mutex // one RunOnce at a time per process (the lease covers processes)
	segments    SavedSegments
	warned      sync.Map
}

// SavedSegments matches a profile against a saved segment's current
// definition (internal/segments.Service): the segment triggers that name
// a saved segment (segment) use it.
type SavedSegments interface {
	Match(ctx context.Context, workspaceID, name string, env *expression.Env) (bool, error)
}

// TriggersConfig tunes Triggers.
type TriggersConfig struct {
	Workspaces  []string      // workspaces to sweep; default: the default workspace
	Every       time.Duration // how often the leader looks for due ticks; default 30 s
	Batch       int           // profiles per page; default 1000
	Concurrency int           // entries in flight per page; default 8
	// ChangeGrace is how long a profile change is left to the process
	// that wrote it before the leader handles it; default ChangeGrace.
	ChangeGrace time.Duration
	// Segments evaluates segment triggers that name a saved segment;
	// default: a segments.Service over the trigger store when it keeps
	// segments (the store does).
	Segments SavedSegments
}

// NewTriggers returns the trigger runner. rdb may be nil (no leader lease:
// only for a single process).
func NewTriggers(e *Engine, st TriggerStore, rdb redis.UniversalClient, cfg TriggersConfig) *Triggers {
	t := &Triggers{e: e, st: st, every: cfg.Every, batch: cfg.Batch, concurrency: cfg.Concurrency, workspaces: cfg.Workspaces,
		changeGrace: cfg.ChangeGrace, logger: e.logger, segments: cfg.Segments}
	if t.segments == nil {
		if ss, ok := st.(segments.Store); ok {
			t.segments = segments.New(ss, segments.Options{Now: e.now})
		}
	}
	if t.changeGrace <= 0 {
		t.changeGrace = ChangeGrace
	}
	if t.every <= 0 {
		t.every = 30 * time.Second
	}
	if t.batch <= 0 {
		t.batch = 1000
	}
	if t.concurrency <= 0 {
		t.concurrency = 8
	}
	if len(t.workspaces) == 0 {
		t.workspaces = []string{store.DefaultWorkspaceID}
	}
	if rdb != nil {
		t.lease = NewLease(rdb, "triggers", 4*t.every)
	}
	// The engine tells these triggers about the profiles its
	// update_profile steps change.
	e.triggers.Store(t)
	return t
}

// trigger is one live segment or schedule trigger.
type trigger struct {
	journey  store.Journey
	compiled *flows.Compiled
	node     *flows.CompiledNode
}

func (t *Triggers) liveTriggers(ctx context.Context, workspaceID string, kinds ...string) ([]trigger, error) {
	var out []trigger
	after := ""
	for {
		js, next, err := t.st.ListJourneys(ctx, workspaceID, store.JourneyFilter{Status: store.JourneyLive, Limit: 500, After: after})
		if err != nil {
			return nil, err
		}
		for _, j := range js {
			if j.LiveVersion == 0 {
				continue
			}
			c, err := t.e.compiledVersion(ctx, j.WorkspaceID, j.ID, j.LiveVersion)
			if err != nil {
				t.logger.Warn("skipping journey", slog.String("journey_id", j.ID), slog.String("error", err.Error()))
				continue
			}
			for _, n := range c.Triggers {
				for _, k := range kinds {
					if n.Kind == k {
						out = append(out, trigger{journey: j, compiled: c, node: n})
					}
				}
			}
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// matches evaluates a trigger's condition for a profile: its expression,
// or the current definition of the saved segment it names (segment). An
// evaluation error (a missing attribute, a segment that no longer
// exists) counts as false, as conditions do. Segment conditions see the
// profile's consent as profile.consent.<channel> (its status), as saved
// segments do.
func (t *Triggers) matches(ctx context.Context, tr trigger, p store.Profile, now time.Time) bool {
	prog := tr.node.Program("expr")
	name := tr.node.Config.String("segment")
	if prog == nil && (name == "" || tr.node.Kind != "trigger_segment") {
		return true
	}
	env := t.e.env(store.Run{EnteredAt: now, Version: tr.journey.LiveVersion}, tr.journey, p, now)
	if tr.node.Kind == "trigger_segment" {
		env.Profile["consent"] = consentStatuses(p.Consent)
	}
	if prog == nil {
		if t.segments == nil {
			return false
		}
		ok, err := t.segments.Match(ctx, tr.journey.WorkspaceID, name, env)
		if err != nil && !t.segmentWarned(tr, name) {
			t.logger.Warn("segment trigger: saved segment does not match", slog.String("journey_id", tr.journey.ID),
				slog.String("segment", name), slog.String("error", err.Error()))
		}
		return ok && err == nil
	}
	ok, _ := prog.EvalBool(env)
	return ok
}

// segmentWarned says whether a failing segment of this trigger was logged
// already (once per trigger, segment and process).
func (t *Triggers) segmentWarned(tr trigger, name string) bool {
	_, loaded := t.warned.LoadOrStore(tr.journey.ID+"/"+tr.node.ID+"/"+name, true)
	return loaded
}

// consentStatuses reads a profile's consent records as channel → status.
func consentStatuses(consent map[string]any) map[string]any {
	out := make(map[string]any, len(consent))
	for ch, rec := range consent {
		if r, ok := rec.(map[string]any); ok {
			if st, ok := r["status"].(string); ok {
				out[ch] = st
			}
		}
	}
	return out
}

// ProfileChanged is told about a profile that was just created or
// updated. It evaluates the live segment triggers for it: it enters the
// journeys whose condition it starts matching (matches now, did not at its
// last evaluation) and forgets the match where it stopped matching. Then
// it handles the profile's recorded changes: it enters the journeys whose
// attribute triggers they match. It returns the runs started.
func (t *Triggers) ProfileChanged(ctx context.Context, p store.Profile) ([]string, error) {
	trs, err := t.liveTriggers(ctx, p.WorkspaceID, "trigger_segment", "trigger_attribute")
	if err != nil {
		return nil, err
	}
	var segments, attributes []trigger
	for _, tr := range trs {
		if tr.node.Kind == "trigger_attribute" {
			attributes = append(attributes, tr)
		} else {
			segments = append(segments, tr)
		}
	}
	var entered []string
	if p.ErasedAt == nil {
		entered, err = t.segmentChanged(ctx, p, segments)
	}
	runs, aerr := t.attributeChanges(ctx, p, attributes)
	return append(entered, runs...), errors.Join(err, aerr)
}

// segmentChanged evaluates the segment triggers trs for a changed profile.
func (t *Triggers) segmentChanged(ctx context.Context, p store.Profile, trs []trigger) ([]string, error) {
	var entered []string
	var errs []error
	now := t.e.now()
	for _, tr := range trs {
		if !t.matches(ctx, tr, p, now) {
			if _, err := t.st.RemoveSegmentMembers(ctx, tr.journey.ID, tr.node.ID, []string{p.ID}); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		added, err := t.st.AddSegmentMembers(ctx, tr.journey.ID, tr.node.ID, []string{p.ID})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(added) == 0 {
			continue // it matched already
		}
		run, err := t.enter(ctx, tr, p.ID, now)
		switch {
		case errors.Is(err, errRefused):
		case err != nil:
			_, rerr := t.st.RemoveSegmentMembers(context.WithoutCancel(ctx), tr.journey.ID, tr.node.ID, []string{p.ID})
			errs = append(errs, err, rerr)
		default:
			entered = append(entered, run)
		}
	}
	return entered, errors.Join(errs...)
}

var errRefused = errors.New("entry refused")

func (t *Triggers) enter(ctx context.Context, tr trigger, profileID string, now time.Time) (string, error) {
	run, err := t.e.Enter(ctx, EnterRequest{WorkspaceID: tr.journey.WorkspaceID, JourneyID: tr.journey.ID, ProfileID: profileID,
		TriggerNode: tr.node.ID, Event: EntryEvent{Name: tr.node.Kind, OccurredAt: now}})
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused), errors.Is(err, ErrOutsideWindow), errors.Is(err, ErrJourneyNotLive):
		return "", errRefused
	case err != nil:
		return "", fmt.Errorf("entering journey %s: %w", tr.journey.ID, err)
	}
	return run.ID, nil
}

// Run looks for due sweeps and schedule ticks every period while this
// process holds the leader lease, until ctx ends.
func (t *Triggers) Run(ctx context.Context) {
	tk := time.NewTicker(t.every)
	defer tk.Stop()
	if t.lease != nil {
		defer t.lease.Release(context.Background())
	}
	for {
		if err := t.RunOnce(ctx); err != nil && ctx.Err() == nil {
			t.logger.Warn("triggers", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

func (t *Triggers) leading(ctx context.Context) (bool, error) {
	if t.lease == nil {
		return true, nil
	}
	return t.lease.Acquire(ctx)
}

// RunOnce runs every due sweep and schedule tick, if this process leads.
func (t *Triggers) RunOnce(ctx context.Context) error {
	if !t.running.TryLock() {
		return nil // a pass is already under way in this process
	}
	defer t.running.Unlock()
	if ok, err := t.leading(ctx); err != nil || !ok {
		return err
	}
	var errs []error
	if err := t.staleChanges(ctx); err != nil {
		errs = append(errs, fmt.Errorf("profile changes: %w", err))
	}
	for _, ws := range t.workspaces {
		trs, err := t.liveTriggers(ctx, ws, "trigger_segment", "trigger_schedule")
		if err != nil {
			return err
		}
		for _, tr := range trs {
			tick, kind, due, err := t.dueTick(ctx, tr)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !due {
				continue
			}
			run, fresh, err := t.st.ClaimTriggerRun(ctx, store.TriggerRun{WorkspaceID: ws, JourneyID: tr.journey.ID, NodeID: tr.node.ID, Kind: kind, TickAt: tick})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !fresh && run.Status != store.TriggerRunning {
				continue // this tick ran already
			}
			if err := t.process(ctx, tr, run); err != nil {
				errs = append(errs, fmt.Errorf("%s of journey %s: %w", kind, tr.journey.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// dueTick returns the tick a trigger is due for now: for a segment sweep
// the current sweep period (epoch-aligned), for a schedule the latest
// scheduled time not after now and not before the version's publication.
// Missed ticks are not replayed: only the latest runs.
func (t *Triggers) dueTick(ctx context.Context, tr trigger) (time.Time, string, bool, error) {
	now := t.e.now()
	if tr.node.Kind == "trigger_segment" {
		every := tr.node.Config.Duration("sweep")
		if every <= 0 {
			every = DefaultSweep
		}
		return now.Truncate(every), store.TriggerSweep, true, nil
	}
	if tr.node.Config.String("mode") == "once" {
		return OnceTick(tr.node.Config, now) // a broadcast (broadcast.go)
	}
	v, err := t.st.GetJourneyVersion(ctx, tr.journey.WorkspaceID, tr.journey.ID, tr.journey.LiveVersion)
	if err != nil {
		return time.Time{}, "", false, err
	}
	sched, err := ScheduleOf(tr.node.Config, tr.compiled.Settings.Location)
	if err != nil {
		return time.Time{}, "", false, err
	}
	tick, ok := LatestTick(sched, v.PublishedAt, now)
	return tick, store.TriggerSchedule, ok, nil
}

// ScheduleOf builds a schedule trigger's schedule from its config: a cron
// spec or a fixed interval, in the node's time zone (else the journey's,
// else UTC).
func ScheduleOf(cfg nodes.Config, journeyLoc *time.Location) (cron.Schedule, error) {
	loc := journeyLoc
	if tz := cfg.String("timezone"); tz != "" {
		l, err := nodes.LoadTimezone(tz)
		if err != nil {
			return nil, fmt.Errorf("timezone %q: %w", tz, err)
		}
		loc = l
	}
	if loc == nil {
		loc = time.UTC
	}
	if cfg.String("mode") == "cron" {
		s, err := cron.ParseStandard(cfg.String("cron"))
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", cfg.String("cron"), err)
		}
		if spec, ok := s.(*cron.SpecSchedule); ok {
			spec.Location = loc
		}
		return s, nil
	}
	every := cfg.Duration("every")
	if every < time.Hour {
		return nil, fmt.Errorf("every %s: at least 1h", every)
	}
	return everySchedule{every: every, loc: loc}, nil
}

// everySchedule ticks every N hours from local midnight of 2000-01-01, or
// every N days at local midnight (so "1d" stays at 00:00 across DST).
type everySchedule struct {
	every time.Duration
	loc   *time.Location
}

func (s everySchedule) Next(t time.Time) time.Time {
	t = t.In(s.loc)
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, s.loc)
	if s.every%(24*time.Hour) == 0 {
		days := int(s.every / (24 * time.Hour))
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.loc)
		n := int(d.Sub(base).Hours()/24 + 0.5)
		d = base.AddDate(0, 0, n-n%days)
		for !d.After(t) {
			d = d.AddDate(0, 0, days)
		}
		return d
	}
	k := t.Sub(base) / s.every
	n := base.Add(k * s.every)
	for !n.After(t) {
		n = n.Add(s.every)
	}
	return n
}

// LatestTick returns the latest tick of sched in (since, now], if any.
func LatestTick(sched cron.Schedule, since, now time.Time) (time.Time, bool) {
	var last time.Time
	n := sched.Next(since)
	for i := 0; i < 100000 && !n.IsZero() && !n.After(now); i++ {
		last = n
		n = sched.Next(n)
	}
	return last, !last.IsZero()
}

// process streams the profiles of the workspace from the tick's cursor in
// pages, enters the matching ones, and records progress after each page.
// For a sweep only profiles that start matching enter; for a schedule every
// matching profile does (entry rules decide re-entry).
func (t *Triggers) process(ctx context.Context, tr trigger, run store.TriggerRun) error {
	log := t.logger.With(slog.String("journey_id", tr.journey.ID), slog.String("node_id", tr.node.ID), slog.String("kind", run.Kind))
	log.Info("trigger tick started", slog.Time("tick_at", run.TickAt), slog.Int64("resumed_at", run.Scanned))
	for {
		if ok, err := t.leading(ctx); err != nil || !ok {
			return errors.Join(err, errors.New("lost the leader lease; the next leader resumes"))
		}
		page, err := t.st.ListProfilesPage(ctx, tr.journey.WorkspaceID, run.Cursor, t.batch)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		if err := t.processPage(ctx, tr, &run, page); err != nil {
			run.Error = err.Error()
			if serr := t.st.SaveTriggerRun(context.WithoutCancel(ctx), run); serr != nil {
				err = errors.Join(err, serr)
			}
			return err
		}
		run.Cursor = page[len(page)-1].ID
		if err := t.st.SaveTriggerRun(ctx, run); err != nil {
			return err
		}
		if len(page) < t.batch {
			break
		}
	}
	run.Status, run.Error = store.TriggerDone, ""
	log.Info("trigger tick finished", slog.Int64("scanned", run.Scanned), slog.Int64("entered", run.Entered), slog.Int64("refused", run.Refused))
	return t.st.SaveTriggerRun(ctx, run)
}

func (t *Triggers) processPage(ctx context.Context, tr trigger, run *store.TriggerRun, page []store.Profile) error {
	now := t.e.now()
	var matched, unmatched []string
	for _, p := range page {
		if t.matches(ctx, tr, p, now) {
			matched = append(matched, p.ID)
		} else {
			unmatched = append(unmatched, p.ID)
		}
	}
	toEnter := matched
	if run.Kind == store.TriggerSweep {
		if _, err := t.st.RemoveSegmentMembers(ctx, tr.journey.ID, tr.node.ID, unmatched); err != nil {
			return err
		}
		added, err := t.st.AddSegmentMembers(ctx, tr.journey.ID, tr.node.ID, matched)
		if err != nil {
			return err
		}
		toEnter = added
	}
	entered, refused, err := t.enterAll(ctx, tr, toEnter, now)
	run.Scanned += int64(len(page))
	run.Matched += int64(len(matched))
	run.Entered += entered
	run.Refused += refused
	return err
}

// enterAll enters profiles: the page in one go when the store can (see
// Engine.EnterBatch), else one by one with bounded concurrency.
func (t *Triggers) enterAll(ctx context.Context, tr trigger, ids []string, now time.Time) (entered, refused int64, err error) {
	if len(ids) == 0 {
		return 0, 0, nil
	}
	runs, ok, err := t.e.EnterBatch(ctx, BatchRequest{WorkspaceID: tr.journey.WorkspaceID, JourneyID: tr.journey.ID, TriggerNode: tr.node.ID,
		ProfileIDs: ids, Event: EntryEvent{Name: tr.node.Kind, OccurredAt: now}})
	if ok {
		if err != nil {
			// Forget the matches so the next evaluation tries again.
			_, rerr := t.st.RemoveSegmentMembers(context.WithoutCancel(ctx), tr.journey.ID, tr.node.ID, ids)
			return 0, 0, errors.Join(fmt.Errorf("entering journey %s: %w", tr.journey.ID, err), rerr)
		}
		return int64(len(runs)), int64(len(ids) - len(runs)), nil
	}
	var ne, nr atomic.Int64
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, t.concurrency)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := t.enter(ctx, tr, id, now)
			switch {
			case errors.Is(err, errRefused):
				nr.Add(1)
			case err != nil:
				// Forget the match so the next evaluation tries again.
				_, rerr := t.st.RemoveSegmentMembers(context.WithoutCancel(ctx), tr.journey.ID, tr.node.ID, []string{id})
				mu.Lock()
				errs = append(errs, err, rerr)
				mu.Unlock()
			default:
				ne.Add(1)
			}
		}()
	}
	wg.Wait()
	return ne.Load(), nr.Load(), errors.Join(errs...)
}
