package store

import (
	"context"
	"fmt"
	"time"
)

// Broadcast statuses (docs/broadcasts.md). A broadcast is created as a
// draft, becomes scheduled once its journey is published, sending once its
// time has come, and ends done or cancelled.
const (
	BroadcastDraft     = "draft"
	BroadcastScheduled = "scheduled"
	BroadcastSending   = "sending"
	BroadcastDone      = "done"
	BroadcastCancelled = "cancelled"
)

// Broadcast is a one-off send of one message to an audience, run by a
// system-managed journey (JourneyID).
type Broadcast struct {
	ID          string
	WorkspaceID string
	Name        string
	JourneyID   string
	Status      string
	Channel     string // email, sms or webhook
	Connector   string
	Audience    string // the condition over the profile
	ScheduledAt time.Time
	CreatedBy   string
	CancelledBy string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

type broadcastRow struct {
	ID          string
	WorkspaceID string
	Name        string
	JourneyID   string
	Status      string
	Channel     string
	Connector   string
	Audience    string
	ScheduledAt time.Time
	CreatedBy   string
	CancelledBy string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

func (broadcastRow) TableName() string { return "broadcasts" }

func (r broadcastRow) domain() Broadcast {
	b := Broadcast(r)
	b.ScheduledAt = b.ScheduledAt.UTC()
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	if b.FinishedAt != nil {
		t := b.FinishedAt.UTC()
		b.FinishedAt = &t
	}
	return b
}

// CreateBroadcast inserts a broadcast (a new id; status as given, draft by
// default).
func (s *Store) CreateBroadcast(ctx context.Context, b Broadcast) (Broadcast, error) {
	now := s.nowUTC()
	row := broadcastRow{
		ID: NewID(), WorkspaceID: b.WorkspaceID, Name: b.Name, JourneyID: b.JourneyID, Status: b.Status, Channel: b.Channel,
		Connector: b.Connector, Audience: b.Audience, ScheduledAt: b.ScheduledAt.UTC(), CreatedBy: b.CreatedBy, CreatedAt: now, UpdatedAt: now,
	}
	if row.Status == "" {
		row.Status = BroadcastDraft
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Broadcast{}, dbErr(err, "creating broadcast")
	}
	return row.domain(), nil
}

// GetBroadcast returns a broadcast of the workspace.
func (s *Store) GetBroadcast(ctx context.Context, workspaceID, id string) (Broadcast, error) {
	var row broadcastRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Broadcast{}, dbErr(err, "loading broadcast "+id)
	}
	return row.domain(), nil
}

// ListBroadcasts returns a page of the workspace's broadcasts, newest
// first, and the cursor of the next page ("" at the end).
func (s *Store) ListBroadcasts(ctx context.Context, workspaceID, after string, limit int) ([]Broadcast, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []broadcastRow
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", dbErr(err, "listing broadcasts")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[len(rows)-1].ID
	}
	out := make([]Broadcast, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, next, nil
}

// SetBroadcastStatus moves a broadcast to status if it is in one of from,
// else ErrConflict (it moved meanwhile: done, cancelled). by is recorded
// as the canceller when cancelling; done and cancelled set finished_at.
func (s *Store) SetBroadcastStatus(ctx context.Context, workspaceID, id string, from []string, status, by string) (Broadcast, error) {
	now := s.nowUTC()
	set := map[string]any{"status": status, "updated_at": now}
	switch status {
	case BroadcastCancelled:
		set["cancelled_by"], set["finished_at"] = by, now
	case BroadcastDone:
		set["finished_at"] = now
	}
	res := s.db.WithContext(ctx).Model(&broadcastRow{}).Where("workspace_id = ? AND id = ? AND status IN ?", workspaceID, id, from).Updates(set)
	if res.Error != nil {
		return Broadcast{}, dbErr(res.Error, "setting broadcast status")
	}
	cur, err := s.GetBroadcast(ctx, workspaceID, id)
	if err != nil {
		return Broadcast{}, err
	}
	if res.RowsAffected == 0 {
		return cur, fmt.Errorf("broadcast %s is %s: %w", id, cur.Status, ErrConflict)
	}
	return cur, nil
}

// OutcomeCount is how many runs of a journey had a step at one node with
// an outcome, and for skips, deferrals and failures the class of reason:
// no_consent, suppressed, frequency_cap, quiet_hours, or "" for others.
type OutcomeCount struct {
	Outcome string
	Reason  string
	Count   int64
}

// NodeOutcomes counts a journey's runs by the outcomes of their steps at
// one node, with the reasons classed (OutcomeCount). A run that was
// deferred then sent counts under both. One GROUP BY over the journey's
// runs (runs_journey_idx) joined to their steps.
func (s *Store) NodeOutcomes(ctx context.Context, workspaceID, journeyID, nodeID string) ([]OutcomeCount, error) {
	reason := "json_extract(run_steps.detail, '$.reason')"
	if s.dialect == DialectPostgres {
		reason = "(run_steps.detail->>'reason')"
	}
	class := "CASE WHEN run_steps.outcome IN ('sent', 'ok') THEN '' " +
		"WHEN " + reason + " = 'frequency cap' THEN 'frequency_cap' " +
		"WHEN " + reason + " = 'quiet hours' THEN 'quiet_hours' " +
		"WHEN " + reason + " LIKE 'the profile opted out%' THEN 'no_consent' " +
		"WHEN run_steps.outcome = 'skipped' THEN 'suppressed' ELSE '' END"
	inner := s.db.WithContext(ctx).Table("run_steps").
		Select("run_steps.run_id AS run_id, run_steps.outcome AS outcome, "+class+" AS reason").
		Joins("JOIN runs ON runs.id = run_steps.run_id").
		Where("runs.workspace_id = ? AND runs.journey_id = ? AND run_steps.node_id = ?", workspaceID, journeyID, nodeID)
	var out []OutcomeCount
	err := s.db.WithContext(ctx).Table("(?) AS steps", inner).
		Select("outcome, reason, COUNT(DISTINCT run_id) AS count").Group("outcome, reason").Order("outcome, reason").Scan(&out).Error
	if err != nil {
		return nil, dbErr(err, "counting step outcomes")
	}
	return out, nil
}

// JourneyRunStatuses counts a journey's runs by status.
func (s *Store) JourneyRunStatuses(ctx context.Context, workspaceID, journeyID string) (map[string]int64, error) {
	var rows []struct {
		Status string
		Count  int64
	}
	err := s.db.WithContext(ctx).Table("runs").Select("status, COUNT(*) AS count").
		Where("workspace_id = ? AND journey_id = ?", workspaceID, journeyID).Group("status").Scan(&rows).Error
	if err != nil {
		return nil, dbErr(err, "counting runs by status")
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.Count
	}
	return out, nil
}
