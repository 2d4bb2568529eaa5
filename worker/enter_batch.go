package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// BatchRequest asks for a page of profiles to enter one journey through
// one trigger with one entry event (segment sweeps, schedule ticks).
type BatchRequest struct {
	WorkspaceID string
	JourneyID   string
	TriggerNode string
	ProfileIDs  []string
	Event       EntryEvent
}

// EnterBatch enters a page of profiles as Enter would enter each, and
// returns the runs that entered; the others were refused by the entry
// rules. ok is false when the store cannot enter the page in one go under
// the journey's rules (a total entry limit, SQLite): then nothing was done
// and the caller enters the profiles one by one. A journey that is not
// live or outside its entry window refuses the whole page (no runs, nil).
// Runs are committed with their outbox items before their tasks are
// enqueued, so none is lost if this process stops.
func (e *Engine) EnterBatch(ctx context.Context, req BatchRequest) (runs []store.Run, ok bool, err error) {
	j, err := e.journeyHead(ctx, req.WorkspaceID, req.JourneyID)
	if err != nil {
		return nil, true, err
	}
	if j.Status != store.JourneyLive || j.LiveVersion == 0 {
		return nil, true, nil
	}
	c, err := e.compiledVersion(ctx, req.WorkspaceID, j.ID, j.LiveVersion)
	if err != nil {
		return nil, true, err
	}
	st := c.Settings
	policy := store.EntryPolicy{Reentry: st.Reentry, MinInterval: st.ReentryMinInterval, PerProfileLimit: st.EntryLimitPerProfile, TotalLimit: st.EntryLimitTotal}
	if !e.cfg.Store.BatchesEntries(policy) {
		return nil, false, nil
	}
	now := e.now()
	if (!st.EntryStart.IsZero() && now.Before(st.EntryStart)) || (!st.EntryEnd.IsZero() && !now.Before(st.EntryEnd)) {
		return nil, true, nil
	}
	trigger := req.TriggerNode
	if trigger == "" && len(c.Triggers) > 0 {
		trigger = c.Triggers[0].ID
	}
	if n, ok := c.Nodes[trigger]; !ok || n.Spec.Category != nodes.Trigger {
		return nil, true, fmt.Errorf("%w: %q", ErrNoSuchTrigger, trigger)
	}
	if req.Event.OccurredAt.IsZero() {
		req.Event.OccurredAt = now
	}
	entry, err := json.Marshal(req.Event)
	if err != nil {
		return nil, true, fmt.Errorf("encoding entry event: %w", err)
	}
	runs, err = e.cfg.Store.EnterRuns(ctx, store.EntryBatch{
		WorkspaceID: req.WorkspaceID, JourneyID: j.ID, Version: j.LiveVersion, TriggerNode: trigger, EntryEvent: entry, EnteredAt: now,
		ProfileIDs: req.ProfileIDs, Policy: policy, First: store.OutboxItem{TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: now},
	})
	if err != nil {
		return nil, true, err
	}
	e.dispatchAll(ctx, runs, now)
	return runs, true, nil
}

// dispatchAll enqueues the first task of each run, a few at a time, and
// deletes the outbox items of those enqueued in one statement. A failed
// enqueue leaves its item to the relay.
func (e *Engine) dispatchAll(ctx context.Context, runs []store.Run, now time.Time) {
	const workers = 8
	done := make([]store.OutboxKey, len(runs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(workers, len(runs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := runs[i]
				if err := enqueueRunTask(ctx, e.cfg.Enqueuer, now, r.ID, 1, now, taskID(r.ID, 1)); err != nil {
					e.logger.Warn("enqueue failed; the outbox relay will retry", slog.String("run_id", r.ID), slog.String("error", err.Error()))
					continue
				}
				done[i] = store.OutboxKey{RunID: r.ID, Sequence: 1, TaskType: TaskAdvance}
			}
		}()
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	keys := done[:0]
	for _, k := range done {
		if k.RunID != "" {
			keys = append(keys, k)
		}
	}
	if err := e.cfg.Store.DeleteOutboxKeys(ctx, keys); err != nil {
		e.logger.Warn("deleting outbox items", slog.String("error", err.Error()))
	}
}
