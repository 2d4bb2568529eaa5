package httpkit

import (
	"context"

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
	return serveStats(c, func(ctx context.Context, journeyID string, version int) (journeys.StatsWithMessages, error) {
		return r.StatsWithMessages(ctx, ws, journeyID, version)
	})
}
