package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Publishing from the editor is two steps: GET /journeys/:id/publish
// renders the review (every problem, or the diff against the live
// version), and the confirmation POSTs the draft revision that was
// reviewed, so what goes live is what the user saw.

func (h *Handler) journeyPublishReview(c *fiber.Ctx) error {
	j, err := h.store.GetJourney(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	r, err := h.publishReview(c, j)
	if err != nil {
		return err
	}
	m, err := h.migrationView(c, j, r, nil, false)
	if err != nil {
		return err
	}
	return render(c, views.PublishReviewView(h.page(c, ""), r, m))
}

func (h *Handler) publishReview(c *fiber.Ctx, j store.Journey) (views.PublishReview, error) {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	r := views.PublishReview{JourneyID: j.ID, Name: j.Name, Revision: j.DraftRevision, LiveVersion: j.LiveVersion}
	if j.Status == store.JourneyArchived {
		r.Problems = []views.ProblemItem{{Message: "This journey is archived: it cannot be published again. Duplicate it to reuse it."}}
		return r, nil
	}
	draft, problems, err := h.journeys.Check(ctx, ws, j.Draft)
	if ps, ok := journeys.IsInvalid(err); ok {
		problems, err = ps, nil
	}
	if err != nil {
		return r, err
	}
	if len(problems) > 0 {
		r.Problems = problemItems(h.journeys.Registry(), draft, problems)
		return r, nil
	}
	r.Nodes, r.Edges = len(draft.Nodes), len(draft.Edges)
	if j.LiveVersion == 0 {
		r.FirstPublish = true
		return r, nil
	}
	live, err := h.journeys.Document(ctx, ws, j.ID, j.LiveVersion)
	if err != nil {
		return r, err
	}
	d := flows.Diff(live, draft)
	r.NoChanges = d.Empty()
	r.Changes = diffGroups(h.journeys.Registry(), live, draft, d)
	return r, nil
}

// migrationView runs the plan dry against the live version's runs and
// lays it out for the review (issue 10, migration planner).
func (h *Handler) migrationView(c *fiber.Ctx, j store.Journey, r views.PublishReview, plan journeys.Plan, checked bool) (views.PublishMigration, error) {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	var m views.PublishMigration
	if j.LiveVersion > 0 {
		prev, err := h.journeys.PreviousVersion(ctx, ws, j.ID)
		if err != nil && !errors.Is(err, journeys.ErrNothingToRollBack) {
			return m, err
		}
		m.PreviousVersion = prev
	}
	if len(r.Problems) > 0 || r.FirstPublish || j.Status == store.JourneyArchived {
		return m, nil
	}
	_, rep, err := h.journeys.PublishPlan(ctx, ws, j.ID, journeys.PublishRequest{Plan: plan, DryRun: true})
	var pe *journeys.PlanError
	switch {
	case errors.As(err, &pe):
		m.Problems = problemItems(h.journeys.Registry(), nil, pe.Problems)
		checked = false
	case err != nil:
		if _, invalid := journeys.IsInvalid(err); invalid {
			return m, nil
		}
		return m, err
	}
	m.Checked = checked
	m.Stay, m.Move, m.Exit = rep.Stay, rep.Move, rep.Exit
	// Steps by title: the live version's for its lines, the draft's for
	// the targets.
	vs := h.versionSteps(ws)
	liveNames, err := vs.of(ctx, j.ID, j.LiveVersion)
	if err != nil {
		return m, err
	}
	draftNames, err := vs.of(ctx, j.ID, 0)
	if err != nil {
		return m, err
	}
	reg := h.journeys.Registry()
	for _, n := range rep.NewNodes {
		m.Targets = append(m.Targets, views.MigrationTarget{Value: "move:" + n.ID, Label: stepWithKind(draftNames.name(n.ID), kindTitle(reg, n.Kind))})
	}
	for _, l := range rep.Nodes {
		choice := l.Action
		switch {
		case choice == journeys.PlanMove:
			choice = "move:" + l.To
		case l.Deleted && l.Waiting > 0 && choice == journeys.PlanStay:
			if np, given := plan[l.NodeID]; !given || np.Action == "" {
				choice = ""
			}
		}
		title, kind := liveNames.name(l.NodeID), kindTitle(reg, l.Kind)
		if title == kind {
			kind = ""
		}
		m.Lines = append(m.Lines, views.MigrationLine{NodeID: l.NodeID, Title: title, Kind: kind, Deleted: l.Deleted,
			Waiting: l.Waiting, Active: l.Active, Choice: choice})
	}
	for i, pr := range m.Problems {
		if pr.NodeID != "" {
			m.Problems[i].NodeTitle = liveNames.name(pr.NodeID)
		}
	}
	return m, nil
}

// stepWithKind is "Welcome email (Send email)", or the kind alone when the
// step has no title of its own.
func stepWithKind(title, kind string) string {
	if title == kind || kind == "" || strings.HasPrefix(title, kind+" (") {
		return title
	}
	return title + " (" + kind + ")"
}

// formPlan reads the review's plan fields: plan.<node id> = stay, exit or
// move:<node id of the new version>; an empty choice is left out.
func formPlan(c *fiber.Ctx) (journeys.Plan, error) {
	plan := journeys.Plan{}
	var bad error
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		key, val := string(k), strings.TrimSpace(string(v))
		id, ok := strings.CutPrefix(key, "plan.")
		if !ok || val == "" {
			return
		}
		switch {
		case val == journeys.PlanStay || val == journeys.PlanExit:
			plan[id] = journeys.NodePlan{Action: val}
		case strings.HasPrefix(val, "move:"):
			plan[id] = journeys.NodePlan{Action: journeys.PlanMove, To: strings.TrimPrefix(val, "move:")}
		default:
			bad = httpkit.BadRequest("%s: want stay, exit or move:<node id>", key)
		}
	})
	return plan, bad
}

