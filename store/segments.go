package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ListProfilesPage returns up to limit live (not erased) profiles of a
// workspace with ids greater than afterID, in id order: keyset paging, so a
// sweep over millions of profiles holds one page at a time.
func (s *Store) ListProfilesPage(ctx context.Context, workspaceID, afterID string, limit int) ([]Profile, error) {
	if limit <= 0 || limit > 5000 {
		limit = 1000
	}
	var rows []profileRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id > ? AND erased_at IS NULL", workspaceID, afterID).
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing profiles")
	}
	out := make([]Profile, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// AddSegmentMembers records that these profiles match a journey's segment
// trigger now, and returns the ones that did not before: the profiles that
// start matching, which enter. Concurrent callers cannot both see a profile
// as new (the primary key decides).
func (s *Store) AddSegmentMembers(ctx context.Context, journeyID, nodeID string, profileIDs []string) ([]string, error) {
	if len(profileIDs) == 0 {
		return nil, nil
	}
	now := s.nowUTC()
	var added []string
	for start := 0; start < len(profileIDs); start += 1000 {
		chunk := profileIDs[start:min(start+1000, len(profileIDs))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO segment_members (journey_id, node_id, profile_id, matched_at) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?)")
			args = append(args, journeyID, nodeID, id, now)
		}
		sb.WriteString(" ON CONFLICT DO NOTHING RETURNING profile_id")
		rows, err := s.db.WithContext(ctx).Raw(sb.String(), args...).Rows()
		if err != nil {
			return added, dbErr(err, "recording segment members")
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return added, dbErr(err, "recording segment members")
			}
			added = append(added, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return added, dbErr(err, "recording segment members")
		}
	}
	return added, nil
}

// RemoveSegmentMembers forgets that these profiles match (they stopped
// matching): the next time they match they enter again, subject to the
// journey's re-entry rules.
func (s *Store) RemoveSegmentMembers(ctx context.Context, journeyID, nodeID string, profileIDs []string) (int64, error) {
	var n int64
	for start := 0; start < len(profileIDs); start += 1000 {
		chunk := profileIDs[start:min(start+1000, len(profileIDs))]
		res := s.db.WithContext(ctx).Exec("DELETE FROM segment_members WHERE journey_id = ? AND node_id = ? AND profile_id IN ?", journeyID, nodeID, chunk)
		if res.Error != nil {
			return n, dbErr(res.Error, "removing segment members")
		}
		n += res.RowsAffected
	}
	return n, nil
}

// CountSegmentMembers counts the profiles matching a segment trigger as of
// their last evaluation.
func (s *Store) CountSegmentMembers(ctx context.Context, journeyID, nodeID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("segment_members").Where("journey_id = ? AND node_id = ?", journeyID, nodeID).Count(&n).Error
	return n, dbErr(err, "counting segment members")
}

// Trigger run kinds and statuses.
const (
	TriggerSweep    = "sweep"
	TriggerSchedule = "schedule"

	TriggerRunning = "running"
	TriggerDone    = "done"
	TriggerFailed  = "failed"
)

// TriggerRun is one segment sweep or one schedule tick of a journey's
// trigger: its progress, and (by its unique tick) proof that it ran.
type TriggerRun struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"-"`
	JourneyID   string     `json:"journey_id"`
	NodeID      string     `json:"node_id"`
	Kind        string     `json:"kind"`
	TickAt      time.Time  `json:"tick_at"`
	Status      string     `json:"status"`
	Cursor      string     `json:"-"`
	Scanned     int64      `json:"scanned"`
	Matched     int64      `json:"matched"`
	Entered     int64      `json:"entered"`
	Refused     int64      `json:"refused"`
	Error       string     `json:"error,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

