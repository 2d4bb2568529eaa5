package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// ReplaySource reads recorded runs from the real database (read-only).
type ReplaySource interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (store.JourneyVersion, error)
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	ListRuns(ctx context.Context, workspaceID string, f store.RunFilter) ([]store.Run, string, error)
	ListRunSteps(ctx context.Context, runID string) ([]store.RunStep, error)
	GetProfile(ctx context.Context, id string) (store.Profile, error)
	ListProfileEvents(ctx context.Context, profileID, name string, since time.Time, limit int) ([]store.Event, error)
}

// ReplayOptions choose what to replay and against what.
type ReplayOptions struct {
	JourneyID string // "" = every journey of the workspace
	// Version replays against this version of the journey (0: each run's
	// own version, which checks the engine build alone).
	Version int
	// Document replays against this journey document instead.
	Document []byte
	// Limit is how many finished runs to replay (newest first; default 200).
	Limit int
	// Since keeps runs that entered at or after it.
	Since time.Time
}

// ReplayReport is what a replay found.
type ReplayReport struct {
	Checked int          `json:"checked"`
	Differ  int          `json:"differ"`
	Skipped int          `json:"skipped"`
	Runs    []ReplayDiff `json:"runs"` // the runs that differ or were skipped
}

// ReplayDiff is one run whose decisions would differ (or that could not be
// replayed: Skipped says why).
type ReplayDiff struct {
	RunID     string `json:"run_id"`
	JourneyID string `json:"journey_id"`
	Version   int    `json:"version"`    // the version the run was recorded on
	Against   string `json:"against"`    // what it was replayed against
	ProfileID string `json:"profile_id"` // external id
	// Step is the index of the first step that differs.
	Step     int      `json:"step"`
	Recorded []string `json:"recorded"` // node:port:outcome
	Replayed []string `json:"replayed"`
	Skipped  string   `json:"skipped,omitempty"`
}

// replayStatuses are the finished runs a replay checks: failed runs are
// left out (their failure usually came from outside: a provider, retries).
var replayStatuses = []string{store.RunCompleted, store.RunExited}

