package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Segments is saved segment administration (*segments.Service): the
// Segments page, the builder and its live estimate (docs/segments.md).
type Segments interface {
	List(ctx context.Context, workspaceID string) ([]segments.Segment, error)
	Get(ctx context.Context, workspaceID, id string) (segments.Segment, error)
	Create(ctx context.Context, workspaceID, by string, in segments.Input) (segments.Segment, error)
	Update(ctx context.Context, workspaceID, id string, in segments.Input) (segments.Segment, error)
	Delete(ctx context.Context, workspaceID, id string) (segments.Segment, error)
	Estimate(ctx context.Context, workspaceID string, in segments.EstimateInput) (segments.Estimate, error)
	EstimateSegment(ctx context.Context, workspaceID, id string) (segments.Estimate, error)
	Attributes(ctx context.Context, workspaceID string) ([]segments.Attribute, error)
}

// segmentRoutes registers the Segments pages. Viewers read and estimate;
// editors (journeys write) create, change and delete.
func (h *Handler) segmentRoutes(r fiber.Router) {
	r.Get("/segments", h.needSegments, h.segmentList)
	r.Get("/segments/new", h.needSegments, h.segmentNew)
	r.Post("/segments", h.needSegments, h.segmentSave)
	r.Post("/segments/estimate", h.needSegments, h.segmentEstimate)
	r.Get("/segments/:id", h.needSegments, h.segmentEdit)
	r.Post("/segments/:id", h.needSegments, h.segmentSave)
	r.Get("/segments/:id/count", h.needSegments, h.segmentCount)
	r.Post("/segments/:id/delete", h.needSegments, h.segmentDelete)
}

func (h *Handler) needSegments(c *fiber.Ctx) error {
	if h.segments == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "segments_unavailable", "saved segments are not configured on this server")
	}
	return c.Next()
}

func segmentPageError(err error) error {
	if errors.Is(err, segments.ErrNotFound) {
		return httpkit.NotFound("segment")
	}
	var inUse *segments.InUseError
	if errors.As(err, &inUse) {
		return httpkit.NewError(fiber.StatusConflict, "segment_in_use", "%s: change that segment first", inUse.Error())
	}
	return err
}

func (h *Handler) segmentList(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	list, err := h.segments.List(c.UserContext(), u.WorkspaceID)
	if err != nil {
		return err
	}
	s := views.SegmentsPage{CanEdit: httpkit.RoleAllows(u.Role, httpkit.PermJourneysWrite)}
	for _, seg := range list {
		s.Rows = append(s.Rows, views.SegmentRow{ID: seg.ID, Name: seg.Name, Description: seg.Description, Expr: seg.Expr,
			Visual: seg.Rules != nil, Updated: runTime(seg.UpdatedAt)})
	}
	p := h.page(c, "Segments")
	p.Styles = []string{h.assetURLs["segments.css"]}
	p.Scripts = []string{h.assetURLs["vendor/htmx.min.js"], h.assetURLs["app.js"]}
	switch c.Query("done") {
	case "deleted":
		p.Flash = "Segment deleted."
	}
	return render(c, views.SegmentsList(p, s))
}

