package httpkit

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
)

// ExternalIDParam is the route's :external_id, percent-decoded. Fiber
// hands path parameters over as they were sent, and clients (and the UI's
// own links) escape an external id such as "a b" or "q\"x" as "a%20b":
// without decoding, those profiles could not be read, exported or erased.
func ExternalIDParam(c *fiber.Ctx) (string, error) {
	id, err := url.PathUnescape(c.Params("external_id"))
	if err != nil {
		return "", BadRequest("external_id: not a valid percent-encoded path segment")
	}
	return id, nil
}

// LimitParam reads ?limit= (1 to 500; def without it).
func LimitParam(c *fiber.Ctx, def int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, BadRequest("limit: want a number from 1 to 500")
	}
	return n, nil
}

var journeyStatuses = map[string]bool{"": true, "all": true, store.JourneyDraft: true, store.JourneyLive: true, store.JourneyPaused: true, store.JourneyArchived: true}

// JourneyStatusFilter reports whether s filters journey lists: a status,
// "all", or "" (all but archived).
func JourneyStatusFilter(s string) bool { return journeyStatuses[s] }

var runStatuses = map[string]bool{"": true, store.RunActive: true, store.RunWaiting: true, store.RunWaitingEvent: true,
	store.RunPaused: true, store.RunCompleted: true, store.RunExited: true, store.RunFailed: true}

// RunStatusFilter reports whether s filters run lists: a run status or "".
func RunStatusFilter(s string) bool { return runStatuses[s] }

// PersonalStep reports whether a step's detail values are profile data:
// an update_profile step records the attribute values it wrote.
func PersonalStep(kind string) bool { return kind == "update_profile" }
