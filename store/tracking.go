package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TrackedDelivery is what an open or click hit needs to know about its
// delivery: whose it is, where in which journey it was sent, and when.
type TrackedDelivery struct {
	ID          string
	WorkspaceID string
	RunID       string
	JourneyID   string // "" for a delivery without a run
	NodeID      string
	ProfileID   string // profiles.id
	Channel     string
	Status      string
	IsTest      bool
	Erased      bool      // its profile was erased (the recipient is gone)
	SentAt      time.Time // when the delivery was written, just before the send
}

// GetTrackedDelivery loads a delivery with its run's journey, or
// ErrNotFound.
func (s *Store) GetTrackedDelivery(ctx context.Context, workspaceID, id string) (TrackedDelivery, error) {
	var row struct {
		ID, WorkspaceID, RunID, JourneyID, NodeID, ProfileID, Channel, Status, Recipient string
		IsTest                                                                           bool
		CreatedAt                                                                        time.Time
	}
	err := s.db.WithContext(ctx).Table("deliveries AS d").
		Select("d.id, d.workspace_id, d.run_id, COALESCE(r.journey_id, '') AS journey_id, d.node_id, d.profile_id, d.channel, d.status, d.recipient, d.is_test, d.created_at").
		Joins("LEFT JOIN runs r ON r.id = d.run_id").
		Where("d.workspace_id = ? AND d.id = ?", workspaceID, id).Take(&row).Error
	if err != nil {
		return TrackedDelivery{}, dbErr(err, "loading tracked delivery")
	}
	return TrackedDelivery{ID: row.ID, WorkspaceID: row.WorkspaceID, RunID: row.RunID, JourneyID: row.JourneyID, NodeID: row.NodeID,
		ProfileID: row.ProfileID, Channel: row.Channel, Status: row.Status, IsTest: row.IsTest, Erased: row.Recipient == "", SentAt: row.CreatedAt}, nil
}

// EngagementHit is one recorded open or click of a delivery.
type EngagementHit struct {
	WorkspaceID, DeliveryID, JourneyID, NodeID string
	Click                                      bool
	Link                                       int // a click's link index
	Human                                      bool
	At                                         time.Time
}

// HitResult says what a hit was the first of. First: the delivery's
// first open, or the link's first click, of the hit's kind (human or
// machine). ImpliedOpen: a human click that is the delivery's first human
// open too (its images were blocked).
type HitResult struct {
	First       bool
	ImpliedOpen bool
}

type deliveryEngagementRow struct {
	DeliveryID  string `gorm:"primaryKey"`
	WorkspaceID string
	JourneyID   string
	NodeID      string
	UpdatedAt   time.Time
}

func (deliveryEngagementRow) TableName() string { return "delivery_engagement" }

type linkClickRow struct {
	DeliveryID string `gorm:"primaryKey"`
	LinkIndex  int    `gorm:"primaryKey"`
}

func (linkClickRow) TableName() string { return "delivery_link_clicks" }

// RecordEngagement counts one hit on its delivery (and link) in one
// transaction and says whether it was the first of its kind: the unique
// opens and clicks are the rows whose first_* time is set.
func (s *Store) RecordEngagement(ctx context.Context, h EngagementHit) (HitResult, error) {
	at := h.At.UTC()
	if h.At.IsZero() {
		at = s.nowUTC()
	}
	var res HitResult
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		row := deliveryEngagementRow{DeliveryID: h.DeliveryID, WorkspaceID: h.WorkspaceID, JourneyID: h.JourneyID, NodeID: h.NodeID, UpdatedAt: at}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		first := func(table, col, where string, args ...any) (bool, error) {
			r := tx.Exec("UPDATE "+table+" SET "+col+" = ? WHERE "+where+" AND "+col+" IS NULL", append([]any{at}, args...)...)
			return r.RowsAffected == 1, r.Error
		}
		bump := func(table, col, where string, args ...any) error {
			return tx.Exec("UPDATE "+table+" SET "+col+" = "+col+" + 1 WHERE "+where, args...).Error
		}
		const byDelivery = "delivery_id = ?"
		var err error
		if !h.Click {
			if h.Human {
				if res.First, err = first("delivery_engagement", "first_opened_at", byDelivery, h.DeliveryID); err != nil {
					return err
				}
				return bump("delivery_engagement", "opens", byDelivery, h.DeliveryID)
			}
			if res.First, err = first("delivery_engagement", "machine_opened_at", byDelivery, h.DeliveryID); err != nil {
				return err
			}
			return bump("delivery_engagement", "machine_opens", byDelivery, h.DeliveryID)
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&linkClickRow{DeliveryID: h.DeliveryID, LinkIndex: h.Link}).Error; err != nil {
			return err
		}
		const byLink = "delivery_id = ? AND link_index = ?"
		if !h.Human {
			if res.First, err = first("delivery_link_clicks", "machine_clicked_at", byLink, h.DeliveryID, h.Link); err != nil {
				return err
			}
			if err := bump("delivery_link_clicks", "machine_clicks", byLink, h.DeliveryID, h.Link); err != nil {
				return err
			}
			return bump("delivery_engagement", "machine_clicks", byDelivery, h.DeliveryID)
		}
		if res.First, err = first("delivery_link_clicks", "first_clicked_at", byLink, h.DeliveryID, h.Link); err != nil {
			return err
		}
		if err := bump("delivery_link_clicks", "clicks", byLink, h.DeliveryID, h.Link); err != nil {
			return err
		}
		if _, err := first("delivery_engagement", "first_clicked_at", byDelivery, h.DeliveryID); err != nil {
			return err
		}
		if res.ImpliedOpen, err = first("delivery_engagement", "first_opened_at", byDelivery, h.DeliveryID); err != nil {
			return err
		}
		return bump("delivery_engagement", "clicks", byDelivery, h.DeliveryID)
	})
	return res, dbErr(err, "recording engagement")
}

