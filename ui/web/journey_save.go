package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// saveRequest is the editor's autosave: the whole document and the draft
// revision it was based on.
type saveRequest struct {
	Revision int             `json:"revision"`
	Document json.RawMessage `json:"document"`
}

// saveResponse tells the editor the new revision and what is still wrong.
type saveResponse struct {
	Revision int              `json:"revision"`
	SavedAt  time.Time        `json:"saved_at"`
	Status   string           `json:"status"`
	Name     string           `json:"name"`
	Problems []labeledProblem `json:"problems"`
}

func decodeSave(c *fiber.Ctx) (saveRequest, error) {
	var req saveRequest
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, httpkit.BadRequest("the body must be JSON {\"revision\": N, \"document\": {…}}: %v", err)
	}
	if len(bytes.TrimSpace(req.Document)) == 0 || bytes.Equal(bytes.TrimSpace(req.Document), []byte("null")) {
		return req, httpkit.BadRequest("document: required")
	}
	return req, nil
}

// journeySaveDraft is the editor's autosave (POST /journeys/:id/draft,
// JSON, X-CSRF-Token). Work in progress may be invalid; it is saved with
// its problems. A save based on an old revision is refused with 409
// stale_revision, so two people never overwrite each other silently.
func (h *Handler) journeySaveDraft(c *fiber.Ctx) error {
	req, err := decodeSave(c)
	if err != nil {
		return err
	}
	if req.Revision < 1 {
		return httpkit.BadRequest("revision: required (the draft revision the document is based on)")
	}
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	// One validation per save, the one the API's PUT …/draft and publishing
	// use (connectors checked too): its problems are the editor's.
	j, problems, err := h.journeys.SaveDraft(ctx, ws, c.Params("id"), req.Revision, req.Document, httpkit.ActorName(c), journeys.SaveOptions{AllowInvalid: true})
	if errors.Is(err, store.ErrConflict) {
		cur, gerr := h.store.GetJourney(ctx, ws, c.Params("id"))
		if gerr != nil {
			return httpkit.JourneyError(gerr)
		}
		if cur.Status == store.JourneyArchived {
			return httpkit.NewError(fiber.StatusConflict, "archived", "this journey was archived; it can no longer be changed")
		}
		who := cur.UpdatedBy
		if who == "" {
			who = "someone else"
		}
		return httpkit.NewError(fiber.StatusConflict, "stale_revision",
			"%s saved this journey at %s, after you opened it. Your change was not saved; your version is still on your screen.",
			who, cur.UpdatedAt.UTC().Format("15:04 UTC"))
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if problems == nil {
		problems = []flows.Problem{}
	}
	return c.JSON(saveResponse{Revision: j.DraftRevision, SavedAt: j.UpdatedAt, Status: j.Status, Name: j.Name,
		Problems: labelProblems(h.journeys.Registry(), req.Document, problems)})
}

// journeySaveCopy keeps a user's version when their save conflicted: it
// becomes a new journey (POST /journeys/copy, same JSON as the autosave).
func (h *Handler) journeySaveCopy(c *fiber.Ctx) error {
	req, err := decodeSave(c)
	if err != nil {
		return err
	}
	j, err := flows.Parse(req.Document)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	j.Name = copyName(j.Name, "", " (my copy)")
	doc, err := flows.Marshal(j)
	if err != nil {
		return err
	}
	created, _, err := h.journeys.Create(c.UserContext(), httpkit.Workspace(c), doc, httpkit.ActorName(c), journeys.SaveOptions{AllowInvalid: true})
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, h.store, "journey.create", "journey", created.ID, map[string]any{"name": created.Name, "via": "conflict_copy"}); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": created.ID, "url": "/journeys/" + created.ID + "/edit"})
}

// copyName prefixes and suffixes a name within the length limit.
func copyName(name, prefix, suffix string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Untitled journey"
	}
	max := flows.MaxTitleLength - utf8.RuneCountInString(prefix+suffix)
	if r := []rune(name); len(r) > max {
		name = string(r[:max])
	}
	return prefix + name + suffix
}
