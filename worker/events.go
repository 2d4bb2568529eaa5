package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// EventResult says what an event did.
type EventResult struct {
	Resumed   []string // runs that were waiting for it
	Exited    []string // runs ended by exit criteria or a goal with exit
	Converted []string // runs that converted on it
	Entered   []string // new runs of event-triggered journeys
	Refused   []string // journey ids whose entry rules refused the profile
}

// HandleEvent applies a stored event: it wakes runs waiting for it, ends
// runs whose exit criteria it meets, records conversions for journey goals,
// and enters the profile into live journeys that an event of this name
// triggers.
func (e *Engine) HandleEvent(ctx context.Context, ev store.Event) (EventResult, error) {
	var res EventResult
	profile, err := e.cfg.Store.GetProfile(ctx, ev.ProfileID)
	if err != nil {
		return res, err
	}
	xev := expression.Event{Name: ev.Name, Properties: ev.Properties, OccurredAt: ev.OccurredAt}

	// 1. Runs waiting for this event.
	waiting, err := e.cfg.Store.ListRunsWaitingForEvent(ctx, profile.ID, ev.Name)
	if err != nil {
		return res, err
	}
	for _, run := range waiting {
		ok, err := e.resumeOnEvent(ctx, run, profile, ev, xev, true)
		if err != nil {
			return res, err
		}
		if ok {
			res.Resumed = append(res.Resumed, run.ID)
		}
	}

	// 2. Exit criteria and goals of the profile's recent runs.
	runs, err := e.cfg.Store.ListProfileRuns(ctx, profile.ID, "", ev.OccurredAt.Add(-2*365*24*time.Hour))
	if err != nil {
		return res, err
	}
	for _, run := range runs {
		exited, converted, err := e.exitAndGoal(ctx, run, profile, ev, xev)
		if err != nil {
			return res, err
		}
		if exited {
			res.Exited = append(res.Exited, run.ID)
		}
		if converted {
			res.Converted = append(res.Converted, run.ID)
		}
	}

	// 3. Event-triggered journeys.
	if err := e.enterOnEvent(ctx, profile, ev, xev, &res); err != nil {
		return res, err
	}
	return res, nil
}

