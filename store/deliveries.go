package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/waymarkhq/waymark/connectors/delivery"
)

// Delivery statuses (declared in connectors/delivery, which connector
// providers share without linking the store).
const (
	DeliveryPending    = delivery.Pending    // written before the connector is called
	DeliverySent       = delivery.Sent       // the provider accepted it
	DeliveryDelivered  = delivery.Delivered  // final success (sandbox, delivery receipts)
	DeliveryFailed     = delivery.Failed     // permanent failure, reason in Error
	DeliveryUnknown    = delivery.Unknown    // may or may not have gone out; never re-sent blindly
	DeliverySuppressed = delivery.Suppressed // suppression list or consent stopped it
	DeliverySkipped    = delivery.Skipped    // frequency cap or other policy
)

// Delivery is one message (or audience change) for one step of a run, keyed
// by an idempotency key derived from (run, sequence).
type Delivery struct {
	ID             string
	WorkspaceID    string
	RunID          string
	Sequence       int
	NodeID         string
	ProfileID      string // profiles.id (not the external id)
	IdempotencyKey string
	Connector      string // connector name
	Channel        string // node kind: send_email, send_sms, send_webhook, audience_add, audience_remove
	Recipient      string
	Subject        string
	Body           string
	Payload        json.RawMessage
	Status         string
	ProviderID     string
	Error          string
	Attempts       int
	IsTest         bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

type deliveryRow struct {
	ID             string
	WorkspaceID    string
	RunID          string
	Sequence       int
	NodeID         string
	ProfileID      string
	IdempotencyKey string
	Connector      string
	ConnectorID    string
	Channel        string
	Recipient      string
	Subject        string
	Body           string
	Payload        string
	Status         string
	ProviderID     string
	Error          string
	Attempts       int
	IsTest         bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r deliveryRow) domain() Delivery {
	return Delivery{
		ID: r.ID, WorkspaceID: r.WorkspaceID, RunID: r.RunID, Sequence: r.Sequence, NodeID: r.NodeID, ProfileID: r.ProfileID,
		IdempotencyKey: r.IdempotencyKey, Connector: r.Connector, Channel: r.Channel, Recipient: r.Recipient,
		Subject: r.Subject, Body: r.Body, Payload: json.RawMessage(r.Payload), Status: r.Status, ProviderID: r.ProviderID,
		Error: r.Error, Attempts: r.Attempts, IsTest: r.IsTest, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func toDeliveryRow(d Delivery) deliveryRow {
	payload := string(d.Payload)
	if payload == "" {
		payload = "{}"
	}
	return deliveryRow{
		ID: d.ID, WorkspaceID: d.WorkspaceID, RunID: d.RunID, Sequence: d.Sequence, NodeID: d.NodeID, ProfileID: d.ProfileID,
		IdempotencyKey: d.IdempotencyKey, Connector: d.Connector, Channel: d.Channel, Recipient: d.Recipient,
		Subject: d.Subject, Body: d.Body, Payload: payload, Status: d.Status, ProviderID: d.ProviderID,
		Error: d.Error, Attempts: d.Attempts, IsTest: d.IsTest, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

// CreateDelivery inserts a delivery; a reused idempotency key is ErrConflict.
func (s *Store) CreateDelivery(ctx context.Context, d Delivery) (Delivery, error) {
	row := s.newDeliveryRow(d, s.nowUTC())
	if s.group != nil {
		if err := s.createDeliveryPG(ctx, row); err != nil {
			return Delivery{}, err
		}
		return row.domain(), nil
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Delivery{}, dbErr(err, "creating delivery")
	}
	return row.domain(), nil
}

// LeaseKept is how much shorter than asked an active run's lease may be for
// CreateStepDelivery to keep it (PostgreSQL). The engine's lease is the
// connector timeout plus 15 s, so a kept lease still covers the call and
// 5 s of commits; a second attempt that started anyway would find the
// pending delivery younger than the lease and back off.
const LeaseKept = 10 * time.Second

// CreateStepDelivery writes the pending delivery of the action a run
// stands at, before its connector is called, in the same commit as
// claiming the run for the send: the run, still at the delivery's sequence
// and neither finished nor paused, becomes active with next_due_at =
// leaseUntil. A run that moved on meanwhile (a migration, a cancel, a
// pause, another attempt) or a key already taken is ErrConflict, and
// nothing is written. A migration moves only parked runs at their expected
// sequence, so the two serialize on the run row: either the send claimed
// the run first and the run stays where it is, or the run moved first and
// nothing is sent for its old step.
//
// On PostgreSQL a run that is active and leased until leaseUntil −
// LeaseKept or later already keeps its lease (its row is locked, not
// rewritten): an entry's first task run in process starts within seconds
// of the entry that leased the run for it.
func (s *Store) CreateStepDelivery(ctx context.Context, d Delivery, leaseUntil time.Time) (Delivery, error) {
	now := s.nowUTC()
	row := s.newDeliveryRow(d, now)
	lease := leaseUntil.UTC()
	if s.group != nil {
		n, err := s.group.exec(ctx, createStepDeliverySQL, row.ID, row.WorkspaceID, row.RunID, row.Sequence, row.NodeID, row.ProfileID, row.IdempotencyKey,
			row.Connector, row.ConnectorID, row.Channel, row.Recipient, row.Subject, row.Body, row.Payload, row.Status, row.ProviderID, row.Error, row.Attempts,
			row.IsTest, row.CreatedAt, lease, lease.Add(-LeaseKept))
		if err != nil {
			return Delivery{}, dbErr(err, "creating delivery")
		}
		if n == 0 {
			return Delivery{}, fmt.Errorf("creating delivery %s: the run moved on or the key is taken: %w", row.IdempotencyKey, ErrConflict)
		}
		return row.domain(), nil
	}
	if s.lite != nil {
		if err := s.createStepDeliveryLite(ctx, row, lease); err != nil {
			if errors.Is(err, ErrConflict) {
				return Delivery{}, err
			}
			return Delivery{}, dbErr(err, "creating delivery")
		}
		return row.domain(), nil
	}
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&runRow{}).Where("id = ? AND sequence = ? AND status NOT IN ?", row.RunID, row.Sequence,
			[]string{RunCompleted, RunExited, RunFailed, RunPaused}).
			Updates(map[string]any{"status": RunActive, "next_due_at": lease, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("creating delivery %s: run %s is no longer at step %d: %w", row.IdempotencyKey, row.RunID, row.Sequence, ErrConflict)
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return Delivery{}, dbErr(err, "creating delivery")
	}
	return row.domain(), nil
}

func (s *Store) newDeliveryRow(d Delivery, now time.Time) deliveryRow {
	if d.ID == "" {
		d.ID = NewID()
	}
	if d.Status == "" {
		d.Status = DeliveryPending
	}
	d.CreatedAt, d.UpdatedAt = now, now
	return toDeliveryRow(d)
}

// GetDeliveryByKey finds a delivery by its idempotency key.
func (s *Store) GetDeliveryByKey(ctx context.Context, key string) (Delivery, error) {
	var row deliveryRow
	if err := s.db.WithContext(ctx).Where("idempotency_key = ?", key).Take(&row).Error; err != nil {
		return Delivery{}, dbErr(err, "loading delivery")
	}
	return row.domain(), nil
}

// GetDelivery returns a workspace's delivery by id.
func (s *Store) GetDelivery(ctx context.Context, workspaceID, id string) (Delivery, error) {
	var row deliveryRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Delivery{}, dbErr(err, "loading delivery")
	}
	return row.domain(), nil
}

// DeliveryUpdate is the outcome of a send attempt.
type DeliveryUpdate struct {
	Status     string
	ProviderID string
	Error      string
	Attempts   int // new attempt count (0 leaves it)
}

// UpdateDelivery records an attempt's outcome.
func (s *Store) UpdateDelivery(ctx context.Context, id string, u DeliveryUpdate) error {
	fields := map[string]any{"status": u.Status, "provider_id": u.ProviderID, "error": u.Error, "updated_at": s.nowUTC()}
	if u.Attempts > 0 {
		fields["attempts"] = u.Attempts
	}
	res := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("id = ?", id).Updates(fields)
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "updating delivery")
	}
	return dbErr(res.Error, "updating delivery")
}

// SettleLateDelivery records the outcome of an attempt whose step was
// committed by another attempt meanwhile (the run moved on). It never
// replaces what is known by what is not: it updates a pending delivery,
// or an unknown one with a success (this attempt knows it went out), and
// leaves any other outcome alone.
func (s *Store) SettleLateDelivery(ctx context.Context, id string, u DeliveryUpdate) error {
	fields := map[string]any{"status": u.Status, "provider_id": u.ProviderID, "error": u.Error, "updated_at": s.nowUTC()}
	if u.Attempts > 0 {
		fields["attempts"] = u.Attempts
	}
	q := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("id = ?", id)
	if u.Status == DeliverySent || u.Status == DeliveryDelivered {
		q = q.Where("status IN ?", []string{DeliveryPending, DeliveryUnknown})
	} else {
		q = q.Where("status = ?", DeliveryPending)
	}
	return dbErr(q.Updates(fields).Error, "updating delivery")
}

// DeliveryFilter narrows ListDeliveries; empty fields match everything.
type DeliveryFilter struct {
	Connector string // connector name, e.g. "sandbox"
	RunID     string
	ProfileID string // profiles.id
	Status    string
	Limit     int    // default 50, at most 500
	After     string // cursor: the last id of the previous page
}

// ListDeliveries returns a page of a workspace's deliveries, newest first,
// and the cursor of the next page ("" at the end).
func (s *Store) ListDeliveries(ctx context.Context, workspaceID string, f DeliveryFilter) ([]Delivery, string, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if f.Connector != "" {
		q = q.Where("connector = ?", f.Connector)
	}
	if f.RunID != "" {
		q = q.Where("run_id = ?", f.RunID)
	}
	if f.ProfileID != "" {
		q = q.Where("profile_id = ?", f.ProfileID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.After != "" {
		q = q.Where("id < ?", f.After)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var rows []deliveryRow
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", dbErr(err, "listing deliveries")
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].ID
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, next, nil
}

// CountDeliveriesSince counts a profile's messages on a channel (node kind)
// created at or after since, tests and skipped ones excluded: what frequency
// caps count.
func (s *Store) CountDeliveriesSince(ctx context.Context, profileID, channel string, since time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&deliveryRow{}).
		Where("profile_id = ? AND channel = ? AND created_at >= ? AND is_test = ? AND status NOT IN ?", profileID, channel, since.UTC(), false,
			[]string{DeliverySkipped, DeliverySuppressed, DeliveryFailed}).
		Count(&n).Error
	return int(n), dbErr(err, "counting deliveries")
}

// ClaimDelivery marks a pending delivery as being attempted again, if it is
// still pending after `attempts` attempts: a compare-and-set, so of two
// workers retrying one step only one sends.
// MarkDeliveryUnsent records on a pending delivery, still at the attempt
// that wrote it and with no error yet, that this attempt never called the
// provider (its commit's outcome was unknown, so it stopped before the
// send). The next attempt then claims it and sends, instead of taking it
// for a send that may have gone out. It does nothing once another attempt
// claimed or settled the delivery.
func (s *Store) MarkDeliveryUnsent(ctx context.Context, id, reason string) error {
	res := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("id = ? AND status = ? AND attempts = 1 AND error = ''", id, DeliveryPending).
		Updates(map[string]any{"error": reason, "updated_at": s.nowUTC()})
	return dbErr(res.Error, "marking delivery unsent")
}

func (s *Store) ClaimDelivery(ctx context.Context, id string, attempts int) (bool, error) {
	res := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("id = ? AND status = ? AND attempts = ?", id, DeliveryPending, attempts).
		Updates(map[string]any{"attempts": attempts + 1, "error": "", "updated_at": s.nowUTC()})
	return res.RowsAffected == 1, dbErr(res.Error, "claiming delivery")
}
