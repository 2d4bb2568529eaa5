package api

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/worker"
)

// runStore is what the run explorer reads.
type runStore interface {
	ListRuns(ctx context.Context, workspaceID string, f store.RunFilter) ([]store.Run, string, error)
	GetWorkspaceRun(ctx context.Context, workspaceID, id string) (store.Run, error)
	ListRunSteps(ctx context.Context, runID string) ([]store.RunStep, error)
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	GetProfile(ctx context.Context, id string) (store.Profile, error)
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
}

type runJSON struct {
	ID              string           `json:"id"`
	JourneyID       string           `json:"journey_id"`
	Version         int              `json:"version"`
	ProfileID       string           `json:"profile_id"` // the profile's external id
	Status          string           `json:"status"`
	CurrentNode     string           `json:"current_node"`
	WaitUntil       *time.Time       `json:"wait_until,omitempty"`
	WaitEvent       string           `json:"wait_event,omitempty"`
	Error           string           `json:"error,omitempty"`
	EnteredAt       time.Time        `json:"entered_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
	FinishedAt      *time.Time       `json:"finished_at,omitempty"`
	ConvertedAt     *time.Time       `json:"converted_at,omitempty"`
	ConversionValue float64          `json:"conversion_value,omitempty"`
	Steps           []stepJSON       `json:"steps,omitempty"`
	Deliveries      []deliveryJSON   `json:"deliveries,omitempty"`
	Entry           *json.RawMessage `json:"entry,omitempty"`
	// PersonalDataHidden: the key lacks profiles:read, so the deliveries'
	// recipient and subject, the entry event and the attribute values
	// update_profile steps wrote are left out.
	PersonalDataHidden bool `json:"personal_data_hidden,omitempty"`
}

type stepJSON struct {
	Sequence int            `json:"seq"`
	NodeID   string         `json:"node_id"`
	Kind     string         `json:"kind"`
	Port     string         `json:"port,omitempty"`
	Outcome  string         `json:"outcome"`
	Detail   map[string]any `json:"detail,omitempty"`
	// DetailHidden: Detail holds profile data the key may not read.
	DetailHidden bool      `json:"detail_hidden,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
}

