package store

import (
	"context"
	"time"
)

// KindOutcomeCount counts ledger steps of one node kind with one outcome.
type KindOutcomeCount struct {
	Kind    string
	Outcome string
	Count   int64
}

// ConnectorStatusCount counts deliveries through one connector in one status.
type ConnectorStatusCount struct {
	Connector string
	Status    string
	Count     int64
}

// OpsSnapshot is what /metrics reports from the database, across
// workspaces: a few GROUP BY queries, meant to be cached between scrapes.
type OpsSnapshot struct {
	RunsByStatus map[string]int64
	Steps        []KindOutcomeCount
	Deliveries   []ConnectorStatusCount
	// OldestOutbox is when the oldest item still in the outbox was
	// written (nil: the outbox is empty); its age is the relay's lag.
	OldestOutbox *time.Time
	OutboxItems  int64
}

// OpsSnapshot reads the operational counts.
func (s *Store) OpsSnapshot(ctx context.Context) (OpsSnapshot, error) {
	db := s.db.WithContext(ctx)
	out := OpsSnapshot{RunsByStatus: map[string]int64{}}
	var runs []struct {
		Status string
		Count  int64
	}
	if err := db.Table("runs").Select("status, COUNT(*) AS count").Group("status").Scan(&runs).Error; err != nil {
		return OpsSnapshot{}, dbErr(err, "counting runs by status")
	}
	for _, r := range runs {
		out.RunsByStatus[r.Status] = r.Count
	}
	if err := db.Table("run_steps").Select("kind, outcome, COUNT(*) AS count").Group("kind, outcome").
		Order("kind, outcome").Scan(&out.Steps).Error; err != nil {
		return OpsSnapshot{}, dbErr(err, "counting steps")
	}
	if err := db.Table("deliveries").Select("connector, status, COUNT(*) AS count").Group("connector, status").
		Order("connector, status").Scan(&out.Deliveries).Error; err != nil {
		return OpsSnapshot{}, dbErr(err, "counting deliveries")
	}
	var n int64
	// The oldest item by id (ids grow with time): MIN(created_at) would
	// come back as text on SQLite.
	var oldest []outboxRow
	if err := db.Model(&outboxRow{}).Select("created_at").Order("id").Limit(1).Find(&oldest).Error; err != nil {
		return OpsSnapshot{}, dbErr(err, "reading the outbox")
	}
	if err := db.Model(&outboxRow{}).Count(&n).Error; err != nil {
		return OpsSnapshot{}, dbErr(err, "counting the outbox")
	}
	if len(oldest) == 1 {
		t := oldest[0].CreatedAt
		out.OldestOutbox = &t
	}
	out.OutboxItems = n
	return out, nil
}
