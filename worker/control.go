package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// JourneyStatusStore changes a journey's status.
type JourneyStatusStore interface {
	SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (store.Journey, error)
}

// PauseRuns stops a paused journey's runs from advancing: their tasks are
// taken off the schedule (timers that fall due wait).
func (e *Engine) PauseRuns(ctx context.Context, journeyID string) (int64, error) {
	return e.cfg.Store.PauseJourneyRuns(ctx, journeyID)
}

// ResumeRuns gives a resumed journey's paused runs their tasks back; a run
// whose wait is not over waits again.
func (e *Engine) ResumeRuns(ctx context.Context, journeyID string) (int64, error) {
	n, err := e.cfg.Store.ResumeJourneyRuns(ctx, journeyID, TaskAdvance)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if _, err := NewRelay(e, time.Second).drainAll(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ExitRuns ends every live run of a journey (archive with "exit runs").
func (e *Engine) ExitRuns(ctx context.Context, journeyID, reason string) (int, error) {
	exited, after := 0, ""
	for {
		ids, err := e.cfg.Store.ListLiveRunIDs(ctx, journeyID, after, 500)
		if err != nil {
			return exited, err
		}
		if len(ids) == 0 {
			return exited, nil
		}
		for _, id := range ids {
			run, err := e.cfg.Store.GetRun(ctx, id)
			if err != nil {
				return exited, err
			}
			ok, err := e.exitRun(ctx, run, reason)
			if err != nil {
				return exited, err
			}
			if ok {
				exited++
			}
		}
		after = ids[len(ids)-1]
	}
}

// CancelRun ends one run of the workspace.
func (e *Engine) CancelRun(ctx context.Context, workspaceID, runID, reason string) (store.Run, error) {
	run, err := e.cfg.Store.GetWorkspaceRun(ctx, workspaceID, runID)
	if err != nil {
		return store.Run{}, err
	}
	if run.Final() {
		return store.Run{}, fmt.Errorf("run %s has already ended (%s): %w", runID, run.Status, store.ErrConflict)
	}
	if _, err := e.exitRun(ctx, run, reason); err != nil {
		return store.Run{}, err
	}
	return e.cfg.Store.GetRun(ctx, runID)
}

// RetryRun restarts a failed run at the node where it failed.
func (e *Engine) RetryRun(ctx context.Context, workspaceID, runID string) (store.Run, error) {
	run, err := e.cfg.Store.ReviveRun(ctx, workspaceID, runID, TaskAdvance)
	if err != nil {
		return store.Run{}, err
	}
	e.dispatch(ctx, store.OutboxItem{RunID: run.ID, Sequence: run.Sequence, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: e.now()})
	return run, nil
}

// ErrNoSuchNode means a run was asked to move to a node its version lacks.
var ErrNoSuchNode = errors.New("no such node in the run's version")

// MoveRun moves a live or failed run to another node of its own version
// (an admin's repair); the move is a ledger step and the run continues from
// the new node at once.
func (e *Engine) MoveRun(ctx context.Context, workspaceID, runID, nodeID, by string) (store.Run, error) {
	run, err := e.cfg.Store.GetWorkspaceRun(ctx, workspaceID, runID)
	if err != nil {
		return store.Run{}, err
	}
	c, err := e.compiledVersion(ctx, workspaceID, run.JourneyID, run.Version)
	if err != nil {
		return store.Run{}, err
	}
	n, ok := c.Nodes[nodeID]
	if !ok {
		return store.Run{}, fmt.Errorf("%w: %q (version %d)", ErrNoSuchNode, nodeID, run.Version)
	}
	if n.Spec.Category == nodes.Trigger {
		return store.Run{}, fmt.Errorf("%w: %q is a trigger", ErrNoSuchNode, nodeID)
	}
	moved, err := e.cfg.Store.MoveRun(ctx, workspaceID, runID, nodeID, by, TaskAdvance)
	if err != nil {
		return store.Run{}, err
	}
	e.dispatch(ctx, store.OutboxItem{RunID: moved.ID, Sequence: moved.Sequence, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: e.now()})
	return moved, nil
}
