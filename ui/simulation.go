package ui

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
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// SimulationService runs journey simulations (internal/sim.Simulator).
type SimulationService interface {
	Simulate(ctx context.Context, workspaceID string, doc []byte, req sim.Request) (*sim.Result, error)
}

// simulateBody is a simulation request: which document (a version, a
// document given inline, or by default the draft) and the sim.Request.
type simulateBody struct {
	// Version simulates a published version (0: the draft).
	Version int `json:"version,omitempty"`
	// Document simulates this document (the editor sends the canvas as it is).
	Document json.RawMessage `json:"document,omitempty"`
	sim.Request
}

// apiJourneySimulate is POST /api/v1/journeys/{id}/simulate.
func (s *Server) apiJourneySimulate(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return s.simulate(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead), k.HasScope(auth.ScopeAdmin))
}

// journeySimulateUI is the editor's POST /journeys/{id}/simulate (JSON, X-CSRF-Token).
func (s *Server) journeySimulateUI(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	return s.simulate(c, httpkit.Workspace(c), httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead), httpkit.RoleAllows(u.Role, httpkit.PermAdmin))
}

// simulate runs a simulation. Nothing real changes, so reading the journey
// is enough; simulating existing profiles also reads their data, so it
// needs the profiles:read permission (scope).
func (s *Server) simulate(c *fiber.Ctx, workspaceID string, mayReadProfiles, mayReadSuppressions bool) error {
	id := strings.Clone(c.Params("id"))
	// Another workspace's journey is not found, whatever the body says.
	if _, err := s.store.GetJourney(c.UserContext(), workspaceID, id); err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.RefuseDeep(c.Body()); err != nil {
		return err
	}
	var body simulateBody
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			return httpkit.BadRequest("the body must be a JSON simulation request")
		}
		return httpkit.BadRequest("the body is not a valid simulation request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(body.ProfileIDs) > 0 && !mayReadProfiles {
		return httpkit.NewError(fiber.StatusForbidden, "insufficient_scope", "simulating existing profiles reads their data: it needs the %q permission", auth.ScopeProfilesRead)
	}
	if body.Version < 0 {
		return &httpkit.Error{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "version must be positive",
			Details: []httpkit.Detail{{Field: "version", Message: "must be positive"}}}
	}
	ctx := c.UserContext()
	doc, err := s.journeys.Export(ctx, workspaceID, id, body.Version)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && body.Version > 0 {
			if _, gerr := s.journeys.Export(ctx, workspaceID, id, 0); gerr == nil {
				return httpkit.NotFound("version " + strconv.Itoa(body.Version) + " of the journey")
			}
		}
		return httpkit.JourneyError(err)
	}
	if len(bytes.TrimSpace(body.Document)) > 0 && string(bytes.TrimSpace(body.Document)) != "null" {
		if body.Version > 0 {
			return httpkit.BadRequest("give either version or document, not both")
		}
		doc = body.Document
	}
	if s.simulator == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "the simulator is not configured")
	}
	body.AllSuppressions = mayReadSuppressions // else only existing profiles' addresses are checked
	res, err := s.simulator.Simulate(ctx, workspaceID, doc, body.Request)
	if err != nil {
		return httpkit.SimulationError(err)
	}
	return c.JSON(res)
}
