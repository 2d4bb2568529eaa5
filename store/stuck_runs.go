package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// overdueStatuses are the statuses whose runs wait for a task at next_due_at.
var overdueStatuses = []string{RunActive, RunWaiting, RunWaitingEvent}

// ListOverdueRuns returns a workspace's live runs whose next task was due
// at or before `before` (now minus the threshold), most overdue first.
func (s *Store) ListOverdueRuns(ctx context.Context, workspaceID string, before time.Time, limit int) ([]Run, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	var rows []runRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND status IN ? AND next_due_at IS NOT NULL AND next_due_at <= ?",
		workspaceID, overdueStatuses, before.UTC()).Order("next_due_at, id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing overdue runs")
	}
	return runDomains(rows), nil
}

// RequeueOverdueRuns gives each of the listed runs that is still live and
// overdue (next_due_at at or before `before`) a fresh task: a ledger step
// (kind "retry", outcome "requeued") at its sequence, the next sequence,
// next_due_at = now and an outbox item, all in one transaction. The relay
// then enqueues it under a new task id, so an archived or lost task with
// the old id cannot block it, and a stale old task finds the sequence moved
// on and does nothing. Runs of other workspaces, finished runs and runs no
// longer overdue are left alone. It returns the runs it requeued.
func (s *Store) RequeueOverdueRuns(ctx context.Context, workspaceID string, ids []string, before time.Time, taskType string) ([]Run, error) {
	now := s.nowUTC()
	var out []Run
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		out = out[:0]
		for _, id := range ids {
			var r runRow
			err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&r).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			live := false
			for _, st := range overdueStatuses {
				live = live || r.Status == st
			}
			if !live || r.NextDueAt == nil || r.NextDueAt.After(before.UTC()) {
				continue
			}
			step := runStepRow{RunID: r.ID, Sequence: r.Sequence, NodeID: r.CurrentNode, Kind: "retry", Outcome: "requeued",
				Detail: `{"overdue_since":` + jsonString(r.NextDueAt.UTC().Format(time.RFC3339)) + `}`, StartedAt: now, FinishedAt: now}
			if err := tx.Create(&step).Error; err != nil {
				return err
			}
			res := tx.Model(&runRow{}).Where("id = ? AND sequence = ?", r.ID, r.Sequence).
				Updates(map[string]any{"sequence": r.Sequence + 1, "next_due_at": now, "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				continue
			}
			r.Sequence++
			r.NextDueAt, r.UpdatedAt = &now, now
			if err := createOutbox(tx, OutboxItem{RunID: r.ID, Sequence: r.Sequence, TaskType: taskType, ProcessAt: now}, now); err != nil {
				return err
			}
			out = append(out, r.domain())
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "requeueing runs")
	}
	return out, nil
}
