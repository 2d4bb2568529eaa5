package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/worker"
)

// HookService manages and verifies journeys' webhook triggers.
type HookService interface {
	Get(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	Rotate(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (hooks.Hook, error)
	Verify(ctx context.Context, key string, header func(string) string, body []byte) (store.Journey, hooks.Receipt, error)
}

// hookStore is what the webhook endpoint needs from storage.
type hookStore interface {
	ClaimWebhook(ctx context.Context, journeyID, webhookID string) (string, error)
	ClaimWebhookWithin(ctx context.Context, journeyID, key string, window time.Duration) (string, error)
	SetWebhookRun(ctx context.Context, journeyID, webhookID, runID string) error
	ReleaseWebhook(ctx context.Context, journeyID, webhookID string) error
	CanEnterWebhook(w store.WebhookEntry) bool
	EnterWebhook(ctx context.Context, w store.WebhookEntry) (store.Run, error)
}

// hookRoutes registers the public webhook trigger endpoint, POST /hooks/{key}.
func (s *Server) hookRoutes(app fiber.Router) {
	app.Post("/hooks/:key", s.hook)
}

// credentialHeader matches request headers that may carry a credential:
// Authorization, Cookie, Proxy-Authorization, X-Api-Key, X-Auth-Token,
// signatures, and anything else whose name says auth, key, token, secret,
// cookie, signature or password. They are never kept in the entry event
// (security review F9).
var credentialHeader = regexp.MustCompile(`(?i)auth|key|token|secret|cookie|signature|password`)

// hook takes a signed POST for a journey with a webhook trigger: it
// verifies the signature over the raw body, de-duplicates on webhook-id
// (GitHub scheme: also on the body, see hooks.Receipt), maps the body to a
// profile with the trigger's expressions, and enters the profile into the
// journey's live version. 202 {"run_id"}.
func (s *Server) hook(c *fiber.Ctx) error {
	if s.hooks == nil || s.engine == nil {
		return httpkit.NotFound("hook")
	}
	ctx := c.UserContext()
	key := c.Params("key")
	body := c.Body()
	j, receipt, err := s.hooks.Verify(ctx, key, func(name string) string { return c.Get(name) }, body)
	var ve *hooks.VerifyError
	if errors.As(err, &ve) {
		s.logger.InfoContext(c.UserContext(), "webhook refused", slog.String("hook_key_prefix", prefix(key)), slog.String("reason", ve.Code),
			slog.String("ip", c.IP()), slog.String("request_id", httpkit.RequestID(c)))
		return httpkit.NewError(ve.Status, ve.Code, "%s", ve.Message)
	}
	if err != nil {
		return err
	}
	if j.Status != store.JourneyLive {
		return httpkit.NewError(fiber.StatusConflict, "journey_not_live", "the journey is %s, not live: it takes no entries", j.Status)
	}
	if err := httpkit.RefuseDeep(body); err != nil {
		return err
	}
	var parsed any
	if err := json.Unmarshal(body, &parsed); err != nil {
		return httpkit.BadRequest("the body is not valid JSON: %v", err)
	}
	if err := httpkit.RefuseNUL(body); err != nil {
		return err
	}
	trigger, err := s.engine.TriggerNode(ctx, j, "trigger_webhook")
	if errors.Is(err, worker.ErrNoSuchTrigger) {
		return httpkit.NewError(fiber.StatusConflict, "no_webhook_trigger", "the journey's live version has no webhook trigger")
	}
	if err != nil {
		return err
	}
	headers := map[string][]string{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		if credentialHeader.MatchString(name) {
			return // never keep credentials in the entry event
		}
		headers[name] = append(headers[name], string(v))
	})
	ev := expression.Event{Body: parsed, Headers: expression.Headers(headers)}
	p, details, err := s.hookProfile(trigger, ev)
	if err != nil {
		return err
	}
	if len(details) > 0 {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "unmapped_profile", Message: details[0].Field + ": " + details[0].Message, Details: details}
	}

	if receipt.Body == "" { // the one-commit path de-duplicates on the id alone
		if done, err := s.hookEnterAtOnce(c, j, receipt.ID, trigger.ID, p, ev); done || err != nil {
			return err
		}
	}
	keys, err := s.claimWebhook(ctx, j.ID, receipt)
	if err != nil {
		return err
	}
	runID, status, err := s.hookEnter(ctx, j, trigger.ID, p, ev)
	if err != nil {
		for _, k := range keys {
			if rerr := s.store.ReleaseWebhook(context.WithoutCancel(ctx), j.ID, k); rerr != nil {
				return errors.Join(err, rerr)
			}
		}
		return err
	}
	if runID == "" {
		return c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": nil, "entered": false, "reason": status})
	}
	for _, k := range keys {
		if err := s.store.SetWebhookRun(ctx, j.ID, k, runID); err != nil {
			return err
		}
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": runID, "entered": true})
}

// claimWebhook records a request's receipt keys, its id and (GitHub
// scheme) its body within hooks.BodyWindow, and returns them; a key seen
// before is 409 duplicate_webhook naming the run it created, and the keys
// this request claimed are released again.
func (s *Server) claimWebhook(ctx context.Context, journeyID string, r hooks.Receipt) ([]string, error) {
	first, err := s.store.ClaimWebhook(ctx, journeyID, r.ID)
	if errors.Is(err, store.ErrConflict) {
		return nil, duplicateWebhook("this webhook-id was already received", first)
	}
	if err != nil {
		return nil, err
	}
	if r.Body == "" {
		return []string{r.ID}, nil
	}
	first, err = s.store.ClaimWebhookWithin(ctx, journeyID, r.Body, hooks.BodyWindow)
	if err == nil {
		return []string{r.ID, r.Body}, nil
	}
	if rerr := s.store.ReleaseWebhook(context.WithoutCancel(ctx), journeyID, r.ID); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	if errors.Is(err, store.ErrConflict) {
		return nil, duplicateWebhook(fmt.Sprintf("this body was already received within %s (the GitHub scheme signs only the body, so a replay is recognised by it, whatever its X-GitHub-Delivery)",
			hooks.BodyWindow), first)
	}
	return nil, err
}

func duplicateWebhook(msg, runID string) error {
	if runID != "" {
		msg += "; it created run " + runID
	}
	return httpkit.NewError(fiber.StatusConflict, "duplicate_webhook", "%s", msg)
}

func prefix(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// hookProfile evaluates the trigger's mapping expressions (profile_id,
// email, phone) on the request and validates the result like the API does.
func (s *Server) hookProfile(trigger *flows.CompiledNode, ev expression.Event) (httpkit.ProfileJSON, []httpkit.Detail, error) {
	env := &expression.Env{Event: ev, Profile: map[string]any{}, Now: s.cfg.Now()}
	eval := func(field string) (string, *httpkit.Detail) {
		prog := trigger.Program(field) // compiled once per published version
		if prog == nil {
			return "", nil
		}
		src := prog.Source()
		v, err := prog.Eval(env)
		if err != nil {
			return "", &httpkit.Detail{NodeID: trigger.ID, Field: field, Message: fmt.Sprintf("%s: %v", src, err)}
		}
		switch t := v.(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(t), nil
		case float64, int, int64, bool:
			return strings.TrimSpace(expression.FormatValue(t)), nil
		}
		return "", &httpkit.Detail{NodeID: trigger.ID, Field: field, Message: fmt.Sprintf("%s gives a %T, not a text or number", src, v)}
	}
	var ds []httpkit.Detail
	var p httpkit.ProfileJSON
	id, d := eval("profile_id")
	if d != nil {
		ds = append(ds, *d)
	} else if id == "" {
		ds = append(ds, httpkit.Detail{NodeID: trigger.ID, Field: "profile_id", Message: fmt.Sprintf("%s gives no profile id for this request", trigger.Config.String("profile_id"))})
	}
	p.ExternalID = id
	for _, f := range []struct {
		name string
		dst  **string
	}{{"email", &p.Email}, {"phone", &p.Phone}} {
		v, d := eval(f.name)
		if d != nil {
			ds = append(ds, *d)
			continue
		}
		if v != "" {
			val := v
			*f.dst = &val
		}
	}
	if len(ds) > 0 {
		return p, ds, nil
	}
	for _, d := range p.Validate("") {
		d.NodeID = trigger.ID
		ds = append(ds, d)
	}
	return p, ds, nil
}

// entryPreparer is the engine's split Enter (worker.Engine): the checks and
// the run, then the first task once the caller committed the entry.
type entryPreparer interface {
	PrepareEntry(ctx context.Context, req worker.EnterRequest) (worker.Entry, error)
	Dispatch(ctx context.Context, en worker.Entry)
}

// hookEnterAtOnce takes a webhook request in one commit where the store
// can (PostgreSQL, see store.EnterWebhook): the webhook-id receipt, the
// profile upsert, the run and its first task together. It answers the
// request and reports done; done is false (and nothing is written) when
// the store cannot, and the caller takes the step-by-step path.
func (s *Server) hookEnterAtOnce(c *fiber.Ctx, j store.Journey, webhookID, triggerID string, p httpkit.ProfileJSON, ev expression.Event) (bool, error) {
	eng, ok := s.engine.(entryPreparer)
	if !ok {
		return false, nil
	}
	ctx := c.UserContext()
	en, err := eng.PrepareEntry(ctx, worker.EnterRequest{WorkspaceID: j.WorkspaceID, JourneyID: j.ID, TriggerNode: triggerID,
		Event: worker.EntryEvent{Body: ev.Body, Headers: ev.Headers}})
	if err != nil {
		return false, nil // the step-by-step path reports it as it always has
	}
	w := store.WebhookEntry{WebhookID: webhookID, Profile: p.Upsert(j.WorkspaceID), Run: en.Run, Policy: en.Policy, First: en.First}
	if !s.store.CanEnterWebhook(w) {
		return false, nil
	}
	run, err := s.store.EnterWebhook(ctx, w)
	var dup *store.DuplicateWebhookError
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &dup):
		return true, duplicateWebhook("this webhook-id was already received", dup.RunID)
	case errors.As(err, &refused):
		return true, c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": nil, "entered": false, "reason": refused.Reason})
	case err != nil:
		return true, err
	}
	eng.Dispatch(ctx, en)
	return true, c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": run.ID, "entered": true})
}

