package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Journey statuses.
const (
	JourneyDraft    = "draft"
	JourneyLive     = "live"
	JourneyPaused   = "paused"
	JourneyArchived = "archived"
)

// Journey is a journey's editable head: its draft document and a pointer to
// the live (published) version.
type Journey struct {
	ID            string
	WorkspaceID   string
	Name          string
	Status        string
	Draft         json.RawMessage
	DraftRevision int
	LiveVersion   int // 0: never published
	HookKey       string
	CreatedBy     string
	UpdatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// JourneyVersion is a frozen, published document.
type JourneyVersion struct {
	JourneyID   string
	Version     int
	Document    json.RawMessage
	PublishedBy string
	PublishedAt time.Time
}

type journeyRow struct {
	ID            string
	WorkspaceID   string
	Name          string
	Status        string
	Draft         string
	DraftRevision int
	LiveVersion   *int
	HookKey       *string
	CreatedBy     string
	UpdatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (journeyRow) TableName() string { return "journeys" }

func (r journeyRow) domain() Journey {
	j := Journey{
		ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Status: r.Status, Draft: json.RawMessage(r.Draft),
		DraftRevision: r.DraftRevision, CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.LiveVersion != nil {
		j.LiveVersion = *r.LiveVersion
	}
	if r.HookKey != nil {
		j.HookKey = *r.HookKey
	}
	return j
}

type journeyVersionRow struct {
	JourneyID   string `gorm:"primaryKey"`
	Version     int    `gorm:"primaryKey;autoIncrement:false"`
	Document    string
	PublishedBy string
	PublishedAt time.Time
}

func (journeyVersionRow) TableName() string { return "journey_versions" }

func (r journeyVersionRow) domain() JourneyVersion {
	return JourneyVersion{JourneyID: r.JourneyID, Version: r.Version, Document: json.RawMessage(r.Document), PublishedBy: r.PublishedBy, PublishedAt: r.PublishedAt}
}

// CreateJourney inserts a draft journey (revision 1).
func (s *Store) CreateJourney(ctx context.Context, j Journey) (Journey, error) {
	now := s.nowUTC()
	row := journeyRow{
		ID: NewID(), WorkspaceID: j.WorkspaceID, Name: j.Name, Status: JourneyDraft, Draft: string(j.Draft),
		DraftRevision: 1, CreatedBy: j.CreatedBy, UpdatedBy: j.CreatedBy, CreatedAt: now, UpdatedAt: now,
	}
	if j.HookKey != "" {
		row.HookKey = &j.HookKey
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Journey{}, dbErr(err, "creating journey")
	}
	return row.domain(), nil
}

// GetJourney returns a journey of the workspace.
func (s *Store) GetJourney(ctx context.Context, workspaceID, id string) (Journey, error) {
	var row journeyRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Journey{}, dbErr(err, "loading journey "+id)
	}
	return row.domain(), nil
}

// GetJourneyByHookKey finds the journey behind a webhook URL.
func (s *Store) GetJourneyByHookKey(ctx context.Context, key string) (Journey, error) {
	var row journeyRow
	if err := s.db.WithContext(ctx).Where("hook_key = ?", key).Take(&row).Error; err != nil {
		return Journey{}, dbErr(err, "loading journey by hook key")
	}
	return row.domain(), nil
}

// JourneyFilter narrows ListJourneys.
type JourneyFilter struct {
	Status string // empty: all but archived; "all": everything
	Search string // case-insensitive substring of the name
	Limit  int
	After  string // cursor: the last id of the previous page
}

// ListJourneys returns a page of journeys, most recently created first, and
// the cursor for the next page ("" at the end).
func (s *Store) ListJourneys(ctx context.Context, workspaceID string, f JourneyFilter) ([]Journey, string, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	switch f.Status {
	case "":
		// The default list leaves out archived journeys and broadcasts'
		// journeys (listed on the broadcasts pages, docs/broadcasts.md).
		q = q.Where("status <> ?", JourneyArchived).Where("id NOT IN (SELECT journey_id FROM broadcasts)")
	case "all":
	default:
		q = q.Where("status = ?", f.Status)
	}
	if f.Search != "" {
		q = q.Where("LOWER(name) LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(f.Search))+"%")
	}
	if f.After != "" {
		q = q.Where("id < ?", f.After)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var rows []journeyRow
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", dbErr(err, "listing journeys")
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].ID
	}
	out := make([]Journey, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateDraft replaces the draft if its revision is still expectRevision and
// returns the journey with the next revision. A stale revision is
// ErrConflict: somebody else saved in between.
func (s *Store) UpdateDraft(ctx context.Context, workspaceID, id string, expectRevision int, name string, draft json.RawMessage, by string) (Journey, error) {
	res := s.db.WithContext(ctx).Model(&journeyRow{}).
		Where("workspace_id = ? AND id = ? AND draft_revision = ?", workspaceID, id, expectRevision).
		Updates(map[string]any{
			"name": name, "draft": string(draft), "draft_revision": gorm.Expr("draft_revision + 1"),
			"updated_by": by, "updated_at": s.nowUTC(),
		})
	if res.Error != nil {
		return Journey{}, dbErr(res.Error, "saving draft")
	}
	if res.RowsAffected == 0 {
		cur, err := s.GetJourney(ctx, workspaceID, id)
		if err != nil {
			return Journey{}, err
		}
		return Journey{}, fmt.Errorf("saving draft: revision %d is stale (now %d): %w", expectRevision, cur.DraftRevision, ErrConflict)
	}
	return s.GetJourney(ctx, workspaceID, id)
}

// PublishJourney freezes document as the next version and makes it live.
// A paused journey stays paused; an archived one cannot be published.
func (s *Store) PublishJourney(ctx context.Context, workspaceID, id string, document json.RawMessage, by string) (JourneyVersion, error) {
	var v journeyVersionRow
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var row journeyRow
		err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error
		if err != nil {
			return dbErr(err, "loading journey "+id)
		}
		if row.Status == JourneyArchived {
			return fmt.Errorf("journey %s is archived: %w", id, ErrConflict)
		}
		next := 1
		if row.LiveVersion != nil {
			var max int
			if err := tx.Model(&journeyVersionRow{}).Where("journey_id = ?", id).Select("COALESCE(MAX(version), 0)").Scan(&max).Error; err != nil {
				return err
			}
			next = max + 1
		}
		now := s.nowUTC()
		v = journeyVersionRow{JourneyID: id, Version: next, Document: string(document), PublishedBy: by, PublishedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return dbErr(err, "publishing journey")
		}
		status := JourneyLive
		if row.Status == JourneyPaused {
			status = JourneyPaused
		}
		return tx.Model(&journeyRow{}).Where("id = ?", id).Updates(map[string]any{
			"live_version": next, "status": status, "updated_by": by, "updated_at": now,
		}).Error
	})
	if err != nil {
		return JourneyVersion{}, dbErr(err, "publishing journey")
	}
	return v.domain(), nil
}

func lockForUpdate(dialect string) []clause.Expression {
	if dialect == DialectPostgres {
		return []clause.Expression{clause.Locking{Strength: "UPDATE"}}
	}
	return nil // SQLite: the immediate transaction already holds the write lock
}

// ListJourneyVersions returns a journey's versions, newest first, without documents.
func (s *Store) ListJourneyVersions(ctx context.Context, workspaceID, id string) ([]JourneyVersion, error) {
	if _, err := s.GetJourney(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	var rows []journeyVersionRow
	err := s.db.WithContext(ctx).Select("journey_id, version, published_by, published_at").
		Where("journey_id = ?", id).Order("version DESC").Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing versions")
	}
	out := make([]JourneyVersion, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
		out[i].Document = nil
	}
	return out, nil
}

// GetJourneyVersion returns one version with its document.
func (s *Store) GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (JourneyVersion, error) {
	if _, err := s.GetJourney(ctx, workspaceID, id); err != nil {
		return JourneyVersion{}, err
	}
	var row journeyVersionRow
	err := s.db.WithContext(ctx).Where("journey_id = ? AND version = ?", id, version).Take(&row).Error
	if err != nil {
		return JourneyVersion{}, dbErr(err, fmt.Sprintf("loading version %d of journey %s", version, id))
	}
	return row.domain(), nil
}

// SetJourneyStatus moves a journey between live, paused and archived. Only a
// published journey can be live or paused.
func (s *Store) SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (Journey, error) {
	j, err := s.GetJourney(ctx, workspaceID, id)
	if err != nil {
		return Journey{}, err
	}
	switch status {
	case JourneyLive, JourneyPaused:
		if j.LiveVersion == 0 {
			return Journey{}, fmt.Errorf("journey %s has never been published: %w", id, ErrConflict)
		}
		if j.Status == JourneyArchived {
			return Journey{}, fmt.Errorf("journey %s is archived: %w", id, ErrConflict)
		}
	case JourneyArchived:
	default:
		return Journey{}, fmt.Errorf("unknown journey status %q", status)
	}
	err = s.db.WithContext(ctx).Model(&journeyRow{}).Where("workspace_id = ? AND id = ?", workspaceID, id).
		Updates(map[string]any{"status": status, "updated_by": by, "updated_at": s.nowUTC()}).Error
	if err != nil {
		return Journey{}, dbErr(err, "setting journey status")
	}
	return s.GetJourney(ctx, workspaceID, id)
}

// SetJourneyHookKey sets (or with "" clears) the journey's webhook key.
func (s *Store) SetJourneyHookKey(ctx context.Context, workspaceID, id, key string) error {
	var v any
	if key != "" {
		v = key
	}
	res := s.db.WithContext(ctx).Model(&journeyRow{}).Where("workspace_id = ? AND id = ?", workspaceID, id).Update("hook_key", v)
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "setting hook key")
	}
	return dbErr(res.Error, "setting hook key")
}
