package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// MoveRun puts a live run (or a failed one) at another node of its
// version, as a ledger step of its own (kind "move", outcome "moved") with
// a new sequence and an outbox item, so the run continues from there. The
// caller checks that the node exists in the run's version.
func (s *Store) MoveRun(ctx context.Context, workspaceID, runID, nodeID, by, taskType string) (Run, error) {
	now := s.nowUTC()
	var out runRow
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, runID).Take(&out).Error; err != nil {
			return err
		}
		if out.Status == RunCompleted || out.Status == RunExited {
			return fmt.Errorf("run %s has ended (%s): %w", runID, out.Status, ErrConflict)
		}
		from := out.CurrentNode
		step := runStepRow{RunID: runID, Sequence: out.Sequence, NodeID: from, Kind: "move", Outcome: "moved",
			Detail: `{"from":` + jsonString(from) + `,"to":` + jsonString(nodeID) + `,"by":` + jsonString(by) + `}`, StartedAt: now, FinishedAt: now}
		if err := tx.Create(&step).Error; err != nil {
			return err
		}
		err := tx.Model(&runRow{}).Where("id = ?", runID).Updates(map[string]any{
			"status": RunActive, "current_node": nodeID, "sequence": out.Sequence + 1, "wait_until": nil, "wait_event": "",
			"error": "", "finished_at": nil, "next_due_at": now, "updated_at": now,
		}).Error
		if err != nil {
			return err
		}
		if out.Status == RunFailed {
			// A failed run released its active-run slot; take it back.
			if err := tx.Model(&journeyProfileRow{}).Where("journey_id = ? AND profile_id = ? AND active_run_id = ''", out.JourneyID, out.ProfileID).
				Update("active_run_id", runID).Error; err != nil {
				return err
			}
		}
		out.Status, out.CurrentNode, out.Sequence, out.WaitUntil, out.WaitEvent = RunActive, nodeID, out.Sequence+1, nil, ""
		out.Error, out.FinishedAt, out.NextDueAt, out.UpdatedAt = "", nil, &now, now
		return createOutbox(tx, OutboxItem{RunID: runID, Sequence: out.Sequence, TaskType: taskType, ProcessAt: now}, now)
	})
	if err != nil {
		return Run{}, dbErr(err, "moving run")
	}
	return out.domain(), nil
}
