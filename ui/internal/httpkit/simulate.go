package httpkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/store"
)

// Simulator runs journey simulations (internal/sim.Simulator).
type Simulator interface {
	Simulate(ctx context.Context, workspaceID string, doc []byte, req sim.Request) (*sim.Result, error)
}

// SimulationStore finds the journey a simulation is about.
type SimulationStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
}

// Exporter reads a journey's document (internal/journeys.Service).
type Exporter interface {
	Export(ctx context.Context, workspaceID, id string, version int) ([]byte, error)
}

// Simulations answers POST …/journeys/{id}/simulate for the API and the
// editor alike. Without a Simulator it answers 503.
type Simulations struct {
	Store     SimulationStore
	Journeys  Exporter
	Simulator Simulator
}

// SimulateBody is a simulation request: which document (a version, a
// document given inline, or by default the draft) and the sim.Request.
type SimulateBody struct {
	// Version simulates a published version (0: the draft).
	Version int `json:"version,omitempty"`
	// Document simulates this document (the editor sends the canvas as it is).
	Document json.RawMessage `json:"document,omitempty"`
	sim.Request
}

// Run answers a simulation request. Nothing real changes, so reading the journey
// is enough; simulating existing profiles also reads their data, so it
// needs the profiles:read permission (scope).
func (x Simulations) Run(c *fiber.Ctx, workspaceID string, mayReadProfiles, mayReadSuppressions bool) error {
	id := strings.Clone(c.Params("id"))
	// Another workspace's journey is not found, whatever the body says.
	if _, err := x.Store.GetJourney(c.UserContext(), workspaceID, id); err != nil {
		return JourneyError(err)
	}
	if err := RefuseDeep(c.Body()); err != nil {
		return err
	}
	var body SimulateBody
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			return BadRequest("the body must be a JSON simulation request")
		}
		return BadRequest("the body is not a valid simulation request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(body.ProfileIDs) > 0 && !mayReadProfiles {
		return NewError(fiber.StatusForbidden, "insufficient_scope", "simulating existing profiles reads their data: it needs the %q permission", auth.ScopeProfilesRead)
	}
	if body.Version < 0 {
		return &Error{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "version must be positive",
			Details: []Detail{{Field: "version", Message: "must be positive"}}}
	}
	ctx := c.UserContext()
	doc, err := x.Journeys.Export(ctx, workspaceID, id, body.Version)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && body.Version > 0 {
			if _, gerr := x.Journeys.Export(ctx, workspaceID, id, 0); gerr == nil {
				return NotFound("version " + strconv.Itoa(body.Version) + " of the journey")
			}
		}
		return JourneyError(err)
	}
	if len(bytes.TrimSpace(body.Document)) > 0 && string(bytes.TrimSpace(body.Document)) != "null" {
		if body.Version > 0 {
			return BadRequest("give either version or document, not both")
		}
		doc = body.Document
	}
	if x.Simulator == nil {
		return NewError(fiber.StatusServiceUnavailable, "unavailable", "the simulator is not configured")
	}
	body.AllSuppressions = mayReadSuppressions // else only existing profiles' addresses are checked
	res, err := x.Simulator.Simulate(ctx, workspaceID, doc, body.Request)
	if err != nil {
		return SimulationError(err)
	}
	return c.JSON(res)
}
