package web

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The trigger panel: the "Connect" section of a trigger's property panel
// (docs/editor.md, "Connecting a trigger"). A webhook trigger shows its
// hook URL, its signing secret on demand (copy, rotate, change the
// scheme), a signed curl example, and "Listen for a test request", whose
// body's values fill the mapping fields. An event trigger shows an example
// POST /api/v1/events and the event names the workspace has received.
//
// Who may do what is the permission table's (ui/permissions.go): the URL
// and scheme for everyone who may open the journey, the secret for those
// who may edit it (journeys:write), listening for those who may read
// profiles (a request's body is personal data).

// Hooks is the journeys' webhook triggers as the panel uses them
// (*hooks.Service).
type Hooks interface {
	Get(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	Peek(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, bool, error)
	Rotate(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (hooks.Hook, error)
	Listen(ctx context.Context, workspaceID, journeyID string) (since, until time.Time, err error)
	Samples(ctx context.Context, workspaceID, journeyID string, since time.Time, limit int) ([]store.HookSample, error)
}

// triggerStore is what the event trigger's panel reads.
type triggerStore interface {
	RecentEventNames(ctx context.Context, workspaceID string, limit int) ([]store.EventName, error)
}

// recentEventNames is how many names the event trigger's panel offers.
const recentEventNames = 20

// arrivalsShown is how many requests the listen area lists.
const arrivalsShown = 5

func (h *Handler) triggerRoutes(r fiber.Router) {
	r.Get("/journeys/:id/hook", h.hookShow)
	r.Post("/journeys/:id/hook/reveal", h.hookReveal)
	r.Post("/journeys/:id/hook/rotate", h.hookRotate)
	r.Post("/journeys/:id/hook/scheme", h.hookScheme)
	r.Post("/journeys/:id/hook/listen", h.hookListen)
	r.Get("/journeys/:id/hook/samples", h.hookSamples)
}

func mayReadProfiles(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
}

// triggerPanel is the Connect section of a node of kind spec with config
// cfg, or nil for kinds without one.
func (h *Handler) triggerPanel(c *fiber.Ctx, j store.Journey, spec nodes.Spec, cfg map[string]any, readonly bool) (*views.TriggerPanel, error) {
	switch spec.Kind {
	case "trigger_webhook":
		p, err := h.hookPanel(c, j, false, nil)
		if err != nil {
			return nil, err
		}
		return &views.TriggerPanel{Hook: &p}, nil
	case "trigger_event":
		name, _ := cfg["event"].(string)
		p, err := h.eventPanel(c, strings.TrimSpace(name), readonly)
		if err != nil {
			return nil, err
		}
		return &views.TriggerPanel{Event: &p}, nil
	}
	return nil, nil
}

// hookPanel builds a webhook trigger's section. An editor's first look
// (a POST: the node panel) creates the hook, whose URL is what they came
// for; a viewer's does not, nor does a GET.
// reveal opens the secrets and writes the example request, whose body
// follows the mapping posted with the panel's form (f.profile_id, …).
func (h *Handler) hookPanel(c *fiber.Ctx, j store.Journey, reveal bool, change func(context.Context) (hooks.Hook, error)) (views.HookPanel, error) {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	p := views.HookPanel{JourneyID: j.ID, Available: h.hooks != nil, CanManage: canEdit(c), CanListen: mayReadProfiles(c)}
	if h.hooks == nil {
		return p, nil
	}
	var (
		hk  hooks.Hook
		err error
	)
	switch {
	case change != nil:
		hk, err = change(ctx)
	case reveal || (p.CanManage && j.HookKey == "" && c.Method() == fiber.MethodPost):
		hk, err = h.hooks.Get(ctx, ws, j.ID)
	default:
		hk, _, err = h.hooks.Peek(ctx, ws, j.ID)
	}
	if err != nil {
		return p, err
	}
	p.URL, p.Scheme = hk.URL, hk.Scheme
	if p.URL == "" {
		return p, nil
	}
	if reveal && p.CanManage {
		p.Revealed = true
		for i, sec := range hk.Secrets {
			label := "Signing secret"
			if i < len(hk.Expires) && !hk.Expires[i].IsZero() {
				label = "Previous secret, valid until " + hk.Expires[i].UTC().Format("2 Jan 15:04 UTC")
			}
			p.Secrets = append(p.Secrets, views.HookSecret{Value: sec, Label: label})
		}
		if len(hk.Secrets) > 0 {
			p.Curl = hookCurl(hk.URL, hk.Scheme, hk.Secrets[0], exampleBody(postedMapping(c)))
		}
		p.RotateNote = fmt.Sprintf("A new secret signs from now on. The current one stays valid for %s, until %s, so senders can switch without losing a request.",
			hookGrace(), h.cfg.Now().Add(hooks.RotationGrace).UTC().Format("2 Jan 15:04 UTC"))
	}
	if p.CanListen {
		p.Listen, err = h.listenArea(c, j.ID, "idle", time.Time{}, time.Time{})
	}
	return p, err
}

func hookGrace() string {
	if hooks.RotationGrace%time.Hour == 0 {
		return strconv.Itoa(int(hooks.RotationGrace/time.Hour)) + " hours"
	}
	return hooks.RotationGrace.String()
}

// postedMapping reads the webhook trigger's mapping fields from the
// panel's form, posted along with its buttons.
func postedMapping(c *fiber.Ctx) map[string]string {
	out := map[string]string{}
	for _, f := range []string{"profile_id", "email", "phone"} {
		out[f] = c.FormValue("f." + f)
	}
	return out
}

// hookJourney loads the journey a hook request is about.
func (h *Handler) hookJourney(c *fiber.Ctx) (store.Journey, error) {
	j, err := h.store.GetJourney(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if err != nil {
		return store.Journey{}, httpkit.JourneyError(err)
	}
	return j, nil
}

// renderHook answers with the hook section (status 422 when it carries an
// error about the request).
func (h *Handler) renderHook(c *fiber.Ctx, status int, p views.HookPanel) error {
	return h.renderStatus(c, status, views.HookSection(p))
}

// hookShow: GET /journeys/:id/hook — the section with the secret hidden.
func (h *Handler) hookShow(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	p, err := h.hookPanel(c, j, false, nil)
	if err != nil {
		return err
	}
	return h.renderHook(c, fiber.StatusOK, p)
}

// hookReveal: POST /journeys/:id/hook/reveal — the secrets and a signed
// example request.
func (h *Handler) hookReveal(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	p, err := h.hookPanel(c, j, true, nil)
	if err != nil {
		return err
	}
	return h.renderHook(c, fiber.StatusOK, p)
}

// hookRotate: POST /journeys/:id/hook/rotate — a new secret; the previous
// one stays valid for hooks.RotationGrace (audited).
func (h *Handler) hookRotate(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	p, err := h.hookPanel(c, j, true, func(ctx context.Context) (hooks.Hook, error) {
		hk, err := h.hooks.Rotate(ctx, httpkit.Workspace(c), j.ID)
		if err != nil {
			return hk, err
		}
		return hk, httpkit.Audit(c, h.store, "journey.hook_rotate", "journey", j.ID, map[string]any{"valid_secrets": len(hk.Secrets), "via": "editor"})
	})
	if err != nil {
		return err
	}
	p.Notice = "The secret was rotated. Sign with the new one; the previous one stays valid for " + hookGrace() + "."
	return h.renderHook(c, fiber.StatusOK, p)
}

// hookScheme: POST /journeys/:id/hook/scheme (scheme=standard|github) —
// how requests are signed (audited). Anything else is 422 with the
// section saying what to choose.
func (h *Handler) hookScheme(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	scheme := c.FormValue("scheme")
	if scheme != store.HookStandard && scheme != store.HookGitHub {
		p, err := h.hookPanel(c, j, true, nil)
		if err != nil {
			return err
		}
		p.Error = fmt.Sprintf("scheme: choose %q (Standard Webhooks) or %q (GitHub-style), not %q", store.HookStandard, store.HookGitHub, clipString(scheme, 40))
		return h.renderHook(c, fiber.StatusUnprocessableEntity, p)
	}
	p, err := h.hookPanel(c, j, true, func(ctx context.Context) (hooks.Hook, error) {
		hk, err := h.hooks.SetScheme(ctx, httpkit.Workspace(c), j.ID, scheme)
		if err != nil {
			return hk, err
		}
		return hk, httpkit.Audit(c, h.store, "journey.hook_scheme", "journey", j.ID, map[string]any{"scheme": hk.Scheme, "via": "editor"})
	})
	if err != nil {
		return err
	}
	p.Notice = "Requests are now checked for " + p.SchemeTitle() + " signatures."
	return h.renderHook(c, fiber.StatusOK, p)
}

// hookListen: POST /journeys/:id/hook/listen — keep the requests to the
// hook for hooks.ListenFor; the area then polls hookSamples.
func (h *Handler) hookListen(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	since, until, err := h.hooks.Listen(c.UserContext(), httpkit.Workspace(c), j.ID)
	if err != nil {
		return err
	}
	l, err := h.listenArea(c, j.ID, "listening", since, until)
	if err != nil {
		return err
	}
	return render(c, views.HookListenArea(l))
}

// hookSamples: GET /journeys/:id/hook/samples?since=&until= (Unix
// milliseconds, the window hookListen answered) — what arrived: still
// listening until a signed request arrives or the window ends; stop=1
// ends it now.
func (h *Handler) hookSamples(c *fiber.Ctx) error {
	j, err := h.hookJourney(c)
	if err != nil {
		return err
	}
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	since, err := unixMillis(c, "since")
	if err != nil {
		return err
	}
	until, err := unixMillis(c, "until")
	if err != nil {
		return err
	}
	if until.Before(since) || until.Sub(since) > hooks.ListenFor {
		return httpkit.BadRequest("until: must be at most %s after since", hooks.ListenFor)
	}
	state := "listening"
	switch {
	case c.Query("stop") == "1":
		state = "idle"
	case !h.cfg.Now().Before(until):
		state = "timeout"
	}
	l, err := h.listenArea(c, j.ID, state, since, until)
	if err != nil {
		return err
	}
	return render(c, views.HookListenArea(l))
}

func unixMillis(c *fiber.Ctx, name string) (time.Time, error) {
	raw := c.Query(name)
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, httpkit.BadRequest("%s: want a time in Unix milliseconds, got %q", name, clipString(raw, 32))
	}
	return time.UnixMilli(ms), nil
}

// listenArea builds the listen area. Idle, it shows the newest sample of
// the last hour (so values can still be picked after the panel reopens);
// listening, what arrived since it started. A signed request ends the
// listening; a refused one is listed and the listening goes on.
func (h *Handler) listenArea(c *fiber.Ctx, journeyID, state string, since, until time.Time) (views.HookListen, error) {
	l := views.HookListen{State: state, ListenURL: hookURLFor(journeyID, "listen"), Targets: fillTargets(h.journeys.Registry())}
	samples, err := h.hooks.Samples(c.UserContext(), httpkit.Workspace(c), journeyID, since, arrivalsShown)
	if errors.Is(err, store.ErrNotFound) {
		return l, httpkit.NotFound("journey")
	}
	if err != nil {
		return l, err
	}
	if since.IsZero() && len(samples) > 0 {
		samples = samples[:1] // idle: the newest only
	}
	for _, s := range samples {
		a := arrival(s)
		l.Arrivals = append(l.Arrivals, a)
		if l.Sample == nil && s.Verified {
			aa := a
			l.Sample = &aa
		}
	}
	if l.Sample != nil && state != "idle" {
		state = "done"
	}
	if state == "listening" {
		q := "?since=" + strconv.FormatInt(since.UnixMilli(), 10) + "&until=" + strconv.FormatInt(until.UnixMilli(), 10)
		l.PollURL = hookURLFor(journeyID, "samples") + q
		l.StopURL = l.PollURL + "&stop=1"
		l.UntilText = until.UTC().Format("15:04:05 UTC")
	}
	if state == "done" {
		state = "idle"
	}
	if state == "timeout" && len(l.Arrivals) > 0 {
		state = "idle" // something arrived, only refused: the list says why
	}
	l.State = state
	return l, nil
}

func hookURLFor(journeyID, action string) string {
	return "/journeys/" + journeyID + "/hook/" + action
}

// fillTargets are the webhook trigger's expression fields, which a
// sample's values can fill.
func fillTargets(reg *nodes.Registry) []views.FillTarget {
	spec, ok := reg.Lookup("trigger_webhook")
	if !ok {
		return nil
	}
	var out []views.FillTarget
	for _, f := range spec.Fields {
		if f.Type == nodes.Expression {
			title := f.Title
			if title == "" {
				title = f.Name
			}
			out = append(out, views.FillTarget{Field: "f." + f.Name, Label: title})
		}
	}
	return out
}

// arrival describes a captured request: what its sender was answered, and
// its body when it may be shown.
func arrival(s store.HookSample) views.HookArrival {
	a := views.HookArrival{At: s.ReceivedAt.UTC().Format("15:04:05 UTC"), Status: s.Status, Code: s.Code, RunID: s.RunID,
		OK: s.Status >= 200 && s.Status < 300}
	switch {
	case s.Status == fiber.StatusAccepted:
		a.Outcome = "Started a run (202)."
	case a.OK:
		a.Outcome = "Accepted, no run started (" + strconv.Itoa(s.Status) + "): " + s.Message
	case s.Code == "journey_not_live":
		a.Outcome = "Not started (409 journey_not_live): " + s.Message + ". Publish the journey to start runs; the body is shown below."
	default:
		a.Outcome = "Answered " + strconv.Itoa(s.Status) + " " + s.Code + ": " + s.Message
	}
	if !s.Verified {
		a.Outcome += " The body of an unsigned or wrongly signed request is not shown."
		return a
	}
	switch {
	case s.Body == "" && s.BodySize > hooks.MaxSampleBody:
		a.Note = fmt.Sprintf("The body (%d KB) is too large to show here: at most %d KB are kept.", (s.BodySize+1023)/1024, hooks.MaxSampleBody>>10)
	case s.Body == "" && s.BodySize > 0:
		a.Note = "The body is not UTF-8 text, so it is not shown."
	case s.Body == "":
		a.Note = "The request had an empty body."
	default:
		if tree, err := sampleTree([]byte(s.Body)); err == nil {
			a.Tree = tree
		} else {
			a.Raw = s.Body
			if r := []rune(s.Body); len(r) > maxSampleRaw {
				a.Raw = string(r[:maxSampleRaw]) + "…"
			}
		}
	}
	return a
}

// eventPanel builds an event trigger's section.
func (h *Handler) eventPanel(c *fiber.Ctx, name string, readonly bool) (views.EventPanel, error) {
	base := h.cfg.TrustedOrigin
	if base == "" {
		base = c.BaseURL()
	}
	p := views.EventPanel{EventName: name, Curl: eventCurl(base, name), CanPick: !readonly}
	names, err := h.store.RecentEventNames(c.UserContext(), httpkit.Workspace(c), recentEventNames)
	if err != nil {
		return p, err
	}
	now := h.cfg.Now()
	for _, n := range names {
		p.Recent = append(p.Recent, views.RecentEvent{Name: n.Name, LastSeen: ago(now, n.LastSeen), Current: n.Name == name})
	}
	return p, nil
}

// ago says how long before now t was, in words.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
