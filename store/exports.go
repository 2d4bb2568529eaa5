package store

import (
	"context"
	"fmt"
	"time"
)

// exportPage is how many rows an export reads per query: exports page
// through the table by id (keyset), never holding more than a page.
const exportPage = 500

// Period bounds an export or a report: From inclusive, To exclusive; a
// zero bound is open.
type Period struct {
	From, To time.Time
}

// RunExport is one run with its profile's identifiers. ExternalID, Email
// and Phone are empty for an erased profile.
type RunExport struct {
	Run
	ExternalID string
	Email      string
	Phone      string
}

type runExportRow struct {
	Run        runRow `gorm:"embedded"`
	ExternalID string
	Email      string
	Phone      string
	ErasedAt   *time.Time
}

// EachJourneyRun calls fn for every run of a journey that entered within
// the period, in id order, reading exportPage runs per query.
func (s *Store) EachJourneyRun(ctx context.Context, workspaceID, journeyID string, p Period, fn func(RunExport) error) error {
	after := ""
	for {
		q := s.db.WithContext(ctx).Table("runs").
			Select("runs.*, profiles.external_id AS external_id, profiles.email AS email, profiles.phone AS phone, profiles.erased_at AS erased_at").
			Joins("LEFT JOIN profiles ON profiles.id = runs.profile_id").
			Where("runs.workspace_id = ? AND runs.journey_id = ? AND runs.id > ?", workspaceID, journeyID, after)
		if !p.From.IsZero() {
			q = q.Where("runs.entered_at >= ?", p.From.UTC())
		}
		if !p.To.IsZero() {
			q = q.Where("runs.entered_at < ?", p.To.UTC())
		}
		var rows []runExportRow
		if err := q.Order("runs.id").Limit(exportPage).Find(&rows).Error; err != nil {
			return dbErr(err, "exporting runs")
		}
		for _, r := range rows {
			e := RunExport{Run: r.Run.domain()}
			if r.ErasedAt == nil {
				e.ExternalID, e.Email, e.Phone = r.ExternalID, r.Email, r.Phone
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		if next := rows[len(rows)-1].Run.ID; next > after {
			after = next
		} else {
			return fmt.Errorf("exporting runs: the keyset did not advance past %q", after)
		}
	}
}

// EachJourneyDelivery calls fn for every message sent by a journey's runs
// and created within the period, in id order, reading exportPage
// deliveries per query. Test sends (no run) are not part of a journey.
func (s *Store) EachJourneyDelivery(ctx context.Context, workspaceID, journeyID string, p Period, fn func(Delivery) error) error {
	after := ""
	for {
		q := s.db.WithContext(ctx).Table("deliveries").Select("deliveries.*").
			Joins("JOIN runs ON runs.id = deliveries.run_id").
			Where("deliveries.workspace_id = ? AND runs.journey_id = ? AND deliveries.id > ?", workspaceID, journeyID, after)
		if !p.From.IsZero() {
			q = q.Where("deliveries.created_at >= ?", p.From.UTC())
		}
		if !p.To.IsZero() {
			q = q.Where("deliveries.created_at < ?", p.To.UTC())
		}
		var rows []deliveryRow
		if err := q.Order("deliveries.id").Limit(exportPage).Find(&rows).Error; err != nil {
			return dbErr(err, "exporting deliveries")
		}
		for _, r := range rows {
			if err := fn(r.domain()); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