// hookEnter upserts the profile and enters it. A refused entry (re-entry
// rules, entry window) is not an error of the sender: it returns no run id
// and the reason.
func (s *Server) hookEnter(ctx context.Context, j store.Journey, triggerID string, p httpkit.ProfileJSON, ev expression.Event) (string, string, error) {
	up := p.Upsert(j.WorkspaceID)
	up.Source = "webhook" // the profile change's source, as the one-statement path records it
	prof, _, err := s.store.UpsertProfile(ctx, up)
	if err != nil {
		return "", "", err
	}
	run, err := s.engine.Enter(ctx, worker.EnterRequest{WorkspaceID: j.WorkspaceID, JourneyID: j.ID, ProfileID: prof.ID, TriggerNode: triggerID,
		Event: worker.EntryEvent{Body: ev.Body, Headers: ev.Headers}})
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused):
		return "", refused.Reason, nil
	case errors.Is(err, worker.ErrOutsideWindow), errors.Is(err, worker.ErrJourneyNotLive):
		return "", err.Error(), nil
	case err != nil:
		return "", "", err
	}
	return run.ID, "", nil
}

// apiHookGet: GET /api/v1/journeys/{id}/hook (admin) — the hook URL and its
// signing secrets, created on first request.
func (s *Server) apiHookGet(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	h, err := s.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return c.JSON(h)
}

// apiHookRotate: POST /api/v1/journeys/{id}/hook/rotate (admin) — a new
// secret; the previous one stays valid for 24 hours.
func (s *Server) apiHookRotate(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	h, err := s.hooks.Rotate(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, s.store, "journey.hook_rotate", "journey", c.Params("id"), map[string]any{"valid_secrets": len(h.Secrets)}); err != nil {
		return err
	}
	return c.JSON(h)
}

// apiHookScheme: PUT /api/v1/journeys/{id}/hook {"scheme": "standard"|"github"} (admin)
func (s *Server) apiHookScheme(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	if _, err := s.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return httpkit.JourneyError(err) // another workspace's journey is 404 whatever the body
	}
	var body struct {
		Scheme string `json:"scheme"`
	}
	if err := httpkit.DecodeStrict(c.Body(), &body); err != nil {
		return err
	}
	h, err := s.hooks.SetScheme(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), body.Scheme)
	var ve *hooks.VerifyError
	if errors.As(err, &ve) {
		return httpkit.NewError(ve.Status, ve.Code, "%s", ve.Message)
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, s.store, "journey.hook_scheme", "journey", c.Params("id"), map[string]any{"scheme": h.Scheme}); err != nil {
		return err
	}
	return c.JSON(h)
}
