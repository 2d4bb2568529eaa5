package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// IdempotencyRecord is a remembered API request keyed by its
// Idempotency-Key: a replay gets the first response back.
type IdempotencyRecord struct {
	WorkspaceID string
	Key         string
	RequestHash string
	State       string // started or done
	StatusCode  int
	Response    []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

type idempotencyRow struct {
	WorkspaceID string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	State       string
	StatusCode  int
	Response    string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func (idempotencyRow) TableName() string { return "idempotency_keys" }

func (r idempotencyRow) domain() IdempotencyRecord {
	return IdempotencyRecord{WorkspaceID: r.WorkspaceID, Key: r.Key, RequestHash: r.RequestHash, State: r.State, StatusCode: r.StatusCode,
		Response: []byte(r.Response), CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}

// BeginIdempotent claims a key for a request. It returns (nil, nil) when the
// caller now owns the key and must Complete or Abort it; otherwise the
// existing record (state started: in flight elsewhere; done: replay it).
// An expired record is taken over.
func (s *Store) BeginIdempotent(ctx context.Context, workspaceID, key, requestHash string, ttl time.Duration) (*IdempotencyRecord, error) {
	now := s.nowUTC()
	var existing *IdempotencyRecord
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var row idempotencyRow
		err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND key = ?", workspaceID, key).Take(&row).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return tx.Create(&idempotencyRow{WorkspaceID: workspaceID, Key: key, RequestHash: requestHash, State: "started",
				CreatedAt: now, ExpiresAt: now.Add(ttl)}).Error
		case err != nil:
			return err
		case !row.ExpiresAt.After(now):
			return tx.Model(&idempotencyRow{}).Where("workspace_id = ? AND key = ?", workspaceID, key).Updates(map[string]any{
				"request_hash": requestHash, "state": "started", "status_code": 0, "response": "", "created_at": now, "expires_at": now.Add(ttl),
			}).Error
		}
		rec := row.domain()
		existing = &rec
		return nil
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// Two first requests raced: the other one owns it.
		rec, gerr := s.getIdempotent(ctx, workspaceID, key)
		if gerr != nil {
			return nil, gerr
		}
		return &rec, nil
	}
	return existing, dbErr(err, "claiming idempotency key")
}

func (s *Store) getIdempotent(ctx context.Context, workspaceID, key string) (IdempotencyRecord, error) {
	var row idempotencyRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND key = ?", workspaceID, key).Take(&row).Error
	return row.domain(), dbErr(err, "loading idempotency key")
}

// CompleteIdempotent stores the response to replay.
func (s *Store) CompleteIdempotent(ctx context.Context, workspaceID, key string, status int, response []byte) error {
	err := s.db.WithContext(ctx).Model(&idempotencyRow{}).Where("workspace_id = ? AND key = ?", workspaceID, key).
		Updates(map[string]any{"state": "done", "status_code": status, "response": string(response)}).Error
	return dbErr(err, "completing idempotency key")
}

// AbortIdempotent releases a key whose request failed, so a retry can run.
func (s *Store) AbortIdempotent(ctx context.Context, workspaceID, key string) error {
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND key = ? AND state = ?", workspaceID, key, "started").Delete(&idempotencyRow{}).Error
	return dbErr(err, "releasing idempotency key")
}

// DeleteExpiredIdempotencyKeys removes records past their expiry.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", s.nowUTC()).Delete(&idempotencyRow{})
	return res.RowsAffected, dbErr(res.Error, "deleting expired idempotency keys")
}