// segmentCount: GET /segments/{id}/count, the list's "Count" cell.
func (h *Handler) segmentCount(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	est, err := h.segments.EstimateSegment(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if err != nil {
		return segmentPageError(err)
	}
	return render(c, views.SegmentCount(est.String()))
}

func (h *Handler) segmentForm(c *fiber.Ctx, f views.SegmentForm) (views.SegmentForm, error) {
	u, _ := httpkit.User(c)
	ctx := c.UserContext()
	attrs, err := h.segments.Attributes(ctx, u.WorkspaceID)
	if err != nil {
		return f, err
	}
	b, _ := json.Marshal(attrs)
	f.AttributesJSON = string(b)
	list, err := h.segments.List(ctx, u.WorkspaceID)
	if err != nil {
		return f, err
	}
	names := []string{}
	for _, s := range list {
		if s.ID != f.ID {
			names = append(names, s.Name)
		}
	}
	b, _ = json.Marshal(names)
	f.SegmentsJSON = string(b)
	f.CanEdit = httpkit.RoleAllows(u.Role, httpkit.PermJourneysWrite)
	if f.Mode != "expr" {
		f.Mode = "rules"
	}
	if f.RulesJSON == "" {
		f.RulesJSON = `{"match":"all","rules":[]}`
	}
	return f, nil
}

func (h *Handler) renderSegmentForm(c *fiber.Ctx, status int, f views.SegmentForm) error {
	f, err := h.segmentForm(c, f)
	if err != nil {
		return err
	}
	title := "New segment"
	if f.ID != "" {
		title = "Segment " + f.Name
	}
	p := h.page(c, title)
	p.Styles = []string{h.assetURLs["segments.css"]}
	p.Scripts = []string{h.assetURLs["segments.js"]}
	if f.Saved {
		p.Flash = "Segment saved."
	}
	return h.renderStatus(c, status, views.SegmentEdit(p, f))
}

func (h *Handler) segmentNew(c *fiber.Ctx) error {
	return h.renderSegmentForm(c, fiber.StatusOK, views.SegmentForm{})
}

func (h *Handler) segmentEdit(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	s, err := h.segments.Get(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if err != nil {
		return segmentPageError(err)
	}
	f := views.SegmentForm{ID: s.ID, Name: s.Name, Description: s.Description, Expr: s.Expr, Mode: "expr", Saved: c.Query("saved") == "1"}
	if s.Rules != nil {
		b, _ := json.Marshal(s.Rules)
		f.Mode, f.RulesJSON = "rules", string(b)
	}
	return h.renderSegmentForm(c, fiber.StatusOK, f)
}

// readSegmentRules reads the builder's rules field: JSON, bounded in size
// and depth.
func readSegmentRules(s string) (*segments.Rule, *segments.Problem) {
	if len(s) > segments.MaxRulesJSON {
		return nil, &segments.Problem{Field: "rules", Message: "the rules are too large"}
	}
	if err := httpkit.RefuseDeep([]byte(s)); err != nil {
		return nil, &segments.Problem{Field: "rules", Message: "the rules nest too deep"}
	}
	r, err := segments.ParseRules(s)
	if err != nil {
		return nil, &segments.Problem{Field: "rules", Message: "the rules are not valid JSON"}
	}
	return &r, nil
}

// segmentSave: POST /segments (create) and POST /segments/{id} (update):
// the builder's rules (mode rules) or the expression (mode expr).
func (h *Handler) segmentSave(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	id := c.Params("id")
	f := views.SegmentForm{ID: id, Name: strings.TrimSpace(c.FormValue("name")), Description: strings.TrimSpace(c.FormValue("description")),
		Mode: c.FormValue("mode"), RulesJSON: c.FormValue("rules"), Expr: strings.TrimSpace(c.FormValue("expr"))}
	in := segments.Input{Name: f.Name, Description: f.Description}
	if f.Mode == "expr" {
		in.Expr = f.Expr
	} else {
		r, p := readSegmentRules(f.RulesJSON)
		if p != nil {
			f.Problems = []views.SegmentProblem{{Field: p.Field, Message: p.Message}}
			return h.renderSegmentForm(c, fiber.StatusUnprocessableEntity, f)
		}
		in.Rules = r
	}
	var s segments.Segment
	var err error
	action := "segment.update"
	if id == "" {
		action = "segment.create"
		s, err = h.segments.Create(c.UserContext(), u.WorkspaceID, "user:"+u.ID, in)
	} else {
		s, err = h.segments.Update(c.UserContext(), u.WorkspaceID, id, in)
	}
	var ve *segments.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			f.Problems = append(f.Problems, views.SegmentProblem{Field: p.Field, Message: p.Message})
		}
		return h.renderSegmentForm(c, fiber.StatusUnprocessableEntity, f)
	case err != nil:
		return segmentPageError(err)
	}
	if err := httpkit.Audit(c, h.store, action, "segment", s.ID, map[string]any{"name": s.Name, "expr": s.Expr}); err != nil {
		return err
	}
	return c.Redirect("/segments/"+url.PathEscape(s.ID)+"?saved=1", fiber.StatusSeeOther)
}

func (h *Handler) segmentDelete(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	s, err := h.segments.Delete(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if err != nil {
		return segmentPageError(err)
	}
	if err := httpkit.Audit(c, h.store, "segment.delete", "segment", s.ID, map[string]any{"name": s.Name}); err != nil {
		return err
	}
	return c.Redirect("/segments?done=deleted", fiber.StatusSeeOther)
}

// segmentEstimateAnswer is the builder's live estimate.
type segmentEstimateAnswer struct {
	Count    int64                    `json:"count"`
	Exact    bool                     `json:"exact"`
	Text     string                   `json:"text"`
	Expr     string                   `json:"expr"`
	Method   string                   `json:"method"`
	Sample   []segments.SampleProfile `json:"sample"`
	Problems []segments.Problem       `json:"problems,omitempty"`
}

// segmentEstimate: POST /segments/estimate {"rules"} or {"expr"}, the
// builder's live estimate (JSON). The sample names profiles: only for
// roles that may read profiles.
func (h *Handler) segmentEstimate(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	var body struct {
		Rules json.RawMessage `json:"rules"`
		Expr  string          `json:"expr"`
	}
	if err := httpkit.DecodeJSON(c, &body); err != nil {
		return err
	}
	in := segments.EstimateInput{Expr: strings.TrimSpace(body.Expr)}
	if len(body.Rules) > 0 && string(body.Rules) != "null" {
		r, p := readSegmentRules(string(body.Rules))
		if p != nil {
			return c.Status(fiber.StatusUnprocessableEntity).JSON(segmentEstimateAnswer{Problems: []segments.Problem{*p}})
		}
		in.Rules = r
	}
	est, err := h.segments.Estimate(c.UserContext(), u.WorkspaceID, in)
	var ve *segments.ValidationError
	switch {
	case errors.As(err, &ve):
		return c.Status(fiber.StatusUnprocessableEntity).JSON(segmentEstimateAnswer{Problems: ve.Problems})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return httpkit.NewError(fiber.StatusServiceUnavailable, "estimate_stopped", "the estimate was stopped before it finished")
	case err != nil:
		return err
	}
	out := segmentEstimateAnswer{Count: est.Count, Exact: est.Exact, Text: est.String(), Expr: est.Expr, Method: est.Method, Sample: est.Sample}
	if !httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead) {
		out.Sample = []segments.SampleProfile{}
	}
	return c.JSON(out)
}
