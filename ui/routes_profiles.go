package ui

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

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
