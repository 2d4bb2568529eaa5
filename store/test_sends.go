package store

import (
	"context"
	"time"
)

// TestSend is one action node's message sent to a chosen address as a test
// (issue 10). Test sends live in their own table, never in deliveries, so
// analytics, frequency caps and reports never count them.
type TestSend struct {
	ID                string
	WorkspaceID       string
	JourneyID         string
	Version           int // 0: the draft
	NodeID            string
	Kind              string
	Connector         string
	Recipient         string
	ProfileExternalID string // "": a sample profile
	Subject           string
	Body              string
	Status            string // sent, delivered, failed
	ProviderID        string
	Error             string
	SentBy            string
	CreatedAt         time.Time
}

type testSendRow struct {
	ID                string `gorm:"primaryKey"`
	WorkspaceID       string
	JourneyID         string
	Version           int
	NodeID            string
	Kind              string
	Connector         string
	Recipient         string
	ProfileExternalID string
	Subject           string
	Body              string
	Status            string
	ProviderID        string
	Error             string
	SentBy            string
	CreatedAt         time.Time
}

func (testSendRow) TableName() string { return "test_sends" }

func (r testSendRow) domain() TestSend { return TestSend(r) }

// CreateTestSend records a test send.
func (s *Store) CreateTestSend(ctx context.Context, t TestSend) (TestSend, error) {
	row := testSendRow(t)
	if row.ID == "" {
		row.ID = NewID()
	}
	row.CreatedAt = s.nowUTC()
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return TestSend{}, dbErr(err, "recording test send")
	}
	return row.domain(), nil
}

// ListTestSends returns a journey's test sends, newest first.
func (s *Store) ListTestSends(ctx context.Context, workspaceID, journeyID string, limit int) ([]TestSend, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var rows []testSendRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND journey_id = ?", workspaceID, journeyID).
		Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing test sends")
	}
	out := make([]TestSend, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
