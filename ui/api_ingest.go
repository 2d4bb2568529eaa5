package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
)

// ingestStore is what the event and profile APIs need.
type ingestStore interface {
	UpsertProfile(ctx context.Context, u store.ProfileUpsert) (store.Profile, bool, error)
	InsertEvent(ctx context.Context, e store.Event) (store.Event, error)
	BeginIdempotent(ctx context.Context, workspaceID, key, requestHash string, ttl time.Duration) (*store.IdempotencyRecord, error)
	CompleteIdempotent(ctx context.Context, workspaceID, key string, status int, response []byte) error
	AbortIdempotent(ctx context.Context, workspaceID, key string) error
}

// MaxEventBatch is the most events one POST /api/v1/events may carry.
const MaxEventBatch = 1000

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

var (
	eventName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]{0,127}$`)
)

// profileJSON is a profile as the API reads and writes it.
type profileJSON struct {
	ExternalID string         `json:"external_id"`
	Email      *string        `json:"email,omitempty"`
	Phone      *string        `json:"phone,omitempty"`
	Timezone   *string        `json:"timezone,omitempty"`
	Locale     *string        `json:"locale,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Consent    map[string]any `json:"consent,omitempty"`
	CreatedAt  *time.Time     `json:"created_at,omitempty"`
	UpdatedAt  *time.Time     `json:"updated_at,omitempty"`
}

func toProfileJSON(p store.Profile) profileJSON {
	s := func(v string) *string { return &v }
	return profileJSON{ExternalID: p.ExternalID, Email: s(p.Email), Phone: s(p.Phone), Timezone: s(p.Timezone), Locale: s(p.Locale),
		Attributes: p.Attributes, Consent: p.Consent, CreatedAt: &p.CreatedAt, UpdatedAt: &p.UpdatedAt}
}

// validate checks a profile write with the rules every profile write
// shares (internal/profiles) and returns every problem, each naming its
// field (prefixed, e.g. "events[3].profile.email").
func (p *profileJSON) validate(prefix string) []Detail {
	in := profiles.Input{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale,
		Attributes: p.Attributes, Consent: p.Consent}
	problems := in.Validate(prefix)
	p.ExternalID, p.Email = in.ExternalID, in.Email
	var ds []Detail
	for _, pr := range problems {
		ds = append(ds, Detail{Field: pr.Field, Message: pr.Message})
	}
	return ds
}

// upsert is the store write of a validated profile: fields, attributes
// and consent, in one transaction.
func (p profileJSON) upsert(ws string) store.ProfileUpsert {
	in := profiles.Input{Consent: p.Consent}
	return store.ProfileUpsert{WorkspaceID: ws, ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone,
		Locale: p.Locale, Attributes: p.Attributes, Consent: in.ConsentUpdates()}
}

func (s *Server) saveProfile(ctx context.Context, ws string, p profileJSON, source string) (store.Profile, bool, error) {
	if s.profiles != nil { // a withdrawn ad consent reaches the platforms (docs/connectors.md)
		if _, err := s.profiles.WithdrawAdConsent(ctx, ws, p.ExternalID, p.Consent); err != nil {
			return store.Profile{}, false, err
		}
	}
	up := p.upsert(ws)
	up.Source = source
	prof, created, err := s.store.UpsertProfile(ctx, up)
	if err != nil {
		return store.Profile{}, false, err
	}
	s.profileChanged(ctx, prof) // segment and attribute triggers see the saved profile
	return prof, created, nil
}

// decodeStrict decodes a JSON body, refusing unknown fields and nesting
// deeper than jsonlimit.MaxDepth, and names the problem on failure.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadRequest("empty body: send a JSON object")
	}
	if err := refuseDeep(body); err != nil {
		return err
	}
	if err := refuseNUL(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errBadRequest("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return &Error{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "wrong type",
				Details: []Detail{{Field: te.Field, Message: fmt.Sprintf("expected %s, got %s", te.Type, te.Value)}}}
		}
		return errBadRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return errBadRequest("malformed JSON: data after the object")
	}
	return nil
}

func invalid(ds []Detail) error {
	return &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid", Message: ds[0].Field + ": " + ds[0].Message, Details: ds}
}

