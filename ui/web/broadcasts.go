package web

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Broadcasts' pages (internal/broadcasts, docs/broadcasts.md): the list,
// the new-broadcast form, and a broadcast's page whose numbers refresh
// while it runs, with its Cancel button.

func (h *Handler) broadcastRoutes(r fiber.Router) {
	r.Get("/broadcasts", h.needBroadcasts, h.broadcastList)
	r.Get("/broadcasts/new", h.needBroadcasts, h.broadcastNew)
	r.Post("/broadcasts", h.needBroadcasts, h.broadcastCreate)
	r.Get("/broadcasts/:id", h.needBroadcasts, h.broadcastShow)
	r.Get("/broadcasts/:id/progress", h.needBroadcasts, h.broadcastProgress)
	r.Post("/broadcasts/:id/cancel", h.needBroadcasts, h.broadcastCancel)
}

func (h *Handler) needBroadcasts(c *fiber.Ctx) error {
	if h.broadcasts == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "broadcasts are not configured on this server")
	}
	return c.Next()
}

const broadcastTime = "2006-01-02 15:04"

func (h *Handler) broadcastList(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	bs, _, err := h.broadcasts.List(c.UserContext(), u.WorkspaceID, c.Query("cursor"), 100)
	if err != nil {
		return err
	}
	rows := make([]views.BroadcastRow, len(bs))
	for i, b := range bs {
		rows[i] = views.BroadcastRow{ID: b.ID, Name: b.Name, Status: b.Status, Channel: b.Channel,
			Scheduled: b.ScheduledAt.UTC().Format(broadcastTime), Sent: b.Progress.Sent, Matched: b.Progress.Matched}
	}
	return render(c, views.BroadcastsPage(h.broadcastPage(c, "Broadcasts"), rows, canEdit(c)))
}

// segmentLister is the saved segments' store, when it has them (the
// audience picker).
type segmentLister interface {
	ListSegments(ctx context.Context, workspaceID string) ([]store.Segment, error)
}

func (h *Handler) broadcastSegments(c *fiber.Ctx) []string {
	sl, ok := h.store.(segmentLister)
	if !ok {
		return nil
	}
	u, _ := httpkit.User(c)
	segs, err := sl.ListSegments(c.UserContext(), u.WorkspaceID)
	if err != nil {
		return nil
	}
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.Name
	}
	return out
}

func (h *Handler) broadcastNew(c *fiber.Ctx) error {
	f := views.BroadcastForm{Audience: "true", Channel: "email", Connector: "sandbox", When: "now", CapPeriod: "day", Segments: h.broadcastSegments(c)}
	return render(c, views.BroadcastNewPage(h.broadcastPage(c, "New broadcast"), f))
}

// broadcastPage is the layout's props with the broadcasts' stylesheet.
func (h *Handler) broadcastPage(c *fiber.Ctx, title string) views.Page {
	p := h.page(c, title)
	p.Styles = []string{h.assetURLs["broadcasts.css"]}
	return p
}

// broadcastInput reads the form; problems it finds itself (a time or a
// number that does not parse) are returned by field.
func broadcastInput(f views.BroadcastForm) (broadcasts.Input, views.FieldErrors) {
	errs := views.FieldErrors{}
	in := broadcasts.Input{Name: f.Name, Audience: f.Audience, Channel: f.Channel, Connector: f.Connector, Timezone: strings.TrimSpace(f.Timezone)}
	if f.Segment != "" {
		in.Audience = "in_segment(" + strconv.Quote(f.Segment) + ")"
	}
	// Only the fields of the chosen channel are sent; the others may hold
	// what was typed before the channel changed.
	switch f.Channel {
	case "email":
		in.Subject, in.HTML, in.Text = f.Subject, f.HTML, f.Text
	case "sms":
		in.Text = f.Text
	case "webhook":
		in.Payload = f.Payload
	}
	if f.When == "later" {
		t, err := time.Parse("2006-01-02T15:04", f.ScheduledAt)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05", f.ScheduledAt) // a browser may add seconds
		}
		if err != nil {
			errs["scheduled_at"] = "pick a date and time (UTC)"
		} else {
			in.ScheduledAt = &t
		}
	}
	switch {
	case f.QuietStart != "" && f.QuietEnd != "":
		in.QuietHours = &broadcasts.QuietHours{Start: f.QuietStart, End: f.QuietEnd}
	case f.QuietStart != "" || f.QuietEnd != "":
		errs["quiet_hours"] = "give both the start and the end, or neither"
	}
	if f.CapCount != "" {
		n, err := strconv.Atoi(f.CapCount)
		if err != nil {
			errs["frequency_cap"] = "a whole number of messages, 1 to 1000"
		} else {
			in.FrequencyCap = &broadcasts.FrequencyCap{Count: n, Period: f.CapPeriod}
		}
	}
	return in, errs
}

