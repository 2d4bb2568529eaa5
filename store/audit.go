package store

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry records who changed what. The log is append-only: the store has
// no update or delete for it.
type AuditEntry struct {
	ID          int64
	WorkspaceID string
	ActorType   string // user, api_key, system
	ActorID     string
	Action      string // e.g. journey.publish
	TargetType  string
	TargetID    string
	Summary     map[string]any
	IP          string
	CreatedAt   time.Time
}

type auditRow struct {
	ID          int64 `gorm:"primaryKey"`
	WorkspaceID string
	ActorType   string
	ActorID     string
	Action      string
	TargetType  string
	TargetID    string
	Summary     string
	IP          string
	CreatedAt   time.Time
}

func (auditRow) TableName() string { return "audit_log" }

// AppendAudit writes one entry.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	summary := e.Summary
	if summary == nil {
		summary = map[string]any{}
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return AuditEntry{}, err
	}
	row := auditRow{
		WorkspaceID: e.WorkspaceID, ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, Summary: string(b), IP: e.IP, CreatedAt: s.nowUTC(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return AuditEntry{}, dbErr(err, "appending audit entry")
	}
	e.ID, e.CreatedAt, e.Summary = row.ID, row.CreatedAt, summary
	return e, nil
}

// AuditFilter narrows ListAudit; empty fields match everything.
type AuditFilter struct {
	Action   string
	TargetID string
	Limit    int
}

// ListAudit returns a workspace's entries, newest first.
func (s *Store) ListAudit(ctx context.Context, workspaceID string, f AuditFilter) ([]AuditEntry, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var rows []auditRow
	if err := q.Order("id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing audit log")
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		var summary map[string]any
		_ = json.Unmarshal([]byte(r.Summary), &summary)
		out[i] = AuditEntry{
			ID: r.ID, WorkspaceID: r.WorkspaceID, ActorType: r.ActorType, ActorID: r.ActorID, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, Summary: summary, IP: r.IP, CreatedAt: r.CreatedAt,
		}
	}
	return out, nil
}