type deliveryJSON struct {
	ID         string    `json:"id"`
	Sequence   int       `json:"seq"`
	NodeID     string    `json:"node_id"`
	Connector  string    `json:"connector"`
	Channel    string    `json:"channel"`
	Recipient  string    `json:"recipient,omitempty"` // with profiles:read
	Subject    string    `json:"subject,omitempty"`   // with profiles:read
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	Attempts   int       `json:"attempts"`
	ProviderID string    `json:"provider_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func toDeliveryJSON(d store.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, Sequence: d.Sequence, NodeID: d.NodeID, Connector: d.Connector, Channel: d.Channel, Recipient: d.Recipient,
		Subject: d.Subject, Status: d.Status, Error: d.Error, Attempts: d.Attempts, ProviderID: d.ProviderID, CreatedAt: d.CreatedAt}
}

func (h *Handler) toRunJSON(ctx context.Context, r store.Run, externalIDs map[string]string) (runJSON, error) {
	ext, ok := externalIDs[r.ProfileID]
	if !ok {
		p, err := h.store.GetProfile(ctx, r.ProfileID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return runJSON{}, err
		}
		ext = p.ExternalID
		externalIDs[r.ProfileID] = ext
	}
	return runJSON{ID: r.ID, JourneyID: r.JourneyID, Version: r.Version, ProfileID: ext, Status: r.Status, CurrentNode: r.CurrentNode,
		WaitUntil: r.WaitUntil, WaitEvent: r.WaitEvent, Error: r.Error, EnteredAt: r.EnteredAt, UpdatedAt: r.UpdatedAt,
		FinishedAt: r.FinishedAt, ConvertedAt: r.ConvertedAt, ConversionValue: r.ConversionValue}, nil
}

// apiRunList: GET /api/v1/runs?journey_id=&profile_id=&status=&cursor=&limit=
func (h *Handler) apiRunList(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	f := store.RunFilter{JourneyID: c.Query("journey_id"), Status: c.Query("status"), After: c.Query("cursor"), Limit: 50}
	if !httpkit.RunStatusFilter(f.Status) {
		return httpkit.BadRequest("status: want active, waiting, waiting_event, paused, completed, exited or failed")
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return httpkit.BadRequest("limit: want a number from 1 to 1000")
		}
		f.Limit = n
	}
	if ext := c.Query("profile_id"); ext != "" {
		p, err := h.store.GetProfileByExternalID(c.UserContext(), ws, ext)
		if errors.Is(err, store.ErrNotFound) {
			return c.JSON(fiber.Map{"runs": []runJSON{}, "next": ""})
		}
		if err != nil {
			return err
		}
		f.ProfileID = p.ID
	}
	runs, next, err := h.store.ListRuns(c.UserContext(), ws, f)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		if out[i], err = h.toRunJSON(c.UserContext(), r, ids); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"runs": out, "next": next})
}

// apiRunGet: GET /api/v1/runs/{id} with its step timeline and messages.
// Recipients, subjects, the entry event (body and headers) and the values
// update_profile steps wrote are personal data: they need profiles:read,
// as the CSV exports' personal columns do.
func (h *Handler) apiRunGet(c *fiber.Ctx) error {
	key := httpkit.APIKey(c)
	ws, personal := key.WorkspaceID, key.HasScope(auth.ScopeProfilesRead)
	r, err := h.store.GetWorkspaceRun(c.UserContext(), ws, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("run")
	}
	if err != nil {
		return err
	}
	out, err := h.toRunJSON(c.UserContext(), r, map[string]string{})
	if err != nil {
		return err
	}
	steps, err := h.store.ListRunSteps(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	out.Steps = make([]stepJSON, len(steps))
	for i, st := range steps {
		out.Steps[i] = stepJSON{Sequence: st.Sequence, NodeID: st.NodeID, Kind: st.Kind, Port: st.Port, Outcome: st.Outcome,
			Detail: st.Detail, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt}
		if !personal && httpkit.PersonalStep(st.Kind) && len(st.Detail) > 0 {
			out.Steps[i].Detail, out.Steps[i].DetailHidden = nil, true
		}
	}
	ds, _, err := h.store.ListDeliveries(c.UserContext(), ws, store.DeliveryFilter{RunID: r.ID, Limit: 500})
	if err != nil {
		return err
	}
	out.Deliveries = make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out.Deliveries[i] = toDeliveryJSON(d)
		if !personal {
			out.Deliveries[i].Recipient, out.Deliveries[i].Subject = "", ""
		}
	}
	switch {
	case !personal:
		out.PersonalDataHidden = true
	case len(r.EntryEvent) > 0:
		raw := json.RawMessage(r.EntryEvent)
		out.Entry = &raw
	}
	return c.JSON(out)
}

// apiRunCancel: POST /api/v1/runs/{id}/cancel
func (h *Handler) apiRunCancel(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	r, err := h.engine.CancelRun(c.UserContext(), ws, c.Params("id"), "cancelled by "+httpkit.KeyActor(c))
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.cancel", "run", r.ID, map[string]any{"journey_id": r.JourneyID}); err != nil {
		return err
	}
	out, err := h.toRunJSON(c.UserContext(), r, map[string]string{})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// apiRunRetry: POST /api/v1/runs/{id}/retry (failed runs, from the failed node)
func (h *Handler) apiRunRetry(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	r, err := h.engine.RetryRun(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.retry", "run", r.ID, map[string]any{"journey_id": r.JourneyID, "node_id": r.CurrentNode}); err != nil {
		return err
	}
	out, err := h.toRunJSON(c.UserContext(), r, map[string]string{})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// apiRunMove: POST /api/v1/runs/{id}/move {"node_id": "…"} (admin) — put a
// live or failed run at another node of its version; audited.
func (h *Handler) apiRunMove(c *fiber.Ctx) error {
	var body struct {
		NodeID string `json:"node_id"`
	}
	if err := httpkit.DecodeStrict(c.Body(), &body); err != nil {
		return err
	}
	if body.NodeID == "" {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid", Message: "node_id: required",
			Details: []httpkit.Detail{{Field: "node_id", Message: "required"}}}
	}
	ws := httpkit.APIKey(c).WorkspaceID
	before, err := h.store.GetWorkspaceRun(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.RunError(err)
	}
	r, err := h.engine.MoveRun(c.UserContext(), ws, before.ID, body.NodeID, httpkit.KeyActor(c))
	if errors.Is(err, worker.ErrNoSuchNode) {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid", Message: err.Error(),
			Details: []httpkit.Detail{{NodeID: body.NodeID, Field: "node_id", Message: "not a step this run's version can move to"}}}
	}
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.move", "run", r.ID, map[string]any{"journey_id": r.JourneyID, "from": before.CurrentNode, "to": r.CurrentNode}); err != nil {
		return err
	}
	out, err := h.toRunJSON(c.UserContext(), r, map[string]string{})
	if err != nil {
		return err
	}
	return c.JSON(out)
}
