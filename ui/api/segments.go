package api

import (
	"context"
	"errors"
	"reflect"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// Segments is saved segment administration (*segments.Service).
type Segments interface {
	List(ctx context.Context, workspaceID string) ([]segments.Segment, error)
	Get(ctx context.Context, workspaceID, id string) (segments.Segment, error)
	Create(ctx context.Context, workspaceID, by string, in segments.Input) (segments.Segment, error)
	Update(ctx context.Context, workspaceID, id string, in segments.Input) (segments.Segment, error)
	Delete(ctx context.Context, workspaceID, id string) (segments.Segment, error)
	Estimate(ctx context.Context, workspaceID string, in segments.EstimateInput) (segments.Estimate, error)
}

// segmentRoutes registers /api/v1/segments (docs/segments.md).
func (h *Handler) segmentRoutes(api fiber.Router) {
	api.Get("/segments", h.needSegments, h.apiSegmentList)
	api.Post("/segments", h.needSegments, h.apiSegmentCreate)
	api.Post("/segments/estimate", h.needSegments, h.apiSegmentEstimate)
	api.Get("/segments/:id", h.needSegments, h.apiSegmentGet)
	api.Put("/segments/:id", h.needSegments, h.apiSegmentUpdate)
	api.Delete("/segments/:id", h.needSegments, h.apiSegmentDelete)
}

func (h *Handler) needSegments(c *fiber.Ctx) error {
	if h.segments == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "segments_unavailable", "saved segments are not configured on this server")
	}
	return c.Next()
}

type savedSegmentJSON struct {
	segments.Segment
}

type savedSegmentListJSON struct {
	Segments []savedSegmentJSON `json:"segments"`
}

type segmentInputJSON struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Expr        string         `json:"expr,omitempty"`
	Rules       *segments.Rule `json:"rules,omitempty"`
}

type segmentEstimateRequestJSON struct {
	Expr  string         `json:"expr,omitempty"`
	Rules *segments.Rule `json:"rules,omitempty"`
}

type segmentEstimateJSON struct {
	segments.Estimate
	Text string `json:"text"`
}

// SegmentError maps the segment service's errors to HTTP: 422 with every
// problem naming its field (rules[2].value), 404, 409 for a segment in use.
func SegmentError(err error) error {
	var ve *segments.ValidationError
	var inUse *segments.InUseError
	switch {
	case errors.As(err, &ve):
		ds := make([]httpkit.Detail, len(ve.Problems))
		for i, p := range ve.Problems {
			ds[i] = httpkit.Detail{Field: p.Field, Message: p.Message}
		}
		return httpkit.Invalid(ds)
	case errors.Is(err, segments.ErrNotFound):
		return httpkit.NotFound("segment")
	case errors.As(err, &inUse):
		return httpkit.NewError(fiber.StatusConflict, "segment_in_use", "%s", inUse.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return httpkit.NewError(fiber.StatusServiceUnavailable, "estimate_stopped", "the estimate was stopped before it finished")
	}
	return err
}

func segmentInput(in segmentInputJSON) segments.Input {
	return segments.Input{Name: in.Name, Description: in.Description, Expr: in.Expr, Rules: normalRules(in.Rules)}
}

func normalRules(r *segments.Rule) *segments.Rule {
	if r == nil {
		return nil
	}
	n := segments.Normalize(*r)
	return &n
}

func (h *Handler) apiSegmentList(c *fiber.Ctx) error {
	list, err := h.segments.List(c.UserContext(), httpkit.APIKey(c).WorkspaceID)
	if err != nil {
		return err
	}
	out := savedSegmentListJSON{Segments: make([]savedSegmentJSON, len(list))}
	for i, s := range list {
		out.Segments[i] = savedSegmentJSON{s}
	}
	return c.JSON(out)
}

func (h *Handler) apiSegmentGet(c *fiber.Ctx) error {
	s, err := h.segments.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return SegmentError(err)
	}
	return c.JSON(savedSegmentJSON{s})
}

