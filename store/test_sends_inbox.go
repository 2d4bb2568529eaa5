package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// MaxInboxTestSends bounds ListConnectorTestSends.
const MaxInboxTestSends = 200

// ListConnectorTestSends returns the workspace's test sends through the
// named connector created at or after since, newest first, at most limit
// (MaxInboxTestSends): the Test inbox shows the sandbox's among its
// messages, marked as tests.
func (s *Store) ListConnectorTestSends(ctx context.Context, workspaceID, connector string, since time.Time, limit int) ([]TestSend, error) {
	if limit <= 0 || limit > MaxInboxTestSends {
		limit = MaxInboxTestSends
	}
	var rows []testSendRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND connector = ? AND created_at >= ?", workspaceID, connector, since.UTC()).
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

// GetTestSend returns one of the workspace's test sends, or ErrNotFound.
func (s *Store) GetTestSend(ctx context.Context, workspaceID, id string) (TestSend, error) {
	var r testSendRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return TestSend{}, ErrNotFound
	}
	if err != nil {
		return TestSend{}, dbErr(err, "reading a test send")
	}
	return r.domain(), nil
}