type triggerRunRow struct {
	ID          string
	WorkspaceID string
	JourneyID   string
	NodeID      string
	Kind        string
	TickAt      time.Time
	Status      string
	Cursor      string
	Scanned     int64
	Matched     int64
	Entered     int64
	Refused     int64
	Error       string
	StartedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

func (triggerRunRow) TableName() string { return "trigger_runs" }

func (r triggerRunRow) domain() TriggerRun {
	return TriggerRun{ID: r.ID, WorkspaceID: r.WorkspaceID, JourneyID: r.JourneyID, NodeID: r.NodeID, Kind: r.Kind, TickAt: r.TickAt.UTC(),
		Status: r.Status, Cursor: r.Cursor, Scanned: r.Scanned, Matched: r.Matched, Entered: r.Entered, Refused: r.Refused,
		Error: r.Error, StartedAt: r.StartedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FinishedAt: utcTime(r.FinishedAt)}
}

func utcTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ClaimTriggerRun records the start of a tick (journey, node, tick time).
// If the tick was recorded before, it returns that record and false: a
// finished tick is never run again, and a running one (its leader died)
// resumes from its cursor.
func (s *Store) ClaimTriggerRun(ctx context.Context, r TriggerRun) (TriggerRun, bool, error) {
	now := s.nowUTC()
	row := triggerRunRow{ID: NewID(), WorkspaceID: r.WorkspaceID, JourneyID: r.JourneyID, NodeID: r.NodeID, Kind: r.Kind,
		TickAt: r.TickAt.UTC().Truncate(time.Second), Status: TriggerRunning, StartedAt: now, UpdatedAt: now}
	err := s.db.WithContext(ctx).Create(&row).Error
	if err == nil {
		return row.domain(), true, nil
	}
	if !isUniqueViolation(err) && !errors.Is(err, gorm.ErrDuplicatedKey) {
		return TriggerRun{}, false, dbErr(err, "claiming trigger tick")
	}
	var old triggerRunRow
	if err := s.db.WithContext(ctx).Where("journey_id = ? AND node_id = ? AND tick_at = ?", r.JourneyID, r.NodeID, row.TickAt).Take(&old).Error; err != nil {
		return TriggerRun{}, false, dbErr(err, "loading trigger tick")
	}
	return old.domain(), false, nil
}

// SaveTriggerRun writes a tick's progress (cursor, counters, status).
func (s *Store) SaveTriggerRun(ctx context.Context, r TriggerRun) error {
	now := s.nowUTC()
	u := map[string]any{"cursor": r.Cursor, "scanned": r.Scanned, "matched": r.Matched, "entered": r.Entered, "refused": r.Refused,
		"status": r.Status, "error": r.Error, "updated_at": now}
	if r.Status != TriggerRunning {
		u["finished_at"] = now
	}
	res := s.db.WithContext(ctx).Model(&triggerRunRow{}).Where("id = ?", r.ID).Updates(u)
	if res.Error != nil {
		return dbErr(res.Error, "saving trigger progress")
	}
	if res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "saving trigger progress "+r.ID)
	}
	return nil
}

// ListTriggerRuns returns a journey's latest sweeps and ticks, newest first.
func (s *Store) ListTriggerRuns(ctx context.Context, journeyID string, limit int) ([]TriggerRun, error) {
	if limit <= 0 || limit > 200 {
		limit = 20
	}
	var rows []triggerRunRow
	if err := s.db.WithContext(ctx).Where("journey_id = ?", journeyID).Order("tick_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing trigger runs")
	}
	out := make([]TriggerRun, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// LatestTriggerRun returns the most recent tick of a journey's trigger node,
// or ErrNotFound.
func (s *Store) LatestTriggerRun(ctx context.Context, journeyID, nodeID string) (TriggerRun, error) {
	var row triggerRunRow
	if err := s.db.WithContext(ctx).Where("journey_id = ? AND node_id = ?", journeyID, nodeID).Order("tick_at DESC").Take(&row).Error; err != nil {
		return TriggerRun{}, dbErr(err, "loading latest trigger run")
	}
	return row.domain(), nil
}
