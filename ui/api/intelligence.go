package api

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// liftJSON is the lift report: per split node with a holdout, the
// treatment (all variants) and each variant against the holdout.
type liftJSON struct {
	JourneyID string          `json:"journey_id"`
	Method    string          `json:"method"`
	Overall   *learn.Lift     `json:"overall"` // every split with a holdout pooled; null without one
	Splits    []splitLiftJSON `json:"splits"`
}

type splitLiftJSON struct {
	NodeID    string            `json:"node_id"`
	Treatment learn.Lift        `json:"treatment"`
	Variants  []variantLiftJSON `json:"variants"`
}

type variantLiftJSON struct {
	Variant string `json:"variant"`
	learn.Lift
}

// liftMethod names how the intervals are computed (docs/intelligence.md).
const liftMethod = "absolute: Newcombe hybrid score interval (method 10) from Wilson intervals, 95%; relative: log risk ratio (Katz), 95%"

// journeyLift is the lift report of a journey over every version
// (internal/journeys.Reports) as the API shows it.
func (h *Handler) journeyLift(ctx context.Context, ws, journeyID string) (liftJSON, error) {
	l, err := h.reports.Lift(ctx, ws, journeyID)
	if err != nil {
		return liftJSON{}, err
	}
	out := liftJSON{JourneyID: l.JourneyID, Method: liftMethod, Overall: l.Overall, Splits: []splitLiftJSON{}}
	for _, sp := range l.Splits {
		sl := splitLiftJSON{NodeID: sp.NodeID, Treatment: sp.Treatment, Variants: []variantLiftJSON{}}
		for _, v := range sp.Variants {
			sl.Variants = append(sl.Variants, variantLiftJSON{Variant: v.Variant, Lift: v.Lift})
		}
		out.Splits = append(out.Splits, sl)
	}
	return out, nil
}

// apiJourneyLift: GET /api/v1/journeys/{id}/lift.
func (h *Handler) apiJourneyLift(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("journey")
	}
	if err != nil {
		return err
	}
	out, err := h.journeyLift(ctx, ws, j.ID)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
