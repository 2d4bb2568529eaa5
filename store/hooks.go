package store

import (
	"context"
	"database/sql"
	"encoding/json"
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

// ClaimWebhookWithin is ClaimWebhook for a key that counts only within a
// window (a GitHub-scheme body hash): a receipt older than window no longer
// blocks it and is replaced. Concurrent claims of one key still have one
// winner: the stale receipt is deleted first, then the key is inserted,
// and the primary key refuses every insert but the first.
func (s *Store) ClaimWebhookWithin(ctx context.Context, journeyID, key string, window time.Duration) (string, error) {
	if err := s.db.WithContext(ctx).Where("journey_id = ? AND webhook_id = ? AND received_at < ?", journeyID, key, s.nowUTC().Add(-window)).
		Delete(&webhookReceiptRow{}).Error; err != nil {
		return "", dbErr(err, "expiring webhook receipt")
	}
	return s.ClaimWebhook(ctx, journeyID, key)
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

// WebhookEntry is one webhook request entering a journey: its receipt, the
// profile it maps to and the run (built by the engine, without ProfileID),
// with the ledger of the instant steps walked before the commit and the
// task that takes it on from there, as EnterRun takes them.
type WebhookEntry struct {
	WebhookID string
	Profile   ProfileUpsert // external id, email, phone only (see EnterWebhook)
	Run       Run
	Policy    EntryPolicy
	First     OutboxItem
	Steps     []RunStep
}

// DuplicateWebhookError is a webhook-id received before; RunID is the run
// the first delivery created ("" if it entered none).
type DuplicateWebhookError struct{ RunID string }

func (e *DuplicateWebhookError) Error() string {
	return "webhook-id already received: " + ErrConflict.Error()
}

func (e *DuplicateWebhookError) Unwrap() error { return ErrConflict }

// CanEnterWebhook reports whether EnterWebhook can take this request:
// without a total entry limit, and a profile of external id, email and
// phone only.
func (s *Store) CanEnterWebhook(w WebhookEntry) bool {
	return (s.group != nil || s.lite != nil) && w.Policy.TotalLimit <= 0 && len(w.Profile.Attributes) == 0 &&
		w.Profile.Timezone == nil && w.Profile.Locale == nil
}

// enterWebhookSQL records the receipt, upserts the profile (recording a
// change of its email or phone for attribute triggers, as every profile
// write does: old is the row before the statement, which every part of
// the statement sees, read by the id the upsert returns: by (workspace_id,
// external_id) a planner without statistics took the email index and
// read every profile of the workspace, see docs/performance.md) and
// enters it (the run
// with the ledger of its instant steps and its outbox item, as
// enterRunSQL), in one statement: one commit for the whole request. The receipt comes
// first, ON CONFLICT DO NOTHING, and everything else is written only if it
// was new: a webhook-id seen before writes nothing and does not fail the
// statement (which would abort a whole group commit; see batch.go). Two
// concurrent deliveries of one id: the second waits for the first's commit
// and then writes nothing. The receipt names the run the request would
// create ($8); that run exists only if the entry rules let it in.
const enterWebhookSQL = `WITH rc AS (
	INSERT INTO webhook_receipts (journey_id, webhook_id, run_id, received_at)
	VALUES ($7, $19, $8, $6)
	ON CONFLICT DO NOTHING
	RETURNING 1
), p AS (
	INSERT INTO profiles AS pr (id, workspace_id, external_id, email, phone, attributes, consent, created_at, updated_at)
	SELECT $1, $2, $3, COALESCE($4, ''), COALESCE($5, ''), '{}', '{}', $6, $6 WHERE EXISTS (SELECT 1 FROM rc)
	ON CONFLICT (workspace_id, external_id) DO UPDATE SET email = COALESCE($4, pr.email), phone = COALESCE($5, pr.phone), updated_at = $6
	RETURNING pr.id, pr.email, pr.phone
), old AS (
	SELECT o.id, o.email, o.phone FROM profiles o WHERE o.id = (SELECT id FROM p)
), ch AS (
	INSERT INTO profile_changes (workspace_id, profile_id, source, changes, created_at)
	SELECT $2, p.id, 'webhook', jsonb_strip_nulls(jsonb_build_object(
		'email', CASE WHEN COALESCE(old.email, '') <> p.email THEN jsonb_build_object('old', NULLIF(old.email, ''), 'new', NULLIF(p.email, '')) END,
		'phone', CASE WHEN COALESCE(old.phone, '') <> p.phone THEN jsonb_build_object('old', NULLIF(old.phone, ''), 'new', NULLIF(p.phone, '')) END)), $6
	FROM p LEFT JOIN old ON old.id = p.id
	WHERE COALESCE(old.email, '') <> p.email OR COALESCE(old.phone, '') <> p.phone
), jp AS (
	INSERT INTO journey_profiles AS j (journey_id, profile_id, entries, active_run_id, last_entered_at)
	SELECT $7, p.id, 1, $20, $6 FROM p
	ON CONFLICT (journey_id, profile_id) DO UPDATE SET entries = j.entries + 1, active_run_id = $20, last_entered_at = $6
	WHERE ($9 <> 'never' OR j.entries = 0)
		AND ($9 <> 'after_exit' OR j.active_run_id = '')
		AND ($10::timestamptz IS NULL OR j.last_entered_at IS NULL OR j.last_entered_at <= $10)
		AND ($11::int = 0 OR j.entries < $11::int)
	RETURNING j.profile_id
), r AS (
	INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, current_node, sequence, steps, wait_until, wait_event,
		entry_event, state, error, entered_at, updated_at, finished_at, next_due_at)
	SELECT $8, $2, $7, $12, jp.profile_id, $21, $13, $22, $23, $24, $25, $14::jsonb, '{}'::jsonb, $26, $15, $6, $27, $16 FROM jp
), st AS (
	INSERT INTO run_steps (run_id, sequence, node_id, kind, port, outcome, detail, started_at, finished_at)
	SELECT $8, s.seq, s.node, s.kind, s.port, s.outcome, s.detail::jsonb, s.st, s.fin
	FROM unnest($28::int[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::timestamptz[], $35::timestamptz[])
		AS s(seq, node, kind, port, outcome, detail, st, fin)
	WHERE EXISTS (SELECT 1 FROM jp)
), ob AS (
	INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at, visible_at)
	SELECT $8, $22, $17, $18, $36, $6, $37::timestamptz FROM jp WHERE $16::timestamptz IS NOT NULL
	ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM jp), COALESCE((SELECT id FROM p), ''), (SELECT count(*) FROM rc)`

// EnterWebhook commits a webhook request in one statement (see
// enterWebhookSQL; on SQLite the same writes in one transaction, see
// enterWebhookLite) and returns the run, or a *DuplicateWebhookError, or a
// *EntryRefusedError (the receipt is kept: the sender's retry is a
// duplicate). Callers check CanEnterWebhook first.
func (s *Store) EnterWebhook(ctx context.Context, w WebhookEntry) (Run, error) {
	now := s.nowUTC()
	row, err := entryRow(w.Run, w.First, now)
	if err != nil {
		return Run{}, err
	}
	l, err := newLedgerArrays(w.Steps)
	if err != nil {
		return Run{}, err
	}
	r := w.Run
	reentry, since, queue := entryArgs(w.Policy, w.First, now)
	var n, received int64
	var profileID string
	if s.lite != nil {
		err = s.lite.do(ctx, func(tx *sql.Tx) error {
			var err error
			n, profileID, received, err = enterWebhookLite(tx, w, row, reentry, since, queue, now)
			return err
		})
	} else {
		err = s.group.queryRow(ctx, []any{&n, &profileID, &received}, enterWebhookSQL,
			NewID(), r.WorkspaceID, w.Profile.ExternalID, w.Profile.Email, w.Profile.Phone, now,
			r.JourneyID, r.ID, reentry, since, w.Policy.PerProfileLimit,
			r.Version, row.CurrentNode, row.EntryEvent, row.EnteredAt, row.NextDueAt, w.First.TaskType, queue, w.WebhookID,
			activeRunID(row), row.Status, row.Sequence, row.Steps, row.WaitUntil, row.WaitEvent, row.Error, row.FinishedAt,
			l.seqs, l.nodes, l.kinds, l.ports, l.outcomes, l.details, l.starts, l.ends,
			w.First.ProcessAt.UTC(), visibleAt(w.First))
	}
	if err != nil {
		return Run{}, dbErr(err, "entering from webhook")
	}
	if received == 0 {
		var row webhookReceiptRow
		if err := s.db.WithContext(ctx).Where("journey_id = ? AND webhook_id = ?", r.JourneyID, w.WebhookID).Take(&row).Error; err != nil {
			return Run{}, dbErr(err, "loading webhook receipt")
		}
		if row.RunID != "" {
			// The receipt names the run its request would have created:
			// none if the entry rules refused it.
			var runs int64
			if err := s.db.WithContext(ctx).Model(&runRow{}).Where("id = ?", row.RunID).Count(&runs).Error; err != nil {
				return Run{}, dbErr(err, "loading webhook receipt")
			}
			if runs == 0 {
				row.RunID = ""
			}
		}
		return Run{}, &DuplicateWebhookError{RunID: row.RunID}
	}
	if n == 0 {
		err := s.refusal(s.db.WithContext(ctx), Run{JourneyID: r.JourneyID, ProfileID: profileID}, w.Policy, now)
		var refused *EntryRefusedError
		if errors.As(err, &refused) {
			return Run{}, refused
		}
		return Run{}, dbErr(err, "entering from webhook")
	}
	row.ProfileID = profileID
	return row.domain(), nil
}

// enterWebhookLite is enterWebhookSQL on SQLite, as statements in the
// caller's savepoint: the receipt first (a webhook-id seen before writes
// nothing), the profile and its change, the entry rules under SQLite's one
// writer, then the run, its ledger and its outbox item. It reports as the
// statement does: whether the run entered, the profile and whether the
// receipt was new.
func enterWebhookLite(tx *sql.Tx, w WebhookEntry, row runRow, reentry string, since *time.Time, queue string, now time.Time) (entered int64, profileID string, received int64, err error) {
	r := w.Run
	res, err := tx.Exec(`INSERT INTO webhook_receipts (journey_id, webhook_id, run_id, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.JourneyID, w.WebhookID, r.ID, now)
	if err != nil {
		return 0, "", 0, err
	}
	if received, err = res.RowsAffected(); err != nil || received == 0 {
		return 0, "", 0, err
	}
	var before profileRow
	err = tx.QueryRow(`SELECT id, workspace_id, email, phone, erased_at FROM profiles WHERE workspace_id = ? AND external_id = ?`,
		r.WorkspaceID, w.Profile.ExternalID).Scan(&before.ID, &before.WorkspaceID, &before.Email, &before.Phone, &before.ErasedAt)
	created := errors.Is(err, sql.ErrNoRows)
	if err != nil && !created {
		return 0, "", 0, err
	}
	after := before
	if w.Profile.Email != nil {
		after.Email = *w.Profile.Email
	}
	if w.Profile.Phone != nil {
		after.Phone = *w.Profile.Phone
	}
	if created {
		after.ID, after.WorkspaceID = NewID(), r.WorkspaceID
		_, err = tx.Exec(`INSERT INTO profiles (id, workspace_id, external_id, email, phone, attributes, consent, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, '{}', '{}', ?, ?)`, after.ID, r.WorkspaceID, w.Profile.ExternalID, after.Email, after.Phone, now, now)
	} else {
		_, err = tx.Exec(`UPDATE profiles SET email = ?, phone = ?, updated_at = ? WHERE id = ?`, after.Email, after.Phone, now, after.ID)
	}
	if err != nil {
		return 0, "", 0, err
	}
	if changes := diffProfile(before, after, nil); len(changes) > 0 && after.ErasedAt == nil {
		enc, err := json.Marshal(changes)
		if err != nil {
			return 0, "", 0, fmt.Errorf("encoding profile change: %w", err)
		}
		if _, err := tx.Exec(`INSERT INTO profile_changes (workspace_id, profile_id, source, changes, created_at) VALUES (?, ?, 'webhook', ?, ?)`,
			r.WorkspaceID, after.ID, string(enc), now); err != nil {
			return 0, "", 0, err
		}
	}
	res, err = tx.Exec(`INSERT INTO journey_profiles (journey_id, profile_id, entries, active_run_id, last_entered_at) VALUES (?, ?, 1, ?, ?)
		ON CONFLICT (journey_id, profile_id) DO UPDATE SET entries = entries + 1, active_run_id = excluded.active_run_id,
			last_entered_at = excluded.last_entered_at
		WHERE (?5 <> 'never' OR entries = 0) AND (?5 <> 'after_exit' OR active_run_id = '')
			AND (?6 IS NULL OR last_entered_at IS NULL OR last_entered_at <= ?6) AND (?7 = 0 OR entries < ?7)`,
		r.JourneyID, after.ID, activeRunID(row), now, reentry, since, w.Policy.PerProfileLimit)
	if err != nil {
		return 0, "", 0, err
	}
	if entered, err = res.RowsAffected(); err != nil || entered == 0 {
		return 0, after.ID, received, err
	}
	if _, err := tx.Exec(`INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, current_node, sequence, steps, wait_until,
		wait_event, entry_event, state, error, entered_at, updated_at, finished_at, next_due_at) VALUES `+liteValues(1, 18),
		r.ID, r.WorkspaceID, r.JourneyID, r.Version, after.ID, row.Status, row.CurrentNode, row.Sequence, row.Steps, row.WaitUntil,
		row.WaitEvent, row.EntryEvent, "{}", row.Error, row.EnteredAt, now, row.FinishedAt, row.NextDueAt); err != nil {
		return 0, "", 0, err
	}
	if err := insertStepsLite(tx, r.ID, w.Steps); err != nil {
		return 0, "", 0, err
	}
	if row.NextDueAt != nil {
		first := w.First
		first.Queue = queue
		if err := insertOutboxLite(tx, first, r.ID, row.Sequence, now); err != nil {
			return 0, "", 0, err
		}
	}
	return entered, after.ID, received, nil
}
