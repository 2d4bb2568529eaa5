package ui

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// externalIDParam is the route's :external_id, percent-decoded. Fiber
// hands path parameters over as they were sent, and clients (and the UI's
// own links) escape an external id such as "a b" or "q\"x" as "a%20b":
// without decoding, those profiles could not be read, exported or erased.
func externalIDParam(c *fiber.Ctx) (string, error) {
	id, err := url.PathUnescape(c.Params("external_id"))
	if err != nil {
		return "", errBadRequest("external_id: not a valid percent-encoded path segment")
	}
	return id, nil
}
