package httpkit

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
)

// MessageStatsReader computes a journey version's numbers with its message
// steps' engagement (journeys.Reports).
type MessageStatsReader interface {
	StatsWithMessages(ctx context.Context, ws, journeyID string, version int) (journeys.StatsWithMessages, error)
}

// ServeStatsWithMessages is ServeStats with the message steps' engagement
// ("messages", docs/engagement.md) beside the ledger's numbers.
func ServeStatsWithMessages(c *fiber.Ctx, r MessageStatsReader, ws string) error {
	version := 0
	if raw := c.Query("version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return BadRequest("version: want a published version number, got %q", raw)
		}
		version = n
	}
	st, err := r.StatsWithMessages(c.UserContext(), ws, c.Params("id"), version)
	if err != nil {
		return StatsError(err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(st)
}
