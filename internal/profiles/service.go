package profiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
)

// ServiceStore is the storage the profile service needs.
type ServiceStore interface {
	ImportStore
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
	FindProfileForErasure(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
	ExportProfile(ctx context.Context, workspaceID, profileID string) (store.ProfileExport, error)
	EraseProfile(ctx context.Context, workspaceID, profileID string) (bool, error)
	ListProfileRuns(ctx context.Context, profileID, journeyID string, since time.Time) ([]store.Run, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
	CreateProfileImport(ctx context.Context, p store.ProfileImport) (store.ProfileImport, error)
	StartProfileImport(ctx context.Context, workspaceID, id string, mapping map[string]string) (store.ProfileImport, error)
	SaveProfileImport(ctx context.Context, p store.ProfileImport) error
	GetProfileImport(ctx context.Context, workspaceID, id string) (store.ProfileImport, error)
}

// RunCanceller ends a run through the engine (its queued work becomes a
// no-op: every task is conditional on the run's sequence).
type RunCanceller interface {
	CancelRun(ctx context.Context, workspaceID, runID, reason string) (store.Run, error)
}

// AudienceEraser queues a profile's removal from ad audiences.
type AudienceEraser func(ctx context.Context, workspaceID string, m connectors.Member) error

// Service is profile import, export and erasure.
type Service struct {
	st        ServiceStore
	runs      RunCanceller
	audiences AudienceEraser
	changed   func(ctx context.Context, p store.Profile) // segment entry; may be nil
	logger    *slog.Logger
}

// NewService returns the profile service. changed is told about every
// profile an import writes (segment triggers); audiences may be nil.
func NewService(st ServiceStore, runs RunCanceller, audiences AudienceEraser, changed func(context.Context, store.Profile), logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, runs: runs, audiences: audiences, changed: changed, logger: logger}
}

// Changed tells segment triggers a profile changed (nil-safe).
func (s *Service) Changed(ctx context.Context, p store.Profile) {
	if s.changed != nil {
		s.changed(ctx, p)
	}
}

// Export returns everything stored about a profile.
func (s *Service) Export(ctx context.Context, workspaceID, externalID string) (store.ProfileExport, error) {
	p, err := s.st.GetProfileByExternalID(ctx, workspaceID, externalID)
	if err != nil {
		return store.ProfileExport{}, err
	}
	return s.st.ExportProfile(ctx, workspaceID, p.ID)
}

// ErasureResult says what an erasure did.
type ErasureResult struct {
	ProfileID     string `json:"profile_id"`
	AlreadyErased bool   `json:"already_erased"`
	RunsCancelled int    `json:"runs_cancelled"`
}

// Erase erases a profile (right to erasure): it cancels its live runs
// through the engine, queues its removal from ad audiences (with its
// identifiers, read before they are deleted), deletes its personal data
// keeping an anonymous tombstone, and writes an audit entry. Erasing an
// erased profile again succeeds and changes nothing.
// Actor is who asks (for the audit log).
type Actor struct{ Type, ID, IP string }

func (s *Service) Erase(ctx context.Context, workspaceID, externalID string, actor Actor) (ErasureResult, error) {
	p, err := s.st.FindProfileForErasure(ctx, workspaceID, externalID)
	if err != nil {
		return ErasureResult{}, err
	}
	res := ErasureResult{ProfileID: p.ID}
	if p.ErasedAt != nil {
		res.AlreadyErased = true
		return res, nil
	}
	runs, err := s.st.ListProfileRuns(ctx, p.ID, "", time.Time{})
	if err != nil {
		return res, err
	}
	for _, r := range runs {
		if r.Final() {
			continue
		}
		_, err := s.runs.CancelRun(ctx, workspaceID, r.ID, "profile erased")
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return res, fmt.Errorf("cancelling run %s: %w", r.ID, err)
		}
		res.RunsCancelled++
	}
	if s.audiences != nil && (p.Email != "" || p.Phone != "") {
		if err := s.audiences(ctx, workspaceID, connectors.Member{ProfileID: p.ID, Email: p.Email, Phone: p.Phone}); err != nil {
			return res, fmt.Errorf("queueing removal from ad audiences: %w", err)
		}
	}
	erased, err := s.st.EraseProfile(ctx, workspaceID, p.ID)
	if err != nil {
		return res, err
	}
	res.AlreadyErased = !erased
	if _, err := s.st.AppendAudit(ctx, store.AuditEntry{WorkspaceID: workspaceID, ActorType: actor.Type, ActorID: actor.ID, IP: actor.IP,
		Action: "profile.erase", TargetType: "profile", TargetID: p.ID, Summary: map[string]any{"runs_cancelled": res.RunsCancelled}}); err != nil {
		return res, err
	}
	return res, nil
}