func (h *Handler) broadcastCreate(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	f := views.BroadcastForm{
		Name: c.FormValue("name"), Audience: c.FormValue("audience"), Segment: c.FormValue("segment"), Channel: c.FormValue("channel"),
		Connector: c.FormValue("connector"), Subject: c.FormValue("subject"), HTML: c.FormValue("html"), Text: c.FormValue("text"),
		Payload: c.FormValue("payload"), When: c.FormValue("when"), ScheduledAt: c.FormValue("scheduled_at"), Timezone: c.FormValue("timezone"),
		QuietStart: c.FormValue("quiet_start"), QuietEnd: c.FormValue("quiet_end"), CapCount: c.FormValue("cap_count"), CapPeriod: c.FormValue("cap_period"),
	}
	in, errs := broadcastInput(f)
	refuse := func(errs views.FieldErrors) error {
		f.Errors, f.Segments = errs, h.broadcastSegments(c)
		f.FormError = "The broadcast was not created: see the fields below."
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.BroadcastNewPage(h.broadcastPage(c, "New broadcast"), f))
	}
	if len(errs) > 0 {
		return refuse(errs)
	}
	b, err := h.broadcasts.Create(c.UserContext(), u.WorkspaceID, in, httpkit.ActorName(c))
	var inv *broadcasts.InvalidError
	if errors.As(err, &inv) {
		for _, p := range inv.Problems {
			field := p.Field
			if i := strings.IndexByte(field, '.'); i > 0 {
				field = field[:i] // quiet_hours.start → quiet_hours
			}
			if errs[field] == "" {
				errs[field] = p.Message
			}
		}
		return refuse(errs)
	}
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "broadcast.create", "broadcast", b.ID,
		map[string]any{"name": b.Name, "channel": b.Channel, "journey_id": b.JourneyID, "scheduled_at": b.ScheduledAt}); err != nil {
		return err
	}
	return c.Redirect("/broadcasts/"+b.ID, fiber.StatusSeeOther)
}

func toBroadcastProgress(b broadcasts.Broadcast) views.BroadcastProgress {
	p := b.Progress
	return views.BroadcastProgress{ID: b.ID, Status: b.Status, Entering: p.Entering, Scanned: p.Scanned, Matched: p.Matched, Entered: p.Entered,
		Sent: p.Sent, NoConsent: p.NoConsent, Suppressed: p.Suppressed, FrequencyCap: p.FrequencyCap, QuietHours: p.QuietHours,
		Failed: p.Failed, Unknown: p.Unknown, Waiting: p.Waiting, Cancelled: p.Cancelled, Error: p.Error}
}

func (h *Handler) broadcastGet(c *fiber.Ctx) (broadcasts.Broadcast, error) {
	u, _ := httpkit.User(c)
	b, err := h.broadcasts.Get(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return b, httpkit.NotFound("broadcast")
	}
	return b, err
}

func (h *Handler) broadcastShow(c *fiber.Ctx) error {
	b, err := h.broadcastGet(c)
	if err != nil {
		return err
	}
	d := views.BroadcastDetail{ID: b.ID, Name: b.Name, Status: b.Status, Channel: b.Channel, Connector: b.Connector, Audience: b.Audience,
		JourneyID: b.JourneyID, Scheduled: b.ScheduledAt.UTC().Format(broadcastTime), CreatedBy: b.CreatedBy, CancelledBy: b.CancelledBy,
		CanCancel: canEdit(c) && (b.Status == store.BroadcastScheduled || b.Status == store.BroadcastSending), Progress: toBroadcastProgress(b)}
	if b.FinishedAt != nil {
		d.Finished = b.FinishedAt.UTC().Format(broadcastTime)
	}
	p := h.broadcastPage(c, b.Name)
	p.Scripts = []string{h.assetURLs["vendor/htmx.min.js"]}
	return render(c, views.BroadcastPage(p, d))
}

// broadcastProgress is the show page's refreshing numbers (htmx).
func (h *Handler) broadcastProgress(c *fiber.Ctx) error {
	b, err := h.broadcastGet(c)
	if err != nil {
		return err
	}
	if b.Status != store.BroadcastScheduled && b.Status != store.BroadcastSending {
		// Ended: reload the page so the Cancel button goes and the end shows.
		c.Set("HX-Refresh", "true")
	}
	return render(c, views.BroadcastProgressView(toBroadcastProgress(b)))
}

func (h *Handler) broadcastCancel(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	b, err := h.broadcasts.Cancel(c.UserContext(), u.WorkspaceID, c.Params("id"), httpkit.ActorName(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpkit.NotFound("broadcast")
	case errors.Is(err, broadcasts.ErrEnded):
		return httpkit.NewError(fiber.StatusConflict, "broadcast_ended", "this broadcast has already ended")
	case err != nil:
		return err
	}
	if err := httpkit.Audit(c, h.store, "broadcast.cancel", "broadcast", b.ID, map[string]any{"name": b.Name, "sent": b.Progress.Sent}); err != nil {
		return err
	}
	return c.Redirect("/broadcasts/"+b.ID, fiber.StatusSeeOther)
}
