package store

import (
	"context"
	"time"
)

// CountJourneyEntries returns how many runs entered each of the given
// journeys at or after since (the journeys list shows the last 7 days).
// Journeys without entries are absent from the map.
func (s *Store) CountJourneyEntries(ctx context.Context, workspaceID string, journeyIDs []string, since time.Time) (map[string]int64, error) {
	out := make(map[string]int64, len(journeyIDs))
	if len(journeyIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		JourneyID string
		N         int64
	}
	err := s.db.WithContext(ctx).Table("runs").Select("journey_id, COUNT(*) AS n").
		Where("workspace_id = ? AND journey_id IN ? AND entered_at >= ?", workspaceID, journeyIDs, since.UTC()).
		Group("journey_id").Scan(&rows).Error
	if err != nil {
		return nil, dbErr(err, "counting journey entries")
	}
	for _, r := range rows {
		out[r.JourneyID] = r.N
	}
	return out, nil
}
