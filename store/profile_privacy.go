package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ExportLimit bounds each list in a profile export (events, runs,
// deliveries); an export that hits it says so.
const ExportLimit = 10000

// ProfileExport is everything stored about one profile (right of access).
type ProfileExport struct {
	Profile    Profile
	Events     []Event
	Runs       []Run
	Steps      map[string][]RunStep // by run id
	Deliveries []Delivery
	Truncated  bool // a list reached ExportLimit
}

// ExportProfile gathers a profile's data: the profile with its consents,
// its events, its runs with their steps and its deliveries.
func (s *Store) ExportProfile(ctx context.Context, workspaceID, profileID string) (ProfileExport, error) {
	db := s.db.WithContext(ctx)
	var prow profileRow
	if err := db.Where("workspace_id = ? AND id = ?", workspaceID, profileID).Take(&prow).Error; err != nil {
		return ProfileExport{}, dbErr(err, "loading profile")
	}
	out := ProfileExport{Profile: prow.domain(), Steps: map[string][]RunStep{}}
	var events []eventRow
	if err := db.Where("profile_id = ?", profileID).Order("occurred_at, id").Limit(ExportLimit).Find(&events).Error; err != nil {
		return out, dbErr(err, "exporting events")
	}
	for _, e := range events {
		out.Events = append(out.Events, e.domain())
	}
	var runs []runRow
	if err := db.Where("profile_id = ? AND workspace_id = ?", profileID, workspaceID).Order("entered_at, id").Limit(ExportLimit).Find(&runs).Error; err != nil {
		return out, dbErr(err, "exporting runs")
	}
	out.Runs = runDomains(runs)
	for _, r := range out.Runs {
		steps, err := s.ListRunSteps(ctx, r.ID)
		if err != nil {
			return out, err
		}
		out.Steps[r.ID] = steps
	}
	var dels []deliveryRow
	if err := db.Where("profile_id = ? AND workspace_id = ?", profileID, workspaceID).Order("created_at, id").Limit(ExportLimit).Find(&dels).Error; err != nil {
		return out, dbErr(err, "exporting deliveries")
	}
	for _, d := range dels {
		out.Deliveries = append(out.Deliveries, d.domain())
	}
	out.Truncated = len(events) == ExportLimit || len(runs) == ExportLimit || len(dels) == ExportLimit
	return out, nil
}

// ErasedExternalID is the external id an erased profile's tombstone keeps:
// a hash, so the original id is gone but a repeated erasure request still
// finds the tombstone (erasure is idempotent), and a new profile may take
// the original id.
func ErasedExternalID(externalID string) string {
	sum := sha256.Sum256([]byte(externalID))
	return "erased:" + hex.EncodeToString(sum[:16])
}

// EraseProfile deletes a profile's personal data and keeps an anonymous
// tombstone, so run and delivery counts still add up: its events go, its
// attributes, consents, email, phone, time zone, locale and external id are
// cleared, its runs' entry events and state and its steps' details are
// emptied, and its deliveries lose recipient and content (their status
// stays). Cancel the profile's live runs first (the engine does). Erasing a
// tombstone again changes nothing and reports false.
func (s *Store) EraseProfile(ctx context.Context, workspaceID, profileID string) (bool, error) {
	erased := false
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var row profileRow
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, profileID).Take(&row).Error; err != nil {
			return err
		}
		if row.ErasedAt != nil {
			return nil
		}
		now := s.nowUTC()
		steps := []struct {
			sql  string
			args []any
		}{
			{"DELETE FROM events WHERE profile_id = ?", []any{profileID}},
			{"UPDATE deliveries SET recipient = '', subject = '', body = '', payload = '{}', updated_at = ? WHERE profile_id = ?", []any{now, profileID}},
			{"UPDATE run_steps SET detail = '{}' WHERE run_id IN (SELECT id FROM runs WHERE profile_id = ?)", []any{profileID}},
			{"UPDATE runs SET entry_event = '{}', state = '{}', updated_at = ? WHERE profile_id = ?", []any{now, profileID}},
			{"DELETE FROM segment_members WHERE profile_id = ?", []any{profileID}},
			{"DELETE FROM profile_changes WHERE profile_id = ?", []any{profileID}},
			{"UPDATE profiles SET external_id = ?, email = '', phone = '', timezone = '', locale = '', attributes = '{}', consent = '{}', updated_at = ?, erased_at = ? WHERE id = ?",
				[]any{ErasedExternalID(row.ExternalID), now, now, profileID}},
		}
		for _, st := range steps {
			if err := tx.Exec(st.sql, st.args...).Error; err != nil {
				return err
			}
		}
		erased = true
		return nil
	})
	return erased, dbErr(err, "erasing profile")
}

// FindProfileForErasure returns a workspace's profile by external id, or
// its tombstone if it was erased.
func (s *Store) FindProfileForErasure(ctx context.Context, workspaceID, externalID string) (Profile, error) {
	p, err := s.GetProfileByExternalID(ctx, workspaceID, externalID)
	if err == nil {
		return p, nil
	}
	return s.GetProfileByExternalID(ctx, workspaceID, ErasedExternalID(externalID))
}

// Profile imports.