// Replay re-runs recorded runs through this build's engine and the chosen
// document and reports every run whose decisions (node, port and outcome,
// in order) would differ.
func (s *Simulator) Replay(ctx context.Context, src ReplaySource, workspaceID string, opts ReplayOptions) (*ReplayReport, error) {
	if opts.Limit <= 0 {
		opts.Limit = 200
	}
	var against []byte
	againstName := ""
	if len(opts.Document) > 0 {
		if opts.JourneyID == "" {
			return nil, &InputError{Problems: []Problem{{Field: "document", Message: "a document replaces one journey: name it"}}}
		}
		j, err := flows.Parse(opts.Document)
		if err != nil {
			return nil, err
		}
		if _, problems := flows.Compile(s.cfg.Registry, j, flows.ValidateOptions{}); len(problems) > 0 {
			return nil, &InvalidError{Problems: problems}
		}
		against, againstName = opts.Document, "document"
	}
	if opts.Version > 0 {
		if opts.JourneyID == "" {
			return nil, &InputError{Problems: []Problem{{Field: "version", Message: "a version needs a journey"}}}
		}
		v, err := src.GetJourneyVersion(ctx, workspaceID, opts.JourneyID, opts.Version)
		if err != nil {
			return nil, err
		}
		against, againstName = v.Document, fmt.Sprintf("version %d", opts.Version)
	}
	var journeyIDs []string
	if opts.JourneyID != "" {
		if _, err := src.GetJourney(ctx, workspaceID, opts.JourneyID); err != nil {
			return nil, err
		}
		journeyIDs = []string{opts.JourneyID}
	} else {
		for after := ""; ; {
			page, next, err := src.ListJourneys(ctx, workspaceID, store.JourneyFilter{Status: "all", Limit: 500, After: after})
			if err != nil {
				return nil, err
			}
			for _, j := range page {
				journeyIDs = append(journeyIDs, j.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
	}

	// The newest finished runs, up to the limit.
	var runs []store.Run
	for _, jid := range journeyIDs {
		for _, status := range replayStatuses {
			for after := ""; ; {
				page, next, err := src.ListRuns(ctx, workspaceID, store.RunFilter{JourneyID: jid, Status: status, Limit: 500, After: after})
				if err != nil {
					return nil, err
				}
				stop := false
				for _, r := range page {
					if !opts.Since.IsZero() && r.EnteredAt.Before(opts.Since) {
						stop = true // ids are time-ordered: older pages follow
						continue
					}
					runs = append(runs, r)
				}
				if next == "" || stop || len(runs) >= opts.Limit*len(replayStatuses) {
					break
				}
				after = next
			}
		}
	}
	sort.Slice(runs, func(i, k int) bool { return runs[i].ID > runs[k].ID })
	if len(runs) > opts.Limit {
		runs = runs[:opts.Limit]
	}

	rep := &ReplayReport{Runs: []ReplayDiff{}}
	docs := map[string][]byte{}
	for _, r := range runs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, name := against, againstName
		if doc == nil {
			key := fmt.Sprintf("%s/%d", r.JourneyID, r.Version)
			if docs[key] == nil {
				v, err := src.GetJourneyVersion(ctx, workspaceID, r.JourneyID, r.Version)
				if err != nil {
					return nil, fmt.Errorf("reading version %d of journey %s: %w", r.Version, r.JourneyID, err)
				}
				docs[key] = v.Document
			}
			doc, name = docs[key], fmt.Sprintf("version %d", r.Version)
		}
		d, err := s.replayRun(ctx, src, r, doc)
		if err != nil {
			return nil, fmt.Errorf("replaying run %s: %w", r.ID, err)
		}
		d.Against = name
		switch {
		case d.Skipped != "":
			rep.Skipped++
			rep.Runs = append(rep.Runs, d)
		case d.Step >= 0:
			rep.Checked++
			rep.Differ++
			rep.Runs = append(rep.Runs, d)
		default:
			rep.Checked++
		}
	}
	return rep, nil
}

// replayRun replays one run; Step is -1 when its decisions are the same.
func (s *Simulator) replayRun(ctx context.Context, src ReplaySource, r store.Run, doc []byte) (ReplayDiff, error) {
	d := ReplayDiff{RunID: r.ID, JourneyID: r.JourneyID, Version: r.Version, Step: -1}
	recorded, err := src.ListRunSteps(ctx, r.ID)
	if err != nil {
		return d, err
	}
	d.Recorded = decisions(recorded)
	if len(recorded) == 0 {
		d.Skipped = "the run has no recorded steps"
		return d, nil
	}
	for _, st := range recorded {
		reason, _ := st.Detail["reason"].(string)
		if st.Kind == "move" || st.Outcome == worker.OutcomeExited && (strings.HasPrefix(reason, "cancelled by") || strings.HasPrefix(reason, "journey archived by")) {
			d.Skipped = "a person moved or ended the run by hand"
			return d, nil
		}
		if st.Kind == "migrate" {
			// Its steps ran on two versions: no one version replays them.
			d.Skipped = "a publish or rollback moved the run to another version"
			return d, nil
		}
	}
	p, err := src.GetProfile(ctx, r.ProfileID)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.ErasedAt != nil {
		d.Skipped = "the profile was erased"
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.ProfileID = p.ExternalID

	w, err := newWorld(ctx, s.cfg.Registry, r.WorkspaceID, r.EnteredAt, s.cfg.Suppressions, s.cfg.Logger)
	if err != nil {
		return d, err
	}
	defer w.close()
	w.maxTasks = s.cfg.Limits.MaxTasksPerProfile
	if err := w.publish(ctx, s.cfg.Registry, doc); err != nil {
		var inv *InvalidError
		if errors.As(err, &inv) {
			d.Skipped = inv.Error()
			return d, nil
		}
		return d, err
	}
	trigger := recorded[0].NodeID
	if n, ok := w.compiled.Nodes[trigger]; !ok || n.Kind != recorded[0].Kind {
		d.Step, d.Replayed = 0, []string{}
		return d, nil
	}
	sp := existingProfile(p)
	if err := w.addProfile(ctx, sp); err != nil {
		return d, err
	}
	// Sends answer as they did: a provider's permanent failure, unknown
	// outcome or refusal is played back at the same step.
	bySeq := map[int]store.RunStep{}
	for _, st := range recorded {
		bySeq[st.Sequence] = st
	}
	w.inbox.outcomes = func(m connectors.Message) error {
		seq := 0
		if i := strings.LastIndexByte(m.IdempotencyKey, ':'); i >= 0 {
			_, _ = fmt.Sscanf(m.IdempotencyKey[i+1:], "%d", &seq)
		}
		st, ok := bySeq[seq]
		if !ok || st.Kind != m.Kind {
			return nil
		}
		reason, _ := st.Detail["reason"].(string)
		switch st.Outcome {
		case worker.OutcomeFailed:
			return connectors.PermanentError(reason, nil)
		case worker.OutcomeUnknown:
			return connectors.UnknownError(reason, nil)
		case worker.OutcomeSkipped:
			if _, viaProvider := st.Detail["delivery_id"]; viaProvider {
				return connectors.SuppressedError(reason)
			}
		}
		return nil
	}

	// The run, under its own id (split variants hash it), entering at its
	// recorded time with its recorded entry event.
	if _, err := w.st.EnterRun(ctx, store.Run{ID: r.ID, WorkspaceID: r.WorkspaceID, JourneyID: w.journeyID, Version: w.version, ProfileID: sp.id,
		CurrentNode: trigger, EntryEvent: json.RawMessage(r.EntryEvent), EnteredAt: r.EnteredAt},
		store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: worker.TaskAdvance, Queue: worker.QueueDefault, ProcessAt: r.EnteredAt}); err != nil {
		return d, err
	}
	// No other run may enter the private journey: the profile's events
	// only move this run (archived journeys finish their runs).
	if _, err := w.st.SetJourneyStatus(ctx, w.ws, w.journeyID, store.JourneyArchived, "replay"); err != nil {
		return d, err
	}
	w.at(r.EnteredAt, func(ctx context.Context) error { return w.eng.Advance(ctx, r.ID, 1) })

	// The profile's events the journey can see, at their recorded times:
	// those up to the entry are history (goal windows look back), later
	// ones are handled as they were.
	names := eventNames(w.compiled)
	for name := range eventNames(s.recordedVersion(ctx, src, r)) {
		names[name] = true
	}
	for name := range names {
		evs, err := src.ListProfileEvents(ctx, r.ProfileID, name, r.EnteredAt.Add(-DefaultLimits.MaxHorizon), 1000)
		if err != nil {
			return d, err
		}
		for _, ev := range evs {
			ev := store.Event{WorkspaceID: r.WorkspaceID, ProfileID: sp.id, Name: ev.Name, Properties: ev.Properties, OccurredAt: ev.OccurredAt}
			if !ev.OccurredAt.After(r.EnteredAt) {
				if _, err := w.st.InsertEvent(ctx, ev); err != nil {
					return d, err
				}
				continue
			}
			w.at(ev.OccurredAt, func(ctx context.Context) error {
				stored, err := w.st.InsertEvent(ctx, ev)
				if err != nil {
					return err
				}
				_, err = w.eng.HandleEvent(ctx, stored)
				return err
			})
		}
	}
	w.done = func(ctx context.Context) (bool, error) {
		run, err := w.st.GetRun(ctx, r.ID)
		return err == nil && run.Final(), err
	}
	if err := w.run(ctx, r.EnteredAt.Add(s.cfg.Limits.MaxHorizon)); err != nil && !errors.Is(err, errBudget) {
		return d, err
	}
	replayed, err := w.st.ListRunSteps(ctx, r.ID)
	if err != nil {
		return d, err
	}
	d.Replayed = decisions(replayed)
	for i := 0; i < max(len(d.Recorded), len(d.Replayed)); i++ {
		if i >= len(d.Recorded) || i >= len(d.Replayed) || d.Recorded[i] != d.Replayed[i] {
			d.Step = i
			break
		}
	}
	return d, nil
}

// recordedVersion returns the compiled version the run was recorded on, or
// nil when it cannot be read (its event names then do not count).
func (s *Simulator) recordedVersion(ctx context.Context, src ReplaySource, r store.Run) *flows.Compiled {
	v, err := src.GetJourneyVersion(ctx, r.WorkspaceID, r.JourneyID, r.Version)
	if err != nil {
		return nil
	}
	j, err := flows.Parse(v.Document)
	if err != nil {
		return nil
	}
	c, _ := flows.Compile(s.cfg.Registry, j, flows.ValidateOptions{})
	return c
}

// eventNames are the event names a journey reacts to.
func eventNames(c *flows.Compiled) map[string]bool {
	out := map[string]bool{}
	if c == nil {
		return out
	}
	for _, n := range c.Nodes {
		switch n.Kind {
		case "trigger_event", "wait_event", "goal":
			if e := n.Config.String("event"); e != "" {
				out[e] = true
			}
		}
	}
	if c.Settings.ExitEvent != "" {
		out[c.Settings.ExitEvent] = true
	}
	if g := c.Settings.Goal; g != nil && g.Event != "" {
		out[g.Event] = true
	}
	return out
}

// decisions are a ledger's steps as node:port:outcome.
func decisions(steps []store.RunStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.NodeID + ":" + s.Port + ":" + s.Outcome
	}
	return out
}