func (h *Handler) journeyPublish(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	plan, err := formPlan(c)
	if err != nil {
		return err
	}
	rerender := func(status int, msg string) error {
		r, err := h.publishReview(c, j)
		if err != nil {
			return err
		}
		r.Error = msg
		m, err := h.migrationView(c, j, r, plan, status == fiber.StatusOK)
		if err != nil {
			return err
		}
		return h.renderStatus(c, status, views.PublishReviewView(h.page(c, ""), r, m))
	}
	if c.Query("dry_run") == "1" {
		return rerender(fiber.StatusOK, "")
	}
	rev, err := strconv.Atoi(c.FormValue("revision"))
	if err != nil || rev < 1 {
		return httpkit.BadRequest("revision: required (the draft revision you reviewed)")
	}
	if rev != j.DraftRevision {
		return rerender(fiber.StatusConflict, "The draft changed after you opened this review (someone saved it). Check the changes below again.")
	}
	v, rep, err := h.journeys.PublishPlan(ctx, ws, j.ID, journeys.PublishRequest{Plan: plan, By: httpkit.ActorName(c), Audit: httpkit.AuditActor(c), DraftRevision: rev})
	if errors.Is(err, store.ErrConflict) && !errors.As(err, new(*journeys.PlanError)) {
		if now, gerr := h.store.GetJourney(ctx, ws, j.ID); gerr == nil && now.DraftRevision != rev {
			return rerender(fiber.StatusConflict, "The draft changed after you opened this review (someone saved it). Check the changes below again.")
		}
	}
	var pe *journeys.PlanError
	if errors.As(err, &pe) {
		return rerender(fiber.StatusUnprocessableEntity, "Choose what happens to the runs waiting at deleted steps.")
	}
	if _, ok := journeys.IsInvalid(err); ok {
		return rerender(fiber.StatusUnprocessableEntity, "")
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return h.renderPublished(c, v.JourneyID, v.Version, rep, views.PublishOutcome{})
}

func (h *Handler) renderPublished(c *fiber.Ctx, id string, version int, rep journeys.MigrationReport, o views.PublishOutcome) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, id)
	if err != nil {
		return err
	}
	o.Moved, o.Exited, o.Skipped = rep.Moved, rep.Exited, len(rep.Skipped)
	if prev, err := h.journeys.PreviousVersion(ctx, ws, id); err == nil {
		o.PreviousVersion = prev
	}
	return render(c, views.PublishedView(h.page(c, ""), views.Published{
		JourneyID: j.ID, Version: version, Status: j.Status,
		Result: fiber.Map{"status": j.Status, "live_version": j.LiveVersion, "revision": j.DraftRevision},
	}, o))
}