// ImportError is one rejected CSV row: its line, the column and why.
type ImportError struct {
	Line   int    `json:"line"`
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// ProfileImport is a CSV import's progress and error report.
type ProfileImport struct {
	ID          string
	WorkspaceID string
	Filename    string
	Status      string // staged, running, done, failed
	Source      string // the uploaded CSV, kept until the import ends
	Mapping     map[string]string
	TotalRows   int64
	Processed   int64
	Imported    int64
	Failed      int64
	Errors      []ImportError
	Error       string
	CreatedBy   string
	StartedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

type profileImportRow struct {
	ID          string
	WorkspaceID string
	Filename    string
	Status      string
	Source      string
	Mapping     string
	TotalRows   int64
	Processed   int64
	Imported    int64
	Failed      int64
	Errors      string
	Error       string
	CreatedBy   string
	StartedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

func (profileImportRow) TableName() string { return "profile_imports" }

func (r profileImportRow) domain() ProfileImport {
	p := ProfileImport{ID: r.ID, WorkspaceID: r.WorkspaceID, Filename: r.Filename, Status: r.Status, TotalRows: r.TotalRows,
		Processed: r.Processed, Imported: r.Imported, Failed: r.Failed, Error: r.Error, CreatedBy: r.CreatedBy,
		StartedAt: r.StartedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FinishedAt: utcTime(r.FinishedAt)}
	_ = jsonUnmarshalString(r.Errors, &p.Errors)
	_ = jsonUnmarshalString(r.Mapping, &p.Mapping)
	p.Source = r.Source
	return p
}

// MaxImportErrors bounds the stored per-row error report.
const MaxImportErrors = 1000

// ImportStaged is an uploaded import waiting for its column mapping.
const ImportStaged = "staged"

// CreateProfileImport records a new import (staged with its source, or
// running).
func (s *Store) CreateProfileImport(ctx context.Context, p ProfileImport) (ProfileImport, error) {
	now := s.nowUTC()
	if p.Status == "" {
		p.Status = TriggerRunning
	}
	mapping, err := jsonMarshalString(p.Mapping)
	if err != nil {
		return ProfileImport{}, err
	}
	row := profileImportRow{ID: NewID(), WorkspaceID: p.WorkspaceID, Filename: p.Filename, Status: p.Status, Source: p.Source, Mapping: mapping,
		TotalRows: p.TotalRows, Errors: "[]", CreatedBy: p.CreatedBy, StartedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return ProfileImport{}, dbErr(err, "creating import")
	}
	return row.domain(), nil
}

// SaveProfileImport writes an import's progress and errors (at most
// MaxImportErrors are kept; Failed still counts them all).
func (s *Store) SaveProfileImport(ctx context.Context, p ProfileImport) error {
	errs := p.Errors
	if len(errs) > MaxImportErrors {
		errs = errs[:MaxImportErrors]
	}
	if errs == nil {
		errs = []ImportError{}
	}
	enc, err := jsonMarshalString(errs)
	if err != nil {
		return err
	}
	mapping, err := jsonMarshalString(p.Mapping)
	if err != nil {
		return err
	}
	now := s.nowUTC()
	u := map[string]any{"status": p.Status, "source": p.Source, "mapping": mapping, "total_rows": p.TotalRows, "processed": p.Processed, "imported": p.Imported, "failed": p.Failed,
		"errors": enc, "error": p.Error, "updated_at": now}
	if p.Status == TriggerDone || p.Status == TriggerFailed {
		u["finished_at"] = now
		u["source"] = "" // personal data: not kept once imported
	}
	res := s.db.WithContext(ctx).Model(&profileImportRow{}).Where("id = ?", p.ID).Updates(u)
	if res.Error != nil {
		return dbErr(res.Error, "saving import")
	}
	if res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "saving import "+p.ID)
	}
	return nil
}

// GetProfileImport returns one import of the workspace.
func (s *Store) GetProfileImport(ctx context.Context, workspaceID, id string) (ProfileImport, error) {
	var row profileImportRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return ProfileImport{}, dbErr(err, "loading import")
	}
	return row.domain(), nil
}

func jsonMarshalString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func jsonUnmarshalString(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// StartProfileImport moves a staged import to running with its mapping;
// only one caller wins (ErrConflict otherwise).
func (s *Store) StartProfileImport(ctx context.Context, workspaceID, id string, mapping map[string]string) (ProfileImport, error) {
	enc, err := jsonMarshalString(mapping)
	if err != nil {
		return ProfileImport{}, err
	}
	res := s.db.WithContext(ctx).Model(&profileImportRow{}).Where("workspace_id = ? AND id = ? AND status = ?", workspaceID, id, ImportStaged).
		Updates(map[string]any{"status": TriggerRunning, "mapping": enc, "updated_at": s.nowUTC()})
	if res.Error != nil {
		return ProfileImport{}, dbErr(res.Error, "starting import")
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetProfileImport(ctx, workspaceID, id); err != nil {
			return ProfileImport{}, err
		}
		return ProfileImport{}, fmt.Errorf("starting import %s: already started: %w", id, ErrConflict)
	}
	return s.GetProfileImport(ctx, workspaceID, id)
}