func (h *Handler) apiSegmentCreate(c *fiber.Ctx) error {
	var in segmentInputJSON
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	key := httpkit.APIKey(c)
	s, err := h.segments.Create(c.UserContext(), key.WorkspaceID, "api_key:"+key.ID, segmentInput(in))
	if err != nil {
		return SegmentError(err)
	}
	if err := httpkit.Audit(c, h.store, "segment.create", "segment", s.ID, map[string]any{"name": s.Name, "expr": s.Expr}); err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/segments/"+s.ID)
	return c.Status(fiber.StatusCreated).JSON(savedSegmentJSON{s})
}

func (h *Handler) apiSegmentUpdate(c *fiber.Ctx) error {
	// Another workspace's segment (or none) is not found, whatever the body.
	if _, err := h.segments.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return SegmentError(err)
	}
	var in segmentInputJSON
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	s, err := h.segments.Update(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), segmentInput(in))
	if err != nil {
		return SegmentError(err)
	}
	if err := httpkit.Audit(c, h.store, "segment.update", "segment", s.ID, map[string]any{"name": s.Name, "expr": s.Expr}); err != nil {
		return err
	}
	return c.JSON(savedSegmentJSON{s})
}

func (h *Handler) apiSegmentDelete(c *fiber.Ctx) error {
	s, err := h.segments.Delete(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return SegmentError(err)
	}
	if err := httpkit.Audit(c, h.store, "segment.delete", "segment", s.ID, map[string]any{"name": s.Name}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// apiSegmentEstimate counts the profiles rules or an expression match
// now. The sample names profiles (personal data): it needs profiles:read
// as well, and is empty without it.
func (h *Handler) apiSegmentEstimate(c *fiber.Ctx) error {
	var in segmentEstimateRequestJSON
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	key := httpkit.APIKey(c)
	est, err := h.segments.Estimate(c.UserContext(), key.WorkspaceID, segments.EstimateInput{Expr: in.Expr, Rules: normalRules(in.Rules)})
	if err != nil {
		return SegmentError(err)
	}
	if !key.HasScope(auth.ScopeProfilesRead) {
		est.Sample = []segments.SampleProfile{}
	}
	return c.JSON(segmentEstimateJSON{Estimate: est, Text: est.String()})
}

// The segment operations join the API's OpenAPI part (openapi.go) here,
// so the segment endpoints are described beside their handlers.
func init() {
	componentNames[reflect.TypeFor[segments.Rule]()] = "SegmentRule"
	componentNames[reflect.TypeFor[savedSegmentJSON]()] = "SavedSegment"
	componentNames[reflect.TypeFor[segmentInputJSON]()] = "SavedSegmentInput"
	componentNames[reflect.TypeFor[segmentEstimateJSON]()] = "SegmentEstimate"
	componentNames[reflect.TypeFor[segments.SampleProfile]()] = "SegmentSampleProfile"
	writeRequired[reflect.TypeFor[segmentInputJSON]()] = []string{"name"}
	for k, op := range segmentOps {
		apiOps[k] = op
	}
}

var segmentOps = map[string]openapi.Op{
	"GET /api/v1/segments": {Summary: "List saved segments by name", Tag: "segments", Result: savedSegmentListJSON{}},
	"POST /api/v1/segments": {Summary: "Create a saved segment from rules (the visual builder's) or an expression; every problem names its field, e.g. rules[2].value",
		Tag: "segments", Body: segmentInputJSON{}, Status: 201, Result: savedSegmentJSON{}, Headers: openapi.Location, Errors: []int{422, 503}},
	"GET /api/v1/segments/{id}": {Summary: "A saved segment", Tag: "segments", Result: savedSegmentJSON{}, Errors: []int{503}},
	"PUT /api/v1/segments/{id}": {Summary: "Replace a saved segment's name, description and definition; journeys that use it follow from their next evaluation",
		Tag: "segments", Body: segmentInputJSON{}, Result: savedSegmentJSON{}, Errors: []int{422, 503}},
	"DELETE /api/v1/segments/{id}": {Summary: "Delete a saved segment (refused while another segment refers to it)", Tag: "segments", Status: 204, Errors: []int{409, 503}},
	"POST /api/v1/segments/estimate": {Summary: "Count the profiles rules or an expression match now, with a sample (the sample needs profiles:read); a scan cut by its budget says at least N",
		Tag: "segments", Body: segmentEstimateRequestJSON{}, Result: segmentEstimateJSON{}, Errors: []int{422, 503}},
}