// journeyRollback makes the previous version live again (one action).
func (h *Handler) journeyRollback(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	before, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	restored, err := h.journeys.PreviousVersion(ctx, ws, before.ID)
	if err != nil {
		return httpkit.RollbackError(err)
	}
	v, rep, err := h.journeys.Rollback(ctx, ws, before.ID, httpkit.ActorName(c), httpkit.AuditActor(c))
	if err != nil {
		return httpkit.RollbackError(err)
	}
	after, err := h.store.GetJourney(ctx, ws, before.ID)
	if err != nil {
		return err
	}
	return h.renderPublished(c, v.JourneyID, v.Version, rep, views.PublishOutcome{RolledBack: true, RestoredVersion: restored,
		DraftReset: after.DraftRevision != before.DraftRevision})
}

// problemItems names each problem's node by its title and its field by
// the labels of the node's spec ("Variants › 1st › Port name"); the
// field path stays for focusing the field.
func problemItems(reg *nodes.Registry, doc *flows.Journey, ps []flows.Problem) []views.ProblemItem {
	names := newStepNames(reg, doc)
	kinds := map[string]string{}
	if doc != nil {
		for _, n := range doc.Nodes {
			kinds[n.ID] = n.Kind
		}
	}
	out := make([]views.ProblemItem, len(ps))
	for i, p := range ps {
		out[i] = views.ProblemItem{NodeID: p.NodeID, Field: p.Field, Message: p.Message, FieldLabel: problemFieldLabel(reg, kinds[p.NodeID], p)}
		if p.NodeID != "" {
			out[i].NodeTitle = names.name(p.NodeID)
		}
	}
	return out
}

// problemFieldLabel is a problem's field as people read it: by the labels
// of its node's spec, or of the journey's settings.
func problemFieldLabel(reg *nodes.Registry, kind string, p flows.Problem) string {
	if p.Field == "" {
		return ""
	}
	var spec *nodes.Spec
	if reg != nil && kind != "" {
		if s, ok := reg.Lookup(kind); ok {
			spec = &s
		}
	}
	return fieldLabel(spec, p.Field)
}

// diffGroups turns a diff into sections a marketer can read: steps by
// title (an untitled step by its kind, its id after it), kinds and fields
// by their labels.
func diffGroups(reg *nodes.Registry, a, b *flows.Journey, d flows.JourneyDiff) []views.ChangeGroup {
	ta, tb := nodeTitles(a), nodeTitles(b)
	kindOf := map[string]string{}
	for _, doc := range []*flows.Journey{a, b} {
		for _, n := range doc.Nodes {
			kindOf[n.ID] = n.Kind
		}
	}
	title := func(id string) string {
		if t := tb[id]; t != "" && t != id {
			return t
		}
		if t := ta[id]; t != "" && t != id {
			return t
		}
		if k := kindTitle(reg, kindOf[id]); k != "" && k != kindOf[id] {
			return k + " (" + id + ")"
		}
		return id
	}
	field := func(id, path string) string {
		switch path {
		case "title", "kind":
			return humanize(path)
		}
		var spec *nodes.Spec
		if reg != nil {
			if sp, ok := reg.Lookup(kindOf[id]); ok {
				spec = &sp
			}
		}
		return fieldLabel(spec, path)
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
			g.Items = append(g.Items, views.ChangeItem{Label: "Setting " + fieldLabel(nil, ch.Path) + ": " + changeText(ch)})
		}
		out = append(out, g)
	}
	if len(d.Added) > 0 {
		g := views.ChangeGroup{Title: "Added steps", Kind: "added"}
		for _, id := range d.Added {
			g.Items = append(g.Items, views.ChangeItem{Label: stepWithKind(title(id), kindTitle(reg, kinds[id]))})
		}
		out = append(out, g)
	}
	if len(d.Removed) > 0 {
		g := views.ChangeGroup{Title: "Removed steps", Kind: "removed"}
		for _, id := range d.Removed {
			g.Items = append(g.Items, views.ChangeItem{Label: stepWithKind(title(id), kindTitle(reg, kinds[id]))})
		}
		out = append(out, g)
	}
	if len(d.Changed) > 0 {
		g := views.ChangeGroup{Title: "Changed steps", Kind: "changed"}
		for _, nc := range d.Changed {
			it := views.ChangeItem{Label: title(nc.ID)}
			for _, ch := range nc.Changes {
				it.Details = append(it.Details, field(nc.ID, ch.Path)+": "+changeText(ch))
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