// resumeOnEvent moves a run parked at wait_event through "matched" if the
// event matches. It races the timeout task on the run's sequence: exactly
// one of them commits. With again, a run that a publish moved to another
// wait while this was deciding is tried once more where it now waits.
func (e *Engine) resumeOnEvent(ctx context.Context, run store.Run, p store.Profile, ev store.Event, xev expression.Event, again bool) (bool, error) {
	j, err := e.journeyHead(ctx, run.WorkspaceID, run.JourneyID)
	if err != nil {
		return false, err
	}
	c, err := e.compiledVersion(ctx, run.WorkspaceID, run.JourneyID, run.Version)
	if err != nil {
		return false, err
	}
	n, ok := c.Nodes[run.CurrentNode]
	if !ok || n.Kind != "wait_event" || run.WaitEvent != ev.Name {
		// Not waiting for this event (a re-read run may now wait for
		// another one).
		return false, nil
	}
	// Only events inside the wait count: not one that happened after the
	// timeout (a late timeout task), nor one from before the wait began
	// (ingested late; a minute of clock skew is tolerated).
	if run.WaitUntil != nil && ev.OccurredAt.After(*run.WaitUntil) {
		return false, nil
	}
	if ev.OccurredAt.Before(run.UpdatedAt.Add(-time.Minute)) {
		return false, nil
	}
	now := e.now()
	env := e.env(run, j, p, now)
	env.Event = xev
	if m := n.Program("match"); m != nil {
		if ok, _ := m.EvalBool(env); !ok {
			return false, nil
		}
	}
	step := store.RunStep{Sequence: run.Sequence, NodeID: n.ID, Kind: n.Kind, Port: "matched", Outcome: OutcomeMatched,
		Detail: map[string]any{"event_id": ev.ID}, StartedAt: now, FinishedAt: now}
	u := store.RunUpdate{RunID: run.ID, JourneyID: run.JourneyID, ProfileID: run.ProfileID, ExpectSequence: run.Sequence,
		Sequence: run.Sequence + 1, Steps: run.Steps + 1, Ledger: []store.RunStep{step}}
	next, end, err := c.Follow(n, "matched")
	switch {
	case err != nil:
		u.Status, u.CurrentNode, u.Error, u.Finished = store.RunFailed, n.ID, err.Error(), true
	case next == nil:
		u.Status, u.CurrentNode, u.Finished = store.RunCompleted, n.ID, true
		if end == nodes.Fail {
			u.Status = store.RunFailed
		}
	default:
		u.Status, u.CurrentNode, u.NextDueAt = store.RunActive, next.ID, &now
		u.Outbox = &store.OutboxItem{Sequence: run.Sequence + 1, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: now}
	}
	err = e.cfg.Store.AdvanceRun(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		// The timeout (or another event) won; or a migration moved the
		// run meanwhile, and the event may count where it waits now.
		if again {
			if fresh, gerr := e.cfg.Store.GetRun(ctx, run.ID); gerr == nil && fresh.Status == store.RunWaitingEvent && fresh.Sequence > run.Sequence {
				return e.resumeOnEvent(ctx, fresh, p, ev, xev, false)
			}
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.Outbox != nil {
		o := *u.Outbox
		o.RunID = run.ID
		e.dispatch(ctx, o)
	}
	return true, nil
}

// exitAndGoal applies a journey's exit criteria and conversion goal to one
// of the profile's runs.
func (e *Engine) exitAndGoal(ctx context.Context, run store.Run, p store.Profile, ev store.Event, xev expression.Event) (exited, converted bool, err error) {
	c, err := e.compiledVersion(ctx, run.WorkspaceID, run.JourneyID, run.Version)
	if err != nil {
		return false, false, err
	}
	st := c.Settings
	live := !run.Final()
	if g := st.Goal; g != nil && g.Event == ev.Name && run.ConvertedAt == nil && !ev.OccurredAt.Before(run.EnteredAt) &&
		(g.Window == 0 && live || g.Window > 0 && ev.OccurredAt.Sub(run.EnteredAt) <= g.Window) {
		match := true
		if g.Filter != nil {
			j, err := e.journeyHead(ctx, run.WorkspaceID, run.JourneyID)
			if err != nil {
				return false, false, err
			}
			env := e.env(run, j, p, e.now())
			env.Event = xev
			match, _ = g.Filter.EvalBool(env)
		}
		if match {
			value := 0.0
			if g.ValueProperty != "" {
				if f, ok := toFloat(ev.Properties[g.ValueProperty]); ok {
					value = f
				}
			}
			path, err := e.nodePath(ctx, run.ID)
			if err != nil {
				return false, false, err
			}
			converted, err = e.cfg.Store.RecordConversion(ctx, run.ID, store.Conversion{At: ev.OccurredAt, Value: value, Path: path})
			if err != nil {
				return false, false, err
			}
			if converted && g.ExitOnConversion && live {
				ok, err := e.exitRun(ctx, run, "converted on "+ev.Name)
				return ok, converted, err
			}
		}
	}
	if live && st.ExitEvent != "" && st.ExitEvent == ev.Name {
		if st.ExitExpr != nil {
			j, err := e.journeyHead(ctx, run.WorkspaceID, run.JourneyID)
			if err != nil {
				return false, converted, err
			}
			env := e.env(run, j, p, e.now())
			env.Event = xev
			if ok, _ := st.ExitExpr.EvalBool(env); !ok {
				return false, converted, nil
			}
		}
		ok, err := e.exitRun(ctx, run, "exit event "+ev.Name)
		return ok, converted, err
	}
	return false, converted, nil
}

// nodePath is the run's walk so far, for conversion attribution.
func (e *Engine) nodePath(ctx context.Context, runID string) (string, error) {
	steps, err := e.cfg.Store.ListRunSteps(ctx, runID)
	if err != nil {
		return "", err
	}
	path := ""
	for i, s := range steps {
		if i > 0 {
			path += ">"
		}
		path += s.NodeID
	}
	return path, nil
}

// exitRun ends a live run (exit criteria, goal exit, cancel, archive).
func (e *Engine) exitRun(ctx context.Context, run store.Run, reason string) (bool, error) {
	now := e.now()
	err := e.cfg.Store.AdvanceRun(ctx, store.RunUpdate{
		RunID: run.ID, JourneyID: run.JourneyID, ProfileID: run.ProfileID, ExpectSequence: run.Sequence,
		Status: store.RunExited, CurrentNode: run.CurrentNode, Sequence: run.Sequence + 1, Steps: run.Steps + 1, Error: reason, Finished: true,
		Ledger: []store.RunStep{{Sequence: run.Sequence, NodeID: run.CurrentNode, Kind: "exit", Outcome: OutcomeExited,
			Detail: map[string]any{"reason": reason}, StartedAt: now, FinishedAt: now}},
	})
	if errors.Is(err, store.ErrConflict) {
		// It moved meanwhile: try once more from its new position.
		fresh, gerr := e.cfg.Store.GetRun(ctx, run.ID)
		if gerr != nil || fresh.Final() || fresh.Sequence == run.Sequence {
			return false, gerr
		}
		return e.exitRun(ctx, fresh, reason)
	}
	return err == nil, err
}

// enterOnEvent starts event-triggered journeys for the profile.
func (e *Engine) enterOnEvent(ctx context.Context, p store.Profile, ev store.Event, xev expression.Event, res *EventResult) error {
	var live []store.Journey
	for after := ""; ; {
		page, next, err := e.cfg.Store.ListJourneys(ctx, p.WorkspaceID, store.JourneyFilter{Status: store.JourneyLive, Limit: 500, After: after})
		if err != nil {
			return err
		}
		live = append(live, page...)
		if next == "" {
			break
		}
		after = next
	}
	var errs []error
	for _, j := range live {
		c, err := e.compiledVersion(ctx, j.WorkspaceID, j.ID, j.LiveVersion)
		if err != nil {
			e.logger.Warn("skipping journey", slog.String("journey_id", j.ID), slog.String("error", err.Error()))
			continue
		}
		for _, t := range c.Triggers {
			if t.Kind != "trigger_event" || t.Config.String("event") != ev.Name {
				continue
			}
			if f := t.Program("filter"); f != nil {
				env := e.env(store.Run{ID: "", EnteredAt: e.now()}, j, p, e.now())
				env.Event = xev
				if ok, _ := f.EvalBool(env); !ok {
					continue
				}
			}
			run, err := e.Enter(ctx, EnterRequest{WorkspaceID: j.WorkspaceID, JourneyID: j.ID, ProfileID: p.ID, TriggerNode: t.ID,
				Event: EntryEvent{Name: ev.Name, Properties: ev.Properties, OccurredAt: ev.OccurredAt}, Profile: WholeProfile(p)})
			var refused *store.EntryRefusedError
			switch {
			case errors.As(err, &refused), errors.Is(err, ErrOutsideWindow), errors.Is(err, ErrJourneyNotLive):
				res.Refused = append(res.Refused, j.ID)
			case err != nil:
				// One journey's failure must not keep the others from
				// their entries: report it after trying them all.
				errs = append(errs, fmt.Errorf("entering journey %s: %w", j.ID, err))
			default:
				res.Entered = append(res.Entered, run.ID)
			}
			break // one entry per journey per event
		}
	}
	return errors.Join(errs...)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