// StepEngagement is one message step's numbers: its deliveries (tests
// excluded) and what became of them. See docs/engagement.md.
type StepEngagement struct {
	NodeID        string
	Channel       string // the node kind
	Sent          int64  // handed to the provider (sent, delivered, or accepted then bounced)
	Delivered     int64  // confirmed delivered by the provider
	Bounced       int64  // accepted, then reported failed by the provider
	Opened        int64  // deliveries with a human open (unique opens)
	Clicked       int64  // deliveries with a human click (unique clicks)
	Opens         int64  // every human open
	Clicks        int64  // every human click
	MachineOpened int64  // deliveries opened only by, or also by, machines (Apple MPP, scanners)
	Unsubscribed  int64  // recipients who unsubscribed after this message and before the next
	Converted     int64  // runs that converted after this message
}

// MessageEngagement counts a journey's message steps (version 0: every
// version; a zero period: all time, else deliveries written in it).
func (s *Store) MessageEngagement(ctx context.Context, workspaceID, journeyID string, version int, p Period) ([]StepEngagement, error) {
	accepted := "d.status IN ('sent', 'delivered', 'bounced', 'complained') OR (d.status = 'failed' AND d.provider_id <> '')"
	bounced := "d.status = 'bounced' OR (d.status = 'failed' AND d.provider_id <> '')"
	unsub := `d.channel IN ('send_email', 'send_sms') AND EXISTS (SELECT 1 FROM suppressions s
		WHERE s.workspace_id = d.workspace_id AND s.channel = (CASE WHEN d.channel = 'send_sms' THEN 'sms' ELSE 'email' END)
		AND s.reason IN ('unsubscribed', 'stop') AND s.address = LOWER(d.recipient) AND d.recipient <> '' AND s.created_at >= d.created_at
		AND NOT EXISTS (SELECT 1 FROM deliveries d2 WHERE d2.workspace_id = d.workspace_id AND d2.channel = d.channel
			AND d2.recipient = d.recipient AND d2.created_at > d.created_at AND d2.created_at <= s.created_at
			AND d2.status IN ('sent', 'delivered') AND d2.is_test = ?))`
	q := s.db.WithContext(ctx).Table("deliveries AS d").
		Select(`d.node_id AS node_id, d.channel AS channel,
			SUM(CASE WHEN `+accepted+` THEN 1 ELSE 0 END) AS sent,
			SUM(CASE WHEN d.status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
			SUM(CASE WHEN `+bounced+` THEN 1 ELSE 0 END) AS bounced,
			COUNT(e.first_opened_at) AS opened,
			COUNT(e.first_clicked_at) AS clicked,
			COALESCE(SUM(e.opens), 0) AS opens,
			COALESCE(SUM(e.clicks), 0) AS clicks,
			COUNT(e.machine_opened_at) AS machine_opened,
			SUM(CASE WHEN `+unsub+` THEN 1 ELSE 0 END) AS unsubscribed,
			SUM(CASE WHEN r.converted_at IS NOT NULL AND r.converted_at >= d.created_at THEN 1 ELSE 0 END) AS converted`, false).
		Joins("JOIN runs r ON r.id = d.run_id").
		Joins("LEFT JOIN delivery_engagement e ON e.delivery_id = d.id").
		Where("d.workspace_id = ? AND r.journey_id = ? AND d.is_test = ?", workspaceID, journeyID, false)
	if version > 0 {
		q = q.Where("r.version = ?", version)
	}
	if !p.From.IsZero() {
		q = q.Where("d.created_at >= ?", p.From.UTC())
	}
	if !p.To.IsZero() {
		q = q.Where("d.created_at < ?", p.To.UTC())
	}
	var out []StepEngagement
	err := q.Group("d.node_id, d.channel").Order("d.node_id, d.channel").Scan(&out).Error
	return out, dbErr(err, "counting message engagement")
}

// notMachine is the condition that an event's properties (column col)
// do not say "human": false, as internal/engagement records an open or
// click a machine made.
func (s *Store) notMachine(col string) string {
	if s.dialect == DialectPostgres {
		return "NOT (" + col + ` @> '{"human": false}'::jsonb)`
	}
	return "COALESCE(json_extract(" + col + ", '$.human'), 1) <> 0"
}

// HumanProfileEngagement is ProfileEngagement without the opens and clicks
// tracking recorded for machines (Apple MPP, scanners): the evidence for
// a profile's best hour.
func (s *Store) HumanProfileEngagement(ctx context.Context, profileID string, names []string, since time.Time, limit int) ([]time.Time, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []time.Time
	err := s.db.WithContext(ctx).Table("events").
		Where("profile_id = ? AND name IN ? AND occurred_at >= ? AND "+s.notMachine("properties"), profileID, names, since.UTC()).
		Order("occurred_at DESC").Limit(limit).Pluck("occurred_at", &out).Error
	return out, dbErr(err, "listing engagement events")
}

// HumanJourneyEngagement is JourneyEngagement without machines' opens and
// clicks.
func (s *Store) HumanJourneyEngagement(ctx context.Context, journeyID string, names []string, since time.Time, limit int) ([]EngagementSample, error) {
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
		Where("e.profile_id IN (?) AND e.name IN ? AND e.occurred_at >= ? AND "+s.notMachine("e.properties"), entrants, names, since.UTC()).
		Order("e.occurred_at DESC").Limit(limit).Scan(&out).Error
	return out, dbErr(err, "listing the journey's engagement events")
}
