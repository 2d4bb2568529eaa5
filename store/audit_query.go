package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
)

// AuditQuery narrows the audit log page and its CSV export; empty fields
// match everything. From is inclusive, To exclusive.
type AuditQuery struct {
	Action   string // exact, or a prefix ending in "." (e.g. "user.")
	ActorID  string
	TargetID string // matches the target id or type
	From, To time.Time
	BeforeID int64 // keyset pagination: entries older than this id
	Limit    int   // QueryAudit only: default 100, at most 1000
}

func (s *Store) auditScope(ctx context.Context, workspaceID string, q AuditQuery) *gorm.DB {
	db := s.db.WithContext(ctx).Model(&auditRow{}).Where("workspace_id = ?", workspaceID)
	if q.Action != "" {
		if q.Action[len(q.Action)-1] == '.' {
			db = db.Where("action LIKE ?", q.Action+"%")
		} else {
			db = db.Where("action = ?", q.Action)
		}
	}
	if q.ActorID != "" {
		db = db.Where("actor_id = ?", q.ActorID)
	}
	if q.TargetID != "" {
		db = db.Where("target_id = ? OR target_type = ?", q.TargetID, q.TargetID)
	}
	if !q.From.IsZero() {
		db = db.Where("created_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		db = db.Where("created_at < ?", q.To.UTC())
	}
	if q.BeforeID > 0 {
		db = db.Where("id < ?", q.BeforeID)
	}
	return db.Order("id DESC")
}

func (r auditRow) domain() AuditEntry {
	var summary map[string]any
	_ = json.Unmarshal([]byte(r.Summary), &summary)
	return AuditEntry{
		ID: r.ID, WorkspaceID: r.WorkspaceID, ActorType: r.ActorType, ActorID: r.ActorID, Action: r.Action,
		TargetType: r.TargetType, TargetID: r.TargetID, Summary: summary, IP: r.IP, CreatedAt: r.CreatedAt.UTC(),
	}
}

// QueryAudit returns one page of a workspace's entries, newest first.
func (s *Store) QueryAudit(ctx context.Context, workspaceID string, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	var rows []auditRow
	if err := s.auditScope(ctx, workspaceID, q).Limit(q.Limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "querying audit log")
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// EachAudit calls fn for every matching entry, newest first, reading rows
// one by one (for streamed exports); an error from fn stops it.
func (s *Store) EachAudit(ctx context.Context, workspaceID string, q AuditQuery, fn func(AuditEntry) error) error {
	rows, err := s.auditScope(ctx, workspaceID, q).Rows()
	if err != nil {
		return dbErr(err, "exporting audit log")
	}
	defer rows.Close()
	for rows.Next() {
		var r auditRow
		if err := s.db.ScanRows(rows, &r); err != nil {
			return dbErr(err, "exporting audit log")
		}
		if err := fn(r.domain()); err != nil {
			return err
		}
	}
	return dbErr(rows.Err(), "exporting audit log")
}
