package store

import (
	"context"
	"strings"
)

// ListRecentProfileEvents returns a profile's latest events of any name,
// newest first (the profile page).
func (s *Store) ListRecentProfileEvents(ctx context.Context, profileID string, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []eventRow
	err := s.db.WithContext(ctx).Where("profile_id = ?", profileID).Order("occurred_at DESC, id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing events")
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// FindProfilesByEmail returns a workspace's (non-erased) profiles with this
// email address, compared case-insensitively (addresses are stored in
// lower case).
func (s *Store) FindProfilesByEmail(ctx context.Context, workspaceID, email string, limit int) ([]Profile, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var rows []profileRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND email = ? AND erased_at IS NULL", workspaceID, strings.ToLower(strings.TrimSpace(email))).
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "finding profiles by email")
	}
	out := make([]Profile, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
