package httpkit

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
)

// StatsReader computes a journey version's numbers (journeys.Reports).
type StatsReader interface {
	Stats(ctx context.Context, ws, journeyID string, version int) (journeys.Stats, error)
}

// ServeStats answers the numbers of a journey version for workspace ws,
// for the API and the canvas alike: ?version=N, default the live version
// (the draft's nodes, all zero, for a journey never published).
func ServeStats(c *fiber.Ctx, r StatsReader, ws string) error {
	return serveStats(c, func(ctx context.Context, journeyID string, version int) (journeys.Stats, error) {
		return r.Stats(ctx, ws, journeyID, version)
	})
}

// serveStats reads ?version=N (0: the live version), asks read for the
// journey in the path's :id, and answers its numbers uncached.
func serveStats[T any](c *fiber.Ctx, read func(ctx context.Context, journeyID string, version int) (T, error)) error {
	version := 0
	if raw := c.Query("version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return BadRequest("version: want a published version number, got %q", raw)
		}
		version = n
	}
	st, err := read(c.UserContext(), c.Params("id"), version)
	if err != nil {
		return StatsError(err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(st)
}