// Stage stores an uploaded CSV for its mapping step and returns the import
// with its headers and the first rows.
func (s *Service) Stage(ctx context.Context, workspaceID, filename, actor string, data []byte) (store.ProfileImport, []string, [][]string, error) {
	headers, rows, err := Preview(strings.NewReader(string(data)), 5)
	if err != nil {
		return store.ProfileImport{}, nil, nil, &InputError{Field: "file", Message: err.Error()}
	}
	if !utf8Valid(data) {
		return store.ProfileImport{}, nil, nil, &InputError{Field: "file", Message: "the file is not UTF-8 text: save it as CSV UTF-8"}
	}
	imp, err := s.st.CreateProfileImport(ctx, store.ProfileImport{WorkspaceID: workspaceID, Filename: filename, Status: store.ImportStaged,
		Source: string(data), Mapping: DefaultMapping(headers), CreatedBy: actor})
	return imp, headers, rows, err
}

// InputError is a bad upload or mapping, naming the field.
type InputError struct{ Field, Message string }

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// Start checks the mapping and runs a staged import in the background
// (until it ends or ctx, the service's lifetime, ends); progress and errors
// are saved on the import.
func (s *Service) Start(ctx context.Context, workspaceID, id string, m Mapping) (store.ProfileImport, error) {
	imp, err := s.st.GetProfileImport(ctx, workspaceID, id)
	if err != nil {
		return imp, err
	}
	rd, err := NewReader(strings.NewReader(imp.Source))
	if err != nil {
		return imp, &InputError{Field: "file", Message: err.Error()}
	}
	if err := rd.SetMapping(m); err != nil {
		return imp, &InputError{Field: "mapping", Message: err.Error()}
	}
	imp, err = s.st.StartProfileImport(ctx, workspaceID, id, m)
	if err != nil {
		return imp, err
	}
	go s.run(context.WithoutCancel(ctx), imp, rd)
	return imp, nil
}

func (s *Service) run(ctx context.Context, imp store.ProfileImport, rd *Reader) {
	save := func(r Result) error {
		imp.Processed, imp.Imported, imp.Failed, imp.Errors = r.Rows, r.Imported, r.Failed, r.Errors
		return s.st.SaveProfileImport(ctx, imp)
	}
	imp.TotalRows = int64(strings.Count(imp.Source, "\n")) // an estimate for the progress bar (quoted newlines count too)
	im := &Importer{Store: s.st, Changed: s.changed, Progress: save, ProgressEvery: 200}
	res, err := im.Run(ctx, imp.WorkspaceID, rd, false)
	imp.Status = store.TriggerDone
	imp.TotalRows = res.Rows
	if err != nil {
		imp.Status, imp.Error = store.TriggerFailed, err.Error()
		s.logger.Warn("profile import failed", slog.String("import_id", imp.ID), slog.String("error", err.Error()))
	}
	if err := save(res); err != nil {
		s.logger.Warn("saving profile import", slog.String("import_id", imp.ID), slog.String("error", err.Error()))
	}
}

// Get returns an import's progress and error report.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (store.ProfileImport, error) {
	return s.st.GetProfileImport(ctx, workspaceID, id)
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }
