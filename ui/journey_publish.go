package ui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/views"
)

// Publishing from the editor is two steps: GET /journeys/:id/publish
// renders the review (every problem, or the diff against the live
// version), and the confirmation POSTs the draft revision that was
// reviewed, so what goes live is what the user saw.

func (s *Server) journeyPublishReview(c *fiber.Ctx) error {
	j, err := s.store.GetJourney(c.UserContext(), currentWorkspace(c), c.Params("id"))
	if err != nil {
		return journeyError(err)
	}
	r, err := s.publishReview(c, j)
	if err != nil {
		return err
	}
	return render(c, views.PublishReviewView(s.page(c, ""), r))
}

func (s *Server) publishReview(c *fiber.Ctx, j store.Journey) (views.PublishReview, error) {
	ctx, ws := c.UserContext(), currentWorkspace(c)
	r := views.PublishReview{JourneyID: j.ID, Name: j.Name, Revision: j.DraftRevision, LiveVersion: j.LiveVersion}
	if j.Status == store.JourneyArchived {
		r.Problems = []views.ProblemItem{{Message: "This journey is archived: it cannot be published again. Duplicate it to reuse it."}}
		return r, nil
	}
	draft, problems, err := s.journeys.Check(ctx, ws, j.Draft)
	if ps, ok := journeys.IsInvalid(err); ok {
		problems, err = ps, nil
	}
	if err != nil {
		return r, err
	}
	if len(problems) > 0 {
		r.Problems = problemItems(draft, problems)
		return r, nil
	}
	r.Nodes, r.Edges = len(draft.Nodes), len(draft.Edges)
	if j.LiveVersion == 0 {
		r.FirstPublish = true
		return r, nil
	}
	live, err := s.journeys.Document(ctx, ws, j.ID, j.LiveVersion)
	if err != nil {
		return r, err
	}
	d := flows.Diff(live, draft)
	r.NoChanges = d.Empty()
	r.Changes = diffGroups(live, draft, d)
	return r, nil
}

func (s *Server) journeyPublish(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), currentWorkspace(c)
	j, err := s.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return journeyError(err)
	}
	rev, err := strconv.Atoi(c.FormValue("revision"))
	if err != nil || rev < 1 {
		return errBadRequest("revision: required (the draft revision you reviewed)")
	}
	if rev != j.DraftRevision {
		r, err := s.publishReview(c, j)
		if err != nil {
			return err
		}
		r.Error = "The draft changed after you opened this review (someone saved it). Check the changes below again."
		return s.renderStatus(c, fiber.StatusConflict, views.PublishReviewView(s.page(c, ""), r))
	}
	v, err := s.journeys.Publish(ctx, ws, j.ID, actorName(c))
	if _, ok := journeys.IsInvalid(err); ok {
		r, rerr := s.publishReview(c, j)
		if rerr != nil {
			return rerr
		}
		return s.renderStatus(c, fiber.StatusUnprocessableEntity, views.PublishReviewView(s.page(c, ""), r))
	}
	if err != nil {
		return journeyError(err)
	}
	if err := s.audit(c, "journey.publish", "journey", j.ID, map[string]any{"version": v.Version}); err != nil {
		return err
	}
	j, err = s.store.GetJourney(ctx, ws, j.ID)
	if err != nil {
		return err
	}
	return render(c, views.PublishedView(s.page(c, ""), views.Published{
		JourneyID: j.ID, Version: v.Version, Status: j.Status,
		Result: fiber.Map{"status": j.Status, "live_version": j.LiveVersion, "revision": j.DraftRevision},
	}))
}

// problemItems names each problem's node by its title.
func problemItems(doc *flows.Journey, ps []flows.Problem) []views.ProblemItem {
	titles := nodeTitles(doc)
	out := make([]views.ProblemItem, len(ps))
	for i, p := range ps {
		out[i] = views.ProblemItem{NodeID: p.NodeID, NodeTitle: titles[p.NodeID], Field: p.Field, Message: p.Message}
		if p.NodeID != "" && out[i].NodeTitle == "" {
			out[i].NodeTitle = p.NodeID
		}
	}
	return out
}

func nodeTitles(doc *flows.Journey) map[string]string {
	m := map[string]string{}
	if doc == nil {
		return m
	}
	for _, n := range doc.Nodes {
		t := n.Title
		if t == "" {
			t = n.ID
		}
		m[n.ID] = t
	}
	return m
}

// diffGroups turns a diff into sections a marketer can read.
func diffGroups(a, b *flows.Journey, d flows.JourneyDiff) []views.ChangeGroup {
	ta, tb := nodeTitles(a), nodeTitles(b)
	title := func(id string) string {
		if t := tb[id]; t != "" {
			return t
		}
		if t := ta[id]; t != "" {
			return t
		}
		return id
	}
	kinds := map[string]string{}
	for _, n := range a.Nodes {
		kinds[n.ID] = n.Kind
	}
	for _, n := range b.Nodes {
		kinds[n.ID] = n.Kind
	}
	var out []views.ChangeGroup
	if d.Name != nil || len(d.Settings) > 0 {
		g := views.ChangeGroup{Title: "Journey", Kind: "settings"}
		if d.Name != nil {
			g.Items = append(g.Items, views.ChangeItem{Label: "Name: " + changeText(*d.Name)})
		}
		for _, ch := range d.Settings {
			g.Items = append(g.Items, views.ChangeItem{Label: "Setting " + ch.Path + ": " + changeText(ch)})
		}
		out = append(out, g)
	}
	if len(d.Added) > 0 {
		g := views.ChangeGroup{Title: "Added steps", Kind: "added"}
		for _, id := range d.Added {
			g.Items = append(g.Items, views.ChangeItem{Label: title(id) + " (" + kinds[id] + ")"})
		}
		out = append(out, g)
	}
	if len(d.Removed) > 0 {
		g := views.ChangeGroup{Title: "Removed steps", Kind: "removed"}
		for _, id := range d.Removed {
			g.Items = append(g.Items, views.ChangeItem{Label: title(id) + " (" + kinds[id] + ")"})
		}
		out = append(out, g)
	}
	if len(d.Changed) > 0 {
		g := views.ChangeGroup{Title: "Changed steps", Kind: "changed"}
		for _, nc := range d.Changed {
			it := views.ChangeItem{Label: title(nc.ID)}
			for _, ch := range nc.Changes {
				it.Details = append(it.Details, ch.Path+": "+changeText(ch))
			}
			g.Items = append(g.Items, it)
		}
		out = append(out, g)
	}
	if len(d.EdgesAdded) > 0 || len(d.EdgesRemoved) > 0 {
		g := views.ChangeGroup{Title: "Connections", Kind: "edges"}
		for _, e := range d.EdgesAdded {
			g.Items = append(g.Items, views.ChangeItem{Label: "Added: " + edgeText(e, title)})
		}
		for _, e := range d.EdgesRemoved {
			g.Items = append(g.Items, views.ChangeItem{Label: "Removed: " + edgeText(e, title)})
		}
		out = append(out, g)
	}
	if len(d.Moved) > 0 {
		out = append(out, views.ChangeGroup{Title: "Layout", Kind: "moved", Items: []views.ChangeItem{
			{Label: fmt.Sprintf("%d step(s) moved on the canvas (no effect on runs)", len(d.Moved))},
		}})
	}
	return out
}

func edgeText(e flows.Edge, title func(string) string) string {
	s := title(e.From)
	if e.Port != "" {
		s += " [" + e.Port + "]"
	}
	return s + " → " + title(e.To)
}

// changeText shows "from → to" with values clipped for reading.
func changeText(ch flows.Change) string {
	switch {
	case ch.From == nil:
		return "set to " + showValue(ch.To)
	case ch.To == nil:
		return "removed (was " + showValue(ch.From) + ")"
	}
	return showValue(ch.From) + " → " + showValue(ch.To)
}

func showValue(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}
