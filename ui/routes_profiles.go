package ui

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// profileStore is what profile import, export and erasure need.
type profileStore interface {
	ListTriggerRuns(ctx context.Context, journeyID string, limit int) ([]store.TriggerRun, error)
}

// ProfileAdmin is profile import, export and erasure as the HTTP layer uses them.
type ProfileAdmin interface {
	Export(ctx context.Context, workspaceID, externalID string) (store.ProfileExport, error)
	Erase(ctx context.Context, workspaceID, externalID string, actor profiles.Actor) (profiles.ErasureResult, error)
	Stage(ctx context.Context, workspaceID, filename, actor string, data []byte) (store.ProfileImport, []string, [][]string, error)
	Start(ctx context.Context, workspaceID, id string, m profiles.Mapping) (store.ProfileImport, error)
	Get(ctx context.Context, workspaceID, id string) (store.ProfileImport, error)
	// Changed evaluates segment triggers for a profile just written.
	Changed(ctx context.Context, p store.Profile)
	// WithdrawAdConsent queues the removal from ad audiences that a consent
	// write calls for; it runs before the write.
	WithdrawAdConsent(ctx context.Context, workspaceID, externalID string, consent map[string]any) (bool, error)
}

// profileChanged tells segment triggers about a profile write (a no-op
// without a profile service).
func (s *Server) profileChanged(ctx context.Context, p store.Profile) {
	if s.profiles != nil {
		s.profiles.Changed(ctx, p)
	}
}

// profileAPIRoutes registers profile export/erasure and import endpoints under /api/v1.
func (s *Server) profileAPIRoutes(api fiber.Router) {
	api.Get("/journeys/:id/triggers", requireScope(auth.ScopeJourneysRead), s.apiJourneyTriggers)
	if s.profiles == nil {
		return
	}
	api.Get("/profiles/:external_id/export", requireScope(auth.ScopeProfilesRead), s.apiProfileExport)
	api.Delete("/profiles/:external_id", requireScope(auth.ScopeProfilesWrite), s.apiProfileErase)
}

// apiJourneyTriggers: GET /api/v1/journeys/{id}/triggers — the latest
// segment sweeps and schedule ticks with their progress.
func (s *Server) apiJourneyTriggers(c *fiber.Ctx) error {
	j, err := s.store.GetJourney(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("journey")
	}
	if err != nil {
		return err
	}
	runs, err := s.store.ListTriggerRuns(c.UserContext(), j.ID, 20)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []store.TriggerRun{}
	}
	return c.JSON(fiber.Map{"trigger_runs": runs})
}

type exportStep struct {
	Sequence   int            `json:"sequence"`
	NodeID     string         `json:"node_id"`
	Kind       string         `json:"kind"`
	Port       string         `json:"port,omitempty"`
	Outcome    string         `json:"outcome"`
	Detail     map[string]any `json:"detail,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
}

// apiProfileExport: GET /api/v1/profiles/{external_id}/export
func (s *Server) apiProfileExport(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	x, err := s.profiles.Export(c.UserContext(), ws, ext)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	events := make([]fiber.Map, 0, len(x.Events))
	for _, e := range x.Events {
		events = append(events, fiber.Map{"id": e.ID, "name": e.Name, "properties": e.Properties, "occurred_at": e.OccurredAt, "received_at": e.ReceivedAt})
	}
	runs := make([]fiber.Map, 0, len(x.Runs))
	for _, r := range x.Runs {
		steps := make([]exportStep, 0, len(x.Steps[r.ID]))
		for _, st := range x.Steps[r.ID] {
			steps = append(steps, exportStep{st.Sequence, st.NodeID, st.Kind, st.Port, st.Outcome, st.Detail, st.StartedAt, st.FinishedAt})
		}
		runs = append(runs, fiber.Map{"id": r.ID, "journey_id": r.JourneyID, "version": r.Version, "status": r.Status, "current_node": r.CurrentNode,
			"entered_at": r.EnteredAt, "finished_at": r.FinishedAt, "error": r.Error, "steps": steps})
	}
	dels := make([]fiber.Map, 0, len(x.Deliveries))
	for _, d := range x.Deliveries {
		dels = append(dels, fiber.Map{"id": d.ID, "run_id": d.RunID, "node_id": d.NodeID, "channel": d.Channel, "connector": d.Connector,
			"recipient": d.Recipient, "subject": d.Subject, "body": d.Body, "status": d.Status, "error": d.Error, "created_at": d.CreatedAt})
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="profile-export.json"`)
	return c.JSON(fiber.Map{"profile": httpkit.ToProfileJSON(x.Profile), "consent": x.Profile.Consent, "events": events, "runs": runs,
		"deliveries": dels, "truncated": x.Truncated, "exported_at": s.cfg.Now().UTC()})
}

// apiProfileErase: DELETE /api/v1/profiles/{external_id} — right to
// erasure; idempotent (an erased profile answers 200 again).
func (s *Server) apiProfileErase(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	res, err := s.profiles.Erase(c.UserContext(), k.WorkspaceID, ext, profiles.Actor{Type: "api_key", ID: k.ID, IP: c.IP()})
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"erased": true, "already_erased": res.AlreadyErased, "runs_cancelled": res.RunsCancelled})
}

// profileUIRoutes registers the profile import pages (signed-in users, CSRF).
func (s *Server) profileUIRoutes(r fiber.Router) {
	if s.profiles == nil {
		return
	}
	r.Get("/profiles/import", s.requireUser, s.requireEditor, s.importForm)
	r.Post("/profiles/import", s.requireUser, s.requireEditor, s.importUpload)
	r.Post("/profiles/import/:id/start", s.requireUser, s.requireEditor, s.importStart)
	r.Get("/profiles/import/:id", s.requireUser, s.requireEditor, s.importShow)
	r.Get("/profiles/import/:id/progress", s.requireUser, s.requireEditor, s.importProgress)
}

func (s *Server) importPage(c *fiber.Ctx, title string) views.Page {
	p := s.page(c, title)
	p.Scripts = []string{s.assetURLs["vendor/htmx.min.js"]}
	return p
}

func (s *Server) importForm(c *fiber.Ctx) error {
	return render(c, views.ProfileImportUpload(s.importPage(c, "Import profiles"), ""))
}

func (s *Server) importUpload(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	fh, err := c.FormFile("file")
	if err != nil {
		return s.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportUpload(s.importPage(c, "Import profiles"), "file: choose a CSV file to upload"))
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	imp, headers, rows, err := s.profiles.Stage(c.UserContext(), u.WorkspaceID, fh.Filename, u.ID, data)
	var ie *profiles.InputError
	if errors.As(err, &ie) {
		return s.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportUpload(s.importPage(c, "Import profiles"), ie.Error()))
	}
	if err != nil {
		return err
	}
	return render(c, views.ProfileImportMapping(s.importPage(c, "Map columns"), mappingProps(imp, headers, rows, "")))
}

func mappingProps(imp store.ProfileImport, headers []string, rows [][]string, errMsg string) views.ImportMappingProps {
	m := views.ImportMappingProps{ID: imp.ID, Filename: imp.Filename, Preview: rows, Error: errMsg}
	for _, h := range headers {
		m.Columns = append(m.Columns, views.ImportColumn{Name: h, Target: imp.Mapping[h]})
	}
	return m
}

func (s *Server) importStart(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	ctx := c.UserContext()
	imp, err := s.profiles.Get(ctx, u.WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("import")
	}
	if err != nil {
		return err
	}
	headers, rows, perr := profiles.Preview(strings.NewReader(imp.Source), 5)
	m := profiles.Mapping{}
	for _, h := range headers {
		v := strings.TrimSpace(c.FormValue("map." + h))
		if v == "" {
			v = profiles.Skip
		}
		m[h] = v
	}
	if perr == nil {
		_, err = s.profiles.Start(context.WithoutCancel(ctx), u.WorkspaceID, imp.ID, m)
	}
	var ie *profiles.InputError
	switch {
	case perr != nil:
		return httpkit.NewError(fiber.StatusConflict, "import_not_staged", "this import has already run; upload the file again")
	case errors.As(err, &ie):
		imp.Mapping = m
		return s.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportMapping(s.importPage(c, "Map columns"), mappingProps(imp, headers, rows, ie.Error())))
	case errors.Is(err, store.ErrConflict):
		return c.Redirect("/profiles/import/"+imp.ID, fiber.StatusSeeOther)
	case err != nil:
		return err
	}
	return c.Redirect("/profiles/import/"+imp.ID, fiber.StatusSeeOther)
}

func (s *Server) loadImport(c *fiber.Ctx) (views.ImportProgressProps, error) {
	u, _ := httpkit.User(c)
	imp, err := s.profiles.Get(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return views.ImportProgressProps{}, httpkit.NotFound("import")
	}
	if err != nil {
		return views.ImportProgressProps{}, err
	}
	pr := views.ImportProgressProps{ID: imp.ID, Filename: imp.Filename, Status: imp.Status, Processed: imp.Processed, Total: imp.TotalRows,
		Imported: imp.Imported, Failed: imp.Failed, Error: imp.Error}
	for _, e := range imp.Errors {
		pr.Errors = append(pr.Errors, views.ImportRowError{Line: e.Line, Column: e.Column, Reason: e.Reason})
	}
	return pr, nil
}

func (s *Server) importShow(c *fiber.Ctx) error {
	pr, err := s.loadImport(c)
	if err != nil {
		return err
	}
	if pr.Status == store.ImportStaged {
		return c.Redirect("/profiles/import", fiber.StatusSeeOther)
	}
	return render(c, views.ProfileImportPage(s.importPage(c, "Import"), pr))
}

func (s *Server) importProgress(c *fiber.Ctx) error {
	pr, err := s.loadImport(c)
	if err != nil {
		return err
	}
	return render(c, views.ProfileImportProgress(pr))
}

// apiProfileGet: GET /api/v1/profiles/{external_id}
func (s *Server) apiProfileGet(c *fiber.Ctx) error {
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	p, err := s.store.GetProfileByExternalID(c.UserContext(), httpkit.APIKey(c).WorkspaceID, ext)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	return c.JSON(httpkit.ToProfileJSON(p))
}
