package web

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

func (h *Handler) importPage(c *fiber.Ctx, title string) views.Page {
	p := h.page(c, title)
	p.Scripts = []string{h.assetURLs["vendor/htmx.min.js"]}
	return p
}

func (h *Handler) importForm(c *fiber.Ctx) error {
	return render(c, views.ProfileImportUpload(h.importPage(c, "Import profiles"), ""))
}

func (h *Handler) importUpload(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	fh, err := c.FormFile("file")
	if err != nil {
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportUpload(h.importPage(c, "Import profiles"), "file: choose a CSV file to upload"))
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
	imp, headers, rows, err := h.profiles.Stage(c.UserContext(), u.WorkspaceID, fh.Filename, u.ID, data)
	var ie *profiles.InputError
	if errors.As(err, &ie) {
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportUpload(h.importPage(c, "Import profiles"), ie.Error()))
	}
	if err != nil {
		return err
	}
	return render(c, views.ProfileImportMapping(h.importPage(c, "Map columns"), mappingProps(imp, headers, rows, "")))
}

func mappingProps(imp store.ProfileImport, headers []string, rows [][]string, errMsg string) views.ImportMappingProps {
	m := views.ImportMappingProps{ID: imp.ID, Filename: imp.Filename, Preview: rows, Error: errMsg}
	for _, h := range headers {
		m.Columns = append(m.Columns, views.ImportColumn{Name: h, Target: imp.Mapping[h]})
	}
	return m
}

func (h *Handler) importStart(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	ctx := c.UserContext()
	imp, err := h.profiles.Get(ctx, u.WorkspaceID, c.Params("id"))
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
		_, err = h.profiles.Start(context.WithoutCancel(ctx), u.WorkspaceID, imp.ID, m)
	}
	var ie *profiles.InputError
	switch {
	case perr != nil:
		return httpkit.NewError(fiber.StatusConflict, "import_not_staged", "this import has already run; upload the file again")
	case errors.As(err, &ie):
		imp.Mapping = m
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.ProfileImportMapping(h.importPage(c, "Map columns"), mappingProps(imp, headers, rows, ie.Error())))
	case errors.Is(err, store.ErrConflict):
		return c.Redirect("/profiles/import/"+imp.ID, fiber.StatusSeeOther)
	case err != nil:
		return err
	}
	return c.Redirect("/profiles/import/"+imp.ID, fiber.StatusSeeOther)
}

func (h *Handler) loadImport(c *fiber.Ctx) (views.ImportProgressProps, error) {
	u, _ := httpkit.User(c)
	imp, err := h.profiles.Get(c.UserContext(), u.WorkspaceID, c.Params("id"))
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

func (h *Handler) importShow(c *fiber.Ctx) error {
	pr, err := h.loadImport(c)
	if err != nil {
		return err
	}
	if pr.Status == store.ImportStaged {
		return c.Redirect("/profiles/import", fiber.StatusSeeOther)
	}
	return render(c, views.ProfileImportPage(h.importPage(c, "Import"), pr))
}

func (h *Handler) importProgress(c *fiber.Ctx) error {
	pr, err := h.loadImport(c)
	if err != nil {
		return err
	}
	return render(c, views.ProfileImportProgress(pr))
}
