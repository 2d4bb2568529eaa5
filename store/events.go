package store

import (
	"context"
	"time"
)

// Event is something a profile did.
type Event struct {
	ID             string
	WorkspaceID    string
	ProfileID      string // profiles.id
	Name           string
	Properties     map[string]any
	OccurredAt     time.Time
	ReceivedAt     time.Time
	IdempotencyKey string // "" when none
}

type eventRow struct {
	ID             string
	WorkspaceID    string
	ProfileID      string
	Name           string
	Properties     string
	OccurredAt     time.Time
	ReceivedAt     time.Time
	IdempotencyKey *string
}

func (eventRow) TableName() string { return "events" }

func (r eventRow) domain() Event {
	e := Event{ID: r.ID, WorkspaceID: r.WorkspaceID, ProfileID: r.ProfileID, Name: r.Name, Properties: decodeObject(r.Properties),
		OccurredAt: r.OccurredAt, ReceivedAt: r.ReceivedAt}
	if r.IdempotencyKey != nil {
		e.IdempotencyKey = *r.IdempotencyKey
	}
	return e
}

// InsertEvent stores an event; a reused idempotency key is ErrConflict.
func (s *Store) InsertEvent(ctx context.Context, e Event) (Event, error) {
	props, err := encodeObject(e.Properties)
	if err != nil {
		return Event{}, err
	}
	now := s.nowUTC()
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now
	}
	row := eventRow{ID: e.ID, WorkspaceID: e.WorkspaceID, ProfileID: e.ProfileID, Name: e.Name, Properties: props,
		OccurredAt: e.OccurredAt.UTC(), ReceivedAt: now}
	if e.IdempotencyKey != "" {
		row.IdempotencyKey = &e.IdempotencyKey
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Event{}, dbErr(err, "storing event")
	}
	return row.domain(), nil
}

// ListProfileEvents returns a profile's events with this name that occurred
// at or after since, newest first (at most limit).
func (s *Store) ListProfileEvents(ctx context.Context, profileID, name string, since time.Time, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []eventRow
	err := s.db.WithContext(ctx).Where("profile_id = ? AND name = ? AND occurred_at >= ?", profileID, name, since.UTC()).
		Order("occurred_at DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing events")
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
