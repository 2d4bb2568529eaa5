package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// The property panel's files (editor_panel.go, editor_form.go) call the
// kit through these names until they move to the pages' package.

func newError(status int, code, format string, args ...any) *httpkit.Error {
	return httpkit.NewError(status, code, format, args...)
}

func errBadRequest(format string, args ...any) *httpkit.Error {
	return httpkit.BadRequest(format, args...)
}

func currentWorkspace(c *fiber.Ctx) string { return httpkit.Workspace(c) }
