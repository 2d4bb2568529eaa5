package store

import (
	"context"
	"time"
)

// EngagementSample is one engagement event's time and the time zone of the
// profile that did it ("" when the profile has none).
type EngagementSample struct {
	OccurredAt time.Time
	Timezone   string
}

// ProfileEngagement returns when a profile did any of the named events at
// or after since, newest first (at most limit, capped at 1000): the
// evidence for its best engagement hour.
func (s *Store) ProfileEngagement(ctx context.Context, profileID string, names []string, since time.Time, limit int) ([]time.Time, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []time.Time
	err := s.db.WithContext(ctx).Table("events").
		Where("profile_id = ? AND name IN ? AND occurred_at >= ?", profileID, names, since.UTC()).
		Order("occurred_at DESC").Limit(limit).Pluck("occurred_at", &out).Error
	return out, dbErr(err, "listing engagement events")
}

// JourneyEngagement returns, newest first (at most limit, capped at
// 50,000), the named events done at or after since by profiles that have
// entered the journey, with each profile's time zone: the evidence for the
// best hour of the journey's audience.
func (s *Store) JourneyEngagement(ctx context.Context, journeyID string, names []string, since time.Time, limit int) ([]EngagementSample, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if limit <= 0 || limit > 50000 {
		limit = 50000
	}
	entrants := s.db.Table("runs").Select("profile_id").Where("journey_id = ?", journeyID)
	var out []EngagementSample
	err := s.db.WithContext(ctx).Table("events AS e").
		Select("e.occurred_at AS occurred_at, p.timezone AS timezone").
		Joins("JOIN profiles p ON p.id = e.profile_id").
		Where("e.profile_id IN (?) AND e.name IN ? AND e.occurred_at >= ?", entrants, names, since.UTC()).
		Order("e.occurred_at DESC").Limit(limit).Scan(&out).Error
	return out, dbErr(err, "listing the journey's engagement events")
}
