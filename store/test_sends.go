package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
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
	// ActorID is who sent it, for the quota: "user:<id>" or
	// "api_key:<id>" (SentBy is the name shown).
	ActorID   string
	CreatedAt time.Time
}

// TestSendSending is a test send's status while its message is in flight:
// the row reserves its place in the quota before the connector is called.
const TestSendSending = "sending"

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
	ActorID           string
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

// TestSendQuota bounds test sends over sliding windows: per actor (a user
// or an API key) and per workspace. A test send can reach any address, so
// a quota keeps a leaked key or a compromised account from turning test
// sends into a spam or SMS-pumping channel (F11 of the 2026-12 review).
// A zero limit or window turns that bound off.
type TestSendQuota struct {
	PerActor        int // test sends per actor within ActorWindow
	ActorWindow     time.Duration
	PerWorkspace    int // test sends per workspace within WorkspaceWindow
	WorkspaceWindow time.Duration
}

// DefaultTestSendQuota: 20 test sends per actor in 10 minutes (a person
// checking a journey's messages one by one stays well under it) and 100
// per workspace in an hour (several people, or several keys, together).
var DefaultTestSendQuota = TestSendQuota{PerActor: 20, ActorWindow: 10 * time.Minute, PerWorkspace: 100, WorkspaceWindow: time.Hour}

// ErrTestSendQuota matches every *TestSendQuotaError.
var ErrTestSendQuota = errors.New("test-send quota reached")

// TestSendQuotaError says which limit a test send hit and when a place
// frees up.
type TestSendQuotaError struct {
	Scope      string // "actor" or "workspace"
	Limit      int
	Window     time.Duration
	RetryAfter time.Duration // until the oldest counted send leaves the window
}

func (e *TestSendQuotaError) Error() string {
	who := "for this user or API key"
	if e.Scope == "workspace" {
		who = "for the workspace"
	}
	return fmt.Sprintf("%s: at most %d test sends in %s %s; try again in %s",
		ErrTestSendQuota, e.Limit, e.Window, who, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrTestSendQuota) true.
func (e *TestSendQuotaError) Is(target error) bool { return target == ErrTestSendQuota }

// ReserveTestSend records a test send with status "sending" if the quota
// has room for it, and answers a *TestSendQuotaError otherwise. The count
// and the insert are one transaction that holds a per-workspace lock (an
// advisory lock on PostgreSQL, the write lock on SQLite), so concurrent
// requests, in one process or several, never get past the limit together.
// FinishTestSend records the outcome; ReleaseTestSend gives the place back
// when nothing was sent.
func (s *Store) ReserveTestSend(ctx context.Context, t TestSend, q TestSendQuota) (TestSend, error) {
	row := testSendRow(t)
	if row.ID == "" {
		row.ID = NewID()
	}
	row.Status = TestSendSending
	now := s.nowUTC()
	row.CreatedAt = now
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		if s.dialect == DialectPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "waymark.test_sends:"+row.WorkspaceID).Error; err != nil {
				return err
			}
		}
		scoped := func(window time.Duration, actor bool) *gorm.DB {
			db := tx.Model(&testSendRow{}).Where("workspace_id = ? AND created_at > ?", row.WorkspaceID, now.Add(-window))
			if actor {
				db = db.Where("actor_id = ?", row.ActorID)
			}
			return db
		}
		check := func(scope string, limit int, window time.Duration, actor bool) error {
			if limit <= 0 || window <= 0 {
				return nil
			}
			var n int64
			if err := scoped(window, actor).Count(&n).Error; err != nil {
				return err
			}
			if n < int64(limit) {
				return nil
			}
			// A place frees up when the send that puts the count over
			// limit-1 leaves the window.
			var oldest testSendRow
			if err := scoped(window, actor).Select("created_at").Order("created_at ASC").Offset(int(n) - limit).Take(&oldest).Error; err != nil {
				return err
			}
			wait := oldest.CreatedAt.Add(window).Sub(now)
			if wait < time.Second {
				wait = time.Second
			}
			return &TestSendQuotaError{Scope: scope, Limit: limit, Window: window, RetryAfter: wait}
		}
		if row.ActorID != "" {
			if err := check("actor", q.PerActor, q.ActorWindow, true); err != nil {
				return err
			}
		}
		if err := check("workspace", q.PerWorkspace, q.WorkspaceWindow, false); err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	var qe *TestSendQuotaError
	if errors.As(err, &qe) {
		return TestSend{}, qe
	}
	if err != nil {
		return TestSend{}, dbErr(err, "reserving test send")
	}
	return row.domain(), nil
}

// FinishTestSend records a reserved test send's outcome: what was sent,
// its status and the provider's answer. The reservation's time stays.
func (s *Store) FinishTestSend(ctx context.Context, t TestSend) (TestSend, error) {
	res := s.db.WithContext(ctx).Model(&testSendRow{}).Where("workspace_id = ? AND id = ?", t.WorkspaceID, t.ID).Updates(map[string]any{
		"connector": t.Connector, "recipient": t.Recipient, "subject": t.Subject, "body": t.Body,
		"status": t.Status, "provider_id": t.ProviderID, "error": t.Error})
	if res.Error != nil {
		return TestSend{}, dbErr(res.Error, "recording test send")
	}
	if res.RowsAffected == 0 {
		return TestSend{}, fmt.Errorf("recording test send %s: %w", t.ID, ErrNotFound)
	}
	var row testSendRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", t.WorkspaceID, t.ID).Take(&row).Error
	return row.domain(), dbErr(err, "recording test send")
}

// ReleaseTestSend removes a reservation whose message was never handed to
// a connector (the request turned out to be invalid), so it does not count.
func (s *Store) ReleaseTestSend(ctx context.Context, workspaceID, id string) error {
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ? AND status = ?", workspaceID, id, TestSendSending).
		Delete(&testSendRow{}).Error
	return dbErr(err, "releasing test send")
}
