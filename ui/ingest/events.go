package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// Store is what ingestion needs from storage beyond internal/entry: the
// Idempotency-Key records.
type Store interface {
	BeginIdempotent(ctx context.Context, workspaceID, key, requestHash string, ttl time.Duration) (*store.IdempotencyRecord, error)
	CompleteIdempotent(ctx context.Context, workspaceID, key string, status int, response []byte) error
	AbortIdempotent(ctx context.Context, workspaceID, key string) error
	SpecStore // the Segment-spec intake (segmentspec.go)
}

// MaxEventBatch is the most events one POST /api/v1/events may carry.
const MaxEventBatch = 1000

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

// profileUpsert: POST /api/v1/profiles
func (h *Handler) profileUpsert(c *fiber.Ctx) error {
	var p httpkit.ProfileJSON
	if err := httpkit.DecodeStrict(c.Body(), &p); err != nil {
		return err
	}
	in := p.Input()
	if ds := problemDetails(in.Validate("")); len(ds) > 0 {
		return httpkit.Invalid(ds)
	}
	prof, created, err := h.entry.SaveProfile(c.UserContext(), httpkit.APIKey(c).WorkspaceID, in, "api")
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(httpkit.ToProfileJSON(prof))
}

// eventJSON is an event as the API takes it.
type eventJSON struct {
	Name       string         `json:"name"`
	ProfileID  string         `json:"profile_id"`
	Properties map[string]any `json:"properties,omitempty"`
	OccurredAt *time.Time     `json:"occurred_at,omitempty"`
	// Profile optionally updates the profile's fields with the event.
	Profile *httpkit.ProfileJSON `json:"profile,omitempty"`
}

type eventBatch struct {
	Events []eventJSON `json:"events"`
}

type eventResult struct {
	ID        string   `json:"id"`
	ProfileID string   `json:"profile_id"`
	Entered   []string `json:"entered"`
	Resumed   []string `json:"resumed"`
	Exited    []string `json:"exited"`
	Converted []string `json:"converted"`
}

// events: POST /api/v1/events — one event or {"events": […]} (at most
// 1,000). Every event is validated before any is stored: a bad batch
// changes nothing. Each stored event wakes waiting runs, applies exit
// criteria and goals, and enters event-triggered journeys.
func (h *Handler) events(c *fiber.Ctx) error {
	body := c.Body()
	var events []eventJSON
	if bytes.Contains(body, []byte(`"events"`)) {
		var b eventBatch
		if err := httpkit.DecodeStrict(body, &b); err != nil {
			return err
		}
		events = b.Events
		if len(events) == 0 {
			return httpkit.BadRequest("events: the batch is empty")
		}
		if len(events) > MaxEventBatch {
			return &httpkit.Error{Status: fiber.StatusRequestEntityTooLarge, Code: "batch_too_large",
				Message: fmt.Sprintf("a batch holds at most %d events, this one has %d", MaxEventBatch, len(events))}
		}
	} else {
		var e eventJSON
		if err := httpkit.DecodeStrict(body, &e); err != nil {
			return err
		}
		events = []eventJSON{e}
	}
	batch := len(events) > 1 || bytes.Contains(body, []byte(`"events"`))
	prefix := func(i int) string {
		if batch {
			return fmt.Sprintf("events[%d].", i)
		}
		return ""
	}
	// An event's profile field writes the profile (email, phone,
	// attributes, consent): that is profiles:write, which events:write
	// alone does not grant. One such event refuses the whole request, as
	// an invalid one does: nothing is written.
	if key := httpkit.APIKey(c); !key.HasScope(auth.ScopeProfilesWrite) {
		for i, e := range events {
			if e.Profile != nil {
				return &httpkit.Error{Status: fiber.StatusForbidden, Code: "insufficient_scope",
					Message: fmt.Sprintf("%sprofile: updating a profile with an event needs the %q scope; this API key lacks it (send the event without \"profile\", or use a key with %s)",
						prefix(i), auth.ScopeProfilesWrite, auth.ScopeProfilesWrite),
					Details: []httpkit.Detail{{Field: prefix(i) + "profile", Message: fmt.Sprintf("needs the %q scope", auth.ScopeProfilesWrite)}}}
			}
		}
	}
	now := h.now()
	in := make([]entry.Event, len(events))
	var ds []httpkit.Detail
	for i, e := range events {
		in[i] = entry.Event{Name: e.Name, ProfileID: e.ProfileID, Properties: e.Properties, OccurredAt: e.OccurredAt}
		if e.Profile != nil {
			p := e.Profile.Input()
			in[i].Profile = &p
		}
		ds = append(ds, problemDetails(in[i].Validate(prefix(i), now))...)
	}
	if len(ds) > 0 {
		return httpkit.Invalid(ds)
	}

	ws := httpkit.APIKey(c).WorkspaceID
	return h.idempotent(c, ws, func() (int, any, error) {
		rs, err := h.entry.Events(c.UserContext(), ws, in)
		if err != nil {
			return 0, nil, err
		}
		results := make([]eventResult, len(rs))
		for i, r := range rs {
			results[i] = eventResult{ID: r.ID, ProfileID: r.ProfileID, Entered: r.Entered, Resumed: r.Resumed, Exited: r.Exited, Converted: r.Converted}
		}
		return fiber.StatusAccepted, fiber.Map{"events": results}, nil
	})
}

// problemDetails are a profile's or an event's problems as error details.
func problemDetails(ps []profiles.Problem) []httpkit.Detail {
	var ds []httpkit.Detail
	for _, p := range ps {
		ds = append(ds, httpkit.Detail{Field: p.Field, Message: p.Message})
	}
	return ds
}

// idempotent runs fn once per Idempotency-Key: a replay with the same body
// gets the first response; the same key with another body is 422; a replay
// while the first is still running is 409. Without the header fn just runs.
func (h *Handler) idempotent(c *fiber.Ctx, ws string, fn func() (int, any, error)) error {
	key := c.Get("Idempotency-Key")
	if key == "" {
		status, body, err := fn()
		if err != nil {
			return err
		}
		return c.Status(status).JSON(body)
	}
	if len(key) > 255 {
		return httpkit.BadRequest("Idempotency-Key: at most 255 characters")
	}
	sum := sha256.Sum256(c.Body())
	hash := hex.EncodeToString(sum[:])
	ctx := c.UserContext()
	rec, err := h.store.BeginIdempotent(ctx, ws, key, hash, idempotencyTTL)
	if err != nil {
		return err
	}
	if rec != nil {
		switch {
		case rec.RequestHash != hash:
			return httpkit.NewError(fiber.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
		case rec.State != "done":
			return httpkit.NewError(fiber.StatusConflict, "idempotency_key_in_progress", "a request with this Idempotency-Key is still being processed; retry later")
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Status(rec.StatusCode).Send(rec.Response)
	}
	status, body, err := fn()
	if err != nil {
		if aerr := h.store.AbortIdempotent(context.WithoutCancel(ctx), ws, key); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	out, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if err := h.store.CompleteIdempotent(context.WithoutCancel(ctx), ws, key, status, out); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(out)
}
