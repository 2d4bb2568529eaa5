package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// HookSecret is one sealed signing secret of a journey's webhook trigger.
type HookSecret struct {
	ID        string
	JourneyID string
	Sealed    string // JSON of the sealed value; the store never sees the secret
	CreatedAt time.Time
	ExpiresAt *time.Time
}

type hookSecretRow HookSecret

func (hookSecretRow) TableName() string { return "journey_hook_secrets" }

// Webhook schemes a hook accepts.
const (
	HookStandard = "standard" // Standard Webhooks: webhook-id/-timestamp/-signature
	HookGitHub   = "github"   // X-Hub-Signature-256: sha256=<hex HMAC of the body>
)

// SetJourneyHook gives a journey its hook key and scheme and adds a first
// secret, unless it already has a key (then ErrConflict).
func (s *Store) SetJourneyHook(ctx context.Context, workspaceID, journeyID, key, scheme, sealed string) error {
	now := s.nowUTC()
	return dbErr(s.withTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&journeyRow{}).Where("workspace_id = ? AND id = ? AND hook_key IS NULL", workspaceID, journeyID).
			Updates(map[string]any{"hook_key": key, "hook_scheme": scheme})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var row journeyRow
			if err := tx.Select("id").Where("workspace_id = ? AND id = ?", workspaceID, journeyID).Take(&row).Error; err != nil {
				return err
			}
			return fmt.Errorf("journey %s already has a hook: %w", journeyID, ErrConflict)
		}
		return tx.Create(&hookSecretRow{ID: NewID(), JourneyID: journeyID, Sealed: sealed, CreatedAt: now}).Error
	}), "setting journey hook")
}

// SetJourneyHookScheme chooses how the hook's requests are signed.
func (s *Store) SetJourneyHookScheme(ctx context.Context, workspaceID, journeyID, scheme string) error {
	res := s.db.WithContext(ctx).Model(&journeyRow{}).Where("workspace_id = ? AND id = ?", workspaceID, journeyID).Update("hook_scheme", scheme)
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "setting hook scheme")
	}
	return dbErr(res.Error, "setting hook scheme")
}

// JourneyHookScheme returns a journey's hook scheme.
func (s *Store) JourneyHookScheme(ctx context.Context, journeyID string) (string, error) {
	var scheme string
	err := s.db.WithContext(ctx).Model(&journeyRow{}).Select("hook_scheme").Where("id = ?", journeyID).Scan(&scheme).Error
	return scheme, dbErr(err, "loading hook scheme")
}

// RotateHookSecret adds a new secret; the ones before it stay valid until
// graceUntil.
func (s *Store) RotateHookSecret(ctx context.Context, journeyID, sealed string, graceUntil time.Time) error {
	now := s.nowUTC()
	return dbErr(s.withTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&hookSecretRow{}).Where("journey_id = ? AND (expires_at IS NULL OR expires_at > ?)", journeyID, graceUntil.UTC()).
			Update("expires_at", graceUntil.UTC()).Error; err != nil {
			return err
		}
		return tx.Create(&hookSecretRow{ID: NewID(), JourneyID: journeyID, Sealed: sealed, CreatedAt: now}).Error
	}), "rotating hook secret")
}

// ValidHookSecrets returns a journey's secrets that are valid now, newest first.
func (s *Store) ValidHookSecrets(ctx context.Context, journeyID string) ([]HookSecret, error) {
	var rows []hookSecretRow
	err := s.db.WithContext(ctx).Where("journey_id = ? AND (expires_at IS NULL OR expires_at > ?)", journeyID, s.nowUTC()).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "loading hook secrets")
	}
	out := make([]HookSecret, len(rows))
	for i, r := range rows {
		out[i] = HookSecret(r)
	}
	return out, nil
}

type webhookReceiptRow struct {
	JourneyID  string `gorm:"primaryKey"`
	WebhookID  string `gorm:"primaryKey"`
	RunID      string
	ReceivedAt time.Time
}

func (webhookReceiptRow) TableName() string { return "webhook_receipts" }

// ClaimWebhook records a webhook-id for a journey. If it was seen before it
// returns ErrConflict and the run id the first delivery created.
func (s *Store) ClaimWebhook(ctx context.Context, journeyID, webhookID string) (string, error) {
	err := s.db.WithContext(ctx).Create(&webhookReceiptRow{JourneyID: journeyID, WebhookID: webhookID, ReceivedAt: s.nowUTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		var row webhookReceiptRow
		if err := s.db.WithContext(ctx).Where("journey_id = ? AND webhook_id = ?", journeyID, webhookID).Take(&row).Error; err != nil {
			return "", dbErr(err, "loading webhook receipt")
		}
		return row.RunID, fmt.Errorf("webhook-id %q was already received: %w", webhookID, ErrConflict)
	}
	return "", dbErr(err, "recording webhook receipt")
}

// SetWebhookRun records the run a webhook created.
func (s *Store) SetWebhookRun(ctx context.Context, journeyID, webhookID, runID string) error {
	return dbErr(s.db.WithContext(ctx).Model(&webhookReceiptRow{}).Where("journey_id = ? AND webhook_id = ?", journeyID, webhookID).
		Update("run_id", runID).Error, "recording webhook run")
}

// ReleaseWebhook forgets a webhook-id whose request failed, so the sender's
// retry is processed.
func (s *Store) ReleaseWebhook(ctx context.Context, journeyID, webhookID string) error {
	return dbErr(s.db.WithContext(ctx).Where("journey_id = ? AND webhook_id = ? AND run_id = ''", journeyID, webhookID).
		Delete(&webhookReceiptRow{}).Error, "releasing webhook receipt")
}

// DeleteWebhookReceiptsBefore forgets webhook-ids older than t (senders stop
// retrying long before).
func (s *Store) DeleteWebhookReceiptsBefore(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("received_at < ?", t.UTC()).Delete(&webhookReceiptRow{})
	return res.RowsAffected, dbErr(res.Error, "deleting webhook receipts")
}
