package store

import "context"

// MaxRecentProfiles bounds RecentProfiles.
const MaxRecentProfiles = 500

// RecentProfiles returns up to limit (at most MaxRecentProfiles) of the
// workspace's newest profiles, newest first (profile ids are UUIDv7, so
// their order is the order of creation), erased profiles left out. The
// editor checks which attributes templates read against them.
func (s *Store) RecentProfiles(ctx context.Context, workspaceID string, limit int) ([]Profile, error) {
	if limit <= 0 || limit > MaxRecentProfiles {
		limit = MaxRecentProfiles
	}
	var rows []profileRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND erased_at IS NULL", workspaceID).
		Order("id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing recent profiles")
	}
	out := make([]Profile, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
