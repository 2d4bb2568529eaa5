package api

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeyJSON is a journey as the API shows it.
type journeyJSON struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	DraftRevision int             `json:"draft_revision"`
	LiveVersion   *int            `json:"live_version"`
	CreatedBy     string          `json:"created_by"`
	UpdatedBy     string          `json:"updated_by"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Draft         *flows.Journey  `json:"draft,omitempty"`
	Problems      []flows.Problem `json:"problems,omitempty"`
}

func toJourneyJSON(j store.Journey) journeyJSON {
	out := journeyJSON{
		ID: j.ID, Name: j.Name, Status: j.Status, DraftRevision: j.DraftRevision,
		CreatedBy: j.CreatedBy, UpdatedBy: j.UpdatedBy, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
	}
	if j.LiveVersion > 0 {
		v := j.LiveVersion
		out.LiveVersion = &v
	}
	return out
}

func saveOptions(c *fiber.Ctx) (journeys.SaveOptions, error) {
	switch c.Query("allow_invalid") {
	case "", "false":
		return journeys.SaveOptions{}, nil
	case "true":
		return journeys.SaveOptions{AllowInvalid: true}, nil
	}
	return journeys.SaveOptions{}, httpkit.BadRequest("allow_invalid: want true or false")
}

// apiNodes lists the node catalogue: every kind's spec.
func (h *Handler) apiNodes(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"nodes": h.journeys.Registry().Specs()})
}

// apiJourneyValidate checks a document without saving it, connectors included.
func (h *Handler) apiJourneyValidate(c *fiber.Ctx) error {
	_, problems, err := h.journeys.Check(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Body())
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if problems == nil {
		problems = []flows.Problem{}
	}
	return c.JSON(fiber.Map{"valid": len(problems) == 0, "problems": problems})
}

func (h *Handler) apiJourneyList(c *fiber.Ctx) error {
	status := c.Query("status")
	if !httpkit.JourneyStatusFilter(status) {
		return httpkit.BadRequest("status: want draft, live, paused, archived or all")
	}
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return httpkit.BadRequest("limit: want a number from 1 to 500")
		}
		limit = n
	}
	rows, next, err := h.store.ListJourneys(c.UserContext(), httpkit.APIKey(c).WorkspaceID, store.JourneyFilter{
		Status: status, Search: c.Query("q"), After: c.Query("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]journeyJSON, len(rows))
	for i, j := range rows {
		out[i] = toJourneyJSON(j)
	}
	return c.JSON(fiber.Map{"journeys": out, "next": next})
}

func (h *Handler) apiJourneyCreate(c *fiber.Ctx) error {
	opts, err := saveOptions(c)
	if err != nil {
		return err
	}
	j, problems, err := h.journeys.Create(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Body(), httpkit.KeyActor(c), opts)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, h.store, "journey.create", "journey", j.ID, map[string]any{"name": j.Name}); err != nil {
		return err
	}
	out := toJourneyJSON(j)
	out.Problems = problems
	c.Set(fiber.HeaderLocation, "/api/v1/journeys/"+j.ID)
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (h *Handler) apiJourneyGet(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	doc, err := h.journeys.Document(c.UserContext(), ws, j.ID, 0)
	if err != nil {
		return err
	}
	out := toJourneyJSON(j)
	out.Draft = doc
	c.Set(fiber.HeaderETag, strconv.Quote(strconv.Itoa(j.DraftRevision)))
	return c.JSON(out)
}

func versionParam(raw string) (int, error) {
	if raw == "" || raw == "draft" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, httpkit.BadRequest("version: want a version number or \"draft\", got %q", raw)
	}
	return n, nil
}

// apiJourneyExport returns the canonical v1 document of the draft or a version.
func (h *Handler) apiJourneyExport(c *fiber.Ctx) error {
	v, err := versionParam(c.Query("version"))
	if err != nil {
		return err
	}
	b, err := h.journeys.Export(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), v)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// apiJourneyDraft replaces the draft. The revision to replace comes from
// If-Match (as the ETag of GET) or ?revision=; without one the save is
// unconditional.
func (h *Handler) apiJourneyDraft(c *fiber.Ctx) error {
	opts, err := saveOptions(c)
	if err != nil {
		return err
	}
	rev := 0
	raw := c.Get(fiber.HeaderIfMatch)
	if raw == "" {
		raw = c.Query("revision")
	}
	if raw != "" {
		if uq, err := strconv.Unquote(raw); err == nil {
			raw = uq
		}
		if rev, err = strconv.Atoi(raw); err != nil || rev < 1 {
			return httpkit.BadRequest("revision (If-Match): want the draft_revision number")
		}
	}
	j, problems, err := h.journeys.SaveDraft(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), rev, c.Body(), httpkit.KeyActor(c), opts)
	if errors.Is(err, store.ErrConflict) && rev != 0 {
		return httpkit.NewError(fiber.StatusConflict, "stale_revision", "the draft was changed by someone else since revision %d; reload it and apply your change again", rev)
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	out := toJourneyJSON(j)
	out.Problems = problems
	c.Set(fiber.HeaderETag, strconv.Quote(strconv.Itoa(j.DraftRevision)))
	return c.JSON(out)
}

// apiJourneyPublish takes an optional migration plan (publish.go);
// the audit entry is written in the publish's transaction.
func (h *Handler) apiJourneyPublish(c *fiber.Ctx) error { return h.apiJourneyPublishPlan(c) }

func (h *Handler) apiJourneyStatus(status string) fiber.Handler {
	action := map[string]string{store.JourneyPaused: "journey.pause", store.JourneyLive: "journey.resume", store.JourneyArchived: "journey.archive"}[status]
	return func(c *fiber.Ctx) error {
		ws := httpkit.APIKey(c).WorkspaceID
		before, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
		if err != nil {
			return httpkit.JourneyError(err)
		}
		exitRuns := false
		if status == store.JourneyArchived {
			switch c.Query("exit_runs") {
			case "", "false":
			case "true":
				exitRuns = true
			default:
				return httpkit.BadRequest("exit_runs: want true or false")
			}
		}
		j, err := h.store.SetJourneyStatus(c.UserContext(), ws, before.ID, status, httpkit.KeyActor(c))
		if err != nil {
			return httpkit.JourneyError(err)
		}
		summary := map[string]any{"from": before.Status, "to": j.Status}
		// Pausing is lazy: each run parks itself at its next task. Resuming
		// gives parked runs their tasks back now (the reconciler would too).
		if status == store.JourneyLive && h.engine != nil {
			n, err := h.engine.ResumeRuns(c.UserContext(), j.ID)
			if err != nil {
				return err
			}
			summary["runs_resumed"] = n
		}
		if exitRuns && h.engine != nil {
			n, err := h.engine.ExitRuns(c.UserContext(), j.ID, "journey archived by "+httpkit.KeyActor(c))
			if err != nil {
				return err
			}
			summary["runs_exited"] = n
		}
		if err := httpkit.Audit(c, h.store, action, "journey", j.ID, summary); err != nil {
			return err
		}
		return c.JSON(toJourneyJSON(j))
	}
}

type versionJSON struct {
	Version     int            `json:"version"`
	PublishedBy string         `json:"published_by"`
	PublishedAt time.Time      `json:"published_at"`
	Live        bool           `json:"live"`
	Document    *flows.Journey `json:"document,omitempty"`
}

func (h *Handler) apiJourneyVersions(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	vs, err := h.store.ListJourneyVersions(c.UserContext(), ws, j.ID)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	out := make([]versionJSON, len(vs))
	for i, v := range vs {
		out[i] = versionJSON{Version: v.Version, PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt, Live: v.Version == j.LiveVersion}
	}
	return c.JSON(fiber.Map{"versions": out, "next": ""})
}

func (h *Handler) apiJourneyVersion(c *fiber.Ctx) error {
	n, err := versionParam(c.Params("version"))
	if err != nil || n == 0 {
		return httpkit.BadRequest("version: want a version number")
	}
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	doc, err := h.journeys.Document(c.UserContext(), ws, j.ID, n)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return c.JSON(versionJSON{Version: n, Live: n == j.LiveVersion, Document: doc})
}

// apiJourneyDiff compares two versions (or a version and the draft):
// ?from=1&to=draft. Defaults: from the live version to the draft.
func (h *Handler) apiJourneyDiff(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	fromRaw := c.Query("from")
	if fromRaw == "" {
		if j.LiveVersion == 0 {
			return httpkit.BadRequest("from: the journey has no published version; name one with ?from=N")
		}
		fromRaw = strconv.Itoa(j.LiveVersion)
	}
	from, err := versionParam(fromRaw)
	if err != nil {
		return err
	}
	to, err := versionParam(c.Query("to"))
	if err != nil {
		return err
	}
	a, err := h.journeys.Document(c.UserContext(), ws, j.ID, from)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	b, err := h.journeys.Document(c.UserContext(), ws, j.ID, to)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return c.JSON(fiber.Map{"from": fromRaw, "to": c.Query("to", "draft"), "diff": flows.Diff(a, b)})
}