// apiProfileUpsert: POST /api/v1/profiles
func (s *Server) apiProfileUpsert(c *fiber.Ctx) error {
	var p profileJSON
	if err := decodeStrict(c.Body(), &p); err != nil {
		return err
	}
	if ds := p.validate(""); len(ds) > 0 {
		return invalid(ds)
	}
	prof, created, err := s.saveProfile(c.UserContext(), currentAPIKey(c).WorkspaceID, p, "api")
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(toProfileJSON(prof))
}

// apiProfileGet: GET /api/v1/profiles/{external_id}
func (s *Server) apiProfileGet(c *fiber.Ctx) error {
	ext, err := externalIDParam(c)
	if err != nil {
		return err
	}
	p, err := s.store.GetProfileByExternalID(c.UserContext(), currentAPIKey(c).WorkspaceID, ext)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("profile")
	}
	if err != nil {
		return err
	}
	return c.JSON(toProfileJSON(p))
}

// eventJSON is an event as the API takes it.
type eventJSON struct {
	Name       string         `json:"name"`
	ProfileID  string         `json:"profile_id"`
	Properties map[string]any `json:"properties,omitempty"`
	OccurredAt *time.Time     `json:"occurred_at,omitempty"`
	// Profile optionally updates the profile's fields with the event.
	Profile *profileJSON `json:"profile,omitempty"`
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

func (e *eventJSON) validate(prefix string, now time.Time) []Detail {
	var ds []Detail
	if !eventName.MatchString(e.Name) {
		ds = append(ds, Detail{Field: prefix + "name", Message: "required: 1 to 128 letters, digits, spaces or _ . : - /"})
	}
	e.ProfileID = strings.TrimSpace(e.ProfileID)
	if e.ProfileID == "" || len(e.ProfileID) > 256 {
		ds = append(ds, Detail{Field: prefix + "profile_id", Message: "required: the profile's external id (at most 256 characters)"})
	}
	if e.OccurredAt != nil && e.OccurredAt.After(now.Add(24*time.Hour)) {
		ds = append(ds, Detail{Field: prefix + "occurred_at", Message: "more than a day in the future"})
	}
	if e.Profile != nil {
		e.Profile.ExternalID = e.ProfileID
		ds = append(ds, e.Profile.validate(prefix+"profile.")...)
	}
	return ds
}

// apiEvents: POST /api/v1/events — one event or {"events": […]} (at most
// 1,000). Every event is validated before any is stored: a bad batch
// changes nothing. Each stored event wakes waiting runs, applies exit
// criteria and goals, and enters event-triggered journeys.
func (s *Server) apiEvents(c *fiber.Ctx) error {
	body := c.Body()
	var events []eventJSON
	if bytes.Contains(body, []byte(`"events"`)) {
		var b eventBatch
		if err := decodeStrict(body, &b); err != nil {
			return err
		}
		events = b.Events
		if len(events) == 0 {
			return errBadRequest("events: the batch is empty")
		}
		if len(events) > MaxEventBatch {
			return &Error{Status: fiber.StatusRequestEntityTooLarge, Code: "batch_too_large",
				Message: fmt.Sprintf("a batch holds at most %d events, this one has %d", MaxEventBatch, len(events))}
		}
	} else {
		var e eventJSON
		if err := decodeStrict(body, &e); err != nil {
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
	if key := currentAPIKey(c); !key.HasScope(auth.ScopeProfilesWrite) {
		for i, e := range events {
			if e.Profile != nil {
				return &Error{Status: fiber.StatusForbidden, Code: "insufficient_scope",
					Message: fmt.Sprintf("%sprofile: updating a profile with an event needs the %q scope; this API key lacks it (send the event without \"profile\", or use a key with %s)",
						prefix(i), auth.ScopeProfilesWrite, auth.ScopeProfilesWrite),
					Details: []Detail{{Field: prefix(i) + "profile", Message: fmt.Sprintf("needs the %q scope", auth.ScopeProfilesWrite)}}}
			}
		}
	}
	now := s.cfg.Now()
	var ds []Detail
	for i := range events {
		ds = append(ds, events[i].validate(prefix(i), now)...)
	}
	if len(ds) > 0 {
		return invalid(ds)
	}

	ws := currentAPIKey(c).WorkspaceID
	return s.idempotent(c, ws, func() (int, any, error) {
		results := make([]eventResult, 0, len(events))
		for _, e := range events {
			r, err := s.ingestEvent(c.UserContext(), ws, e)
			if err != nil {
				return 0, nil, err
			}
			results = append(results, r)
		}
		return fiber.StatusAccepted, fiber.Map{"events": results}, nil
	})
}

func (s *Server) ingestEvent(ctx context.Context, ws string, e eventJSON) (eventResult, error) {
	up := store.ProfileUpsert{WorkspaceID: ws, ExternalID: e.ProfileID, Source: "event"}
	var prof store.Profile
	var err error
	if e.Profile != nil {
		prof, _, err = s.saveProfile(ctx, ws, *e.Profile, "event")
	} else {
		prof, _, err = s.store.UpsertProfile(ctx, up)
	}
	if err != nil {
		return eventResult{}, err
	}
	ev := store.Event{WorkspaceID: ws, ProfileID: prof.ID, Name: e.Name, Properties: e.Properties}
	if e.OccurredAt != nil {
		ev.OccurredAt = *e.OccurredAt
	}
	stored, err := s.store.InsertEvent(ctx, ev)
	if err != nil {
		return eventResult{}, err
	}
	res := eventResult{ID: stored.ID, ProfileID: e.ProfileID, Entered: []string{}, Resumed: []string{}, Exited: []string{}, Converted: []string{}}
	if s.engine == nil {
		return res, nil
	}
	r, err := s.engine.HandleEvent(ctx, stored)
	if err != nil {
		return res, fmt.Errorf("applying event %s: %w", stored.ID, err)
	}
	res.Entered, res.Resumed, res.Exited, res.Converted = nonNil(r.Entered), nonNil(r.Resumed), nonNil(r.Exited), nonNil(r.Converted)
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// idempotent runs fn once per Idempotency-Key: a replay with the same body
// gets the first response; the same key with another body is 422; a replay
// while the first is still running is 409. Without the header fn just runs.
func (s *Server) idempotent(c *fiber.Ctx, ws string, fn func() (int, any, error)) error {
	key := c.Get("Idempotency-Key")
	if key == "" {
		status, body, err := fn()
		if err != nil {
			return err
		}
		return c.Status(status).JSON(body)
	}
	if len(key) > 255 {
		return errBadRequest("Idempotency-Key: at most 255 characters")
	}
	sum := sha256.Sum256(c.Body())
	hash := hex.EncodeToString(sum[:])
	ctx := c.UserContext()
	rec, err := s.store.BeginIdempotent(ctx, ws, key, hash, idempotencyTTL)
	if err != nil {
		return err
	}
	if rec != nil {
		switch {
		case rec.RequestHash != hash:
			return newError(fiber.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
		case rec.State != "done":
			return newError(fiber.StatusConflict, "idempotency_key_in_progress", "a request with this Idempotency-Key is still being processed; retry later")
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Status(rec.StatusCode).Send(rec.Response)
	}
	status, body, err := fn()
	if err != nil {
		if aerr := s.store.AbortIdempotent(context.WithoutCancel(ctx), ws, key); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	out, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if err := s.store.CompleteIdempotent(context.WithoutCancel(ctx), ws, key, status, out); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(out)
}

// refuseDeep answers 400 json_too_deep for a body whose objects and arrays
// nest deeper than jsonlimit.MaxDepth (64) levels, found by a scan of the
// raw bytes before anything is decoded. Every inbound JSON surface checks
// it: a deep value costs quadratic time and space wherever it is later
// indented for reading (security review F3).
func refuseDeep(body []byte) error {
	var de *jsonlimit.DepthError
	if err := jsonlimit.CheckDepth(body, jsonlimit.MaxDepth); errors.As(err, &de) {
		return newError(fiber.StatusBadRequest, "json_too_deep",
			"the JSON nests objects and arrays more than %d levels deep (at byte %d); at most %d levels are accepted", de.Limit, de.Offset, de.Limit)
	}
	return nil
}

// refuseNUL answers 422 for a JSON body with a \u0000 escape: the NUL
// character it stands for cannot be stored in a text or JSON column
// (PostgreSQL refuses it), so the request is refused whole, before
// anything is written, rather than failing at the database as a 500.
func refuseNUL(body []byte) error {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`u0000`))
		if j < 0 {
			return nil
		}
		j += i
		// A real escape has an odd number of backslashes before the u.
		k := j
		for k > 0 && body[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 1 {
			return newError(fiber.StatusUnprocessableEntity, "nul_character", "the body contains a NUL character (\\u0000 at byte %d): text cannot hold it", j-1)
		}
		i = j + 1
	}
}
