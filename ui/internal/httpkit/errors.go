package httpkit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/store"
)

// Detail names one problem in the request, e.g. a journey node's field.
type Detail struct {
	NodeID  string `json:"node_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is an error with the HTTP status and the code clients see. Handlers
// return it; the composing server's error handler renders it as JSON for
// the API and as a page for the UI, in one place.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []Detail
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// NewError is an Error with a formatted message.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 bad_request.
func BadRequest(format string, args ...any) *Error {
	return NewError(fiber.StatusBadRequest, "bad_request", format, args...)
}

// NotFound is a 404 naming what was not found.
func NotFound(what string) *Error {
	return NewError(fiber.StatusNotFound, "not_found", "%s not found", what)
}

// Invalid is the 422 of a request whose fields are wrong, every problem in
// details.
func Invalid(ds []Detail) error {
	return &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid", Message: ds[0].Field + ": " + ds[0].Message, Details: ds}
}

// NodeError is an Error whose one detail names a journey node's field.
func NodeError(status int, code, nodeID, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Status: status, Code: code, Message: msg, Details: []Detail{{NodeID: nodeID, Field: field, Message: msg}}}
}

// ErrorBody is the JSON shape of every error the API answers.
type ErrorBody struct {
	Error ErrorPayload `json:"error"`
}

// ErrorPayload is ErrorBody's content.
type ErrorPayload struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

// ToError maps any error to the Error clients see.
func ToError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return NewError(fe.Code, "body_too_large", "request body is larger than the limit")
		case fiber.StatusNotFound:
			return NewError(fe.Code, "not_found", "no such page or endpoint")
		case fiber.StatusMethodNotAllowed:
			return NewError(fe.Code, "method_not_allowed", "method not allowed here")
		case fiber.StatusUnsupportedMediaType:
			return NewError(fe.Code, "unsupported_media_type", "%s", fe.Message)
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return NewError(fe.Code, "headers_too_large", "the request line and headers are larger than the server's limit")
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return NewError(fe.Code, strings.ReplaceAll(strings.ToLower(StatusText(fe.Code)), " ", "_"), "%s", fe.Message)
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// The request's context ran out (WAYMARK_REQUEST_TIMEOUT) and its
		// work was cancelled: nothing half-done was committed by it.
		return NewError(fiber.StatusServiceUnavailable, "request_timeout", "the request took longer than the server allows; try again or narrow it")
	case errors.Is(err, store.ErrNotFound):
		return NewError(fiber.StatusNotFound, "not_found", "not found")
	case errors.Is(err, store.ErrConflict):
		return NewError(fiber.StatusConflict, "conflict", "%s", err.Error())
	}
	return &Error{Status: fiber.StatusInternalServerError, Code: "internal", Message: "internal server error"}
}

// StatusText is the reason phrase of an HTTP status.
func StatusText(code int) string {
	if t := utils.StatusMessage(code); t != "" {
		return t
	}
	return "error"
}

// Details turns a document's problems into error details.
func Details(ps []flows.Problem) []Detail {
	out := make([]Detail, len(ps))
	for i, p := range ps {
		out[i] = Detail{NodeID: p.NodeID, Field: p.Field, Message: p.Message}
	}
	return out
}

// JourneyError turns parse and validation failures into 400/422 with every
// problem in details; other errors pass through.
func JourneyError(err error) error {
	var pe *flows.ParseError
	if errors.As(err, &pe) {
		return &Error{Status: fiber.StatusBadRequest, Code: "invalid_document", Message: err.Error(), Details: Details(pe.Problems)}
	}
	var ie *journeys.InvalidError
	if errors.As(err, &ie) {
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_journey", Message: err.Error(), Details: Details(ie.Problems)}
	}
	if pe := PlanError(err); pe != nil {
		return pe
	}
	if errors.Is(err, store.ErrNotFound) {
		return NotFound("journey")
	}
	if errors.Is(err, store.ErrConflict) {
		return NewError(fiber.StatusConflict, "conflict", "%s", err.Error())
	}
	return err
}

// PlanError is the 422 of a migration plan that cannot apply (nil for
// other errors).
func PlanError(err error) error {
	var pe *journeys.PlanError
	if errors.As(err, &pe) {
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_migration_plan", Message: err.Error(), Details: Details(pe.Problems)}
	}
	return nil
}

// RollbackError maps a rollback's errors: nothing to go back to is 409.
func RollbackError(err error) error {
	if errors.Is(err, journeys.ErrNothingToRollBack) {
		return NewError(fiber.StatusConflict, "nothing_to_roll_back", "%s", err.Error())
	}
	return JourneyError(err)
}

// RunError maps a run's not found and conflict.
func RunError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return NotFound("run")
	case errors.Is(err, store.ErrConflict):
		return NewError(fiber.StatusConflict, "conflict", "%s", err.Error())
	}
	return err
}

// ConnectorError maps the connector service's errors to HTTP: validation
// 422 with one detail per field, in use 409 listing the journeys.
func ConnectorError(err error) error {
	var ve *connectors.ValidationError
	if errors.As(err, &ve) {
		e := &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_connector", Message: ve.Error()}
		for _, p := range ve.Problems {
			e.Details = append(e.Details, Detail{Field: apiField(p.Field), Message: p.Message})
		}
		return e
	}
	var iu *connectors.InUseError
	if errors.As(err, &iu) {
		e := &Error{Status: fiber.StatusConflict, Code: "connector_in_use", Message: iu.Error() + "; change or archive them first"}
		for _, j := range iu.Journeys {
			e.Details = append(e.Details, Detail{Field: "journeys", Message: journeyUse(j)})
		}
		return e
	}
	switch {
	case errors.Is(err, connectors.ErrBuiltin):
		return NewError(fiber.StatusConflict, "builtin_connector", "%s", connectors.ErrBuiltin.Error())
	case errors.Is(err, store.ErrNotFound):
		return NotFound("connector")
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: fiber.StatusConflict, Code: "conflict", Message: "a connector with this name already exists",
			Details: []Detail{{Field: "name", Message: "already taken"}}}
	}
	return err
}

// apiField names a problem's field as the request body has it.
func apiField(f string) string {
	switch f {
	case "name", "type", "config", "enabled":
		return f
	}
	return "config." + f
}

func journeyUse(j store.ConnectorUse) string {
	return fmt.Sprintf("journey %q (id %s, %s, version %d) uses it in node(s) %s", j.Name, j.JourneyID, j.Status, j.Version, strings.Join(j.NodeIDs, ", "))
}

// SimulationError maps the simulator's errors: bad requests and documents
// that cannot run are the caller's (4xx, every problem in details).
func SimulationError(err error) error {
	var ie *sim.InputError
	if errors.As(err, &ie) {
		ds := make([]Detail, len(ie.Problems))
		for i, p := range ie.Problems {
			ds[i] = Detail{Field: p.Field, Message: p.Message}
		}
		return &Error{Status: fiber.StatusBadRequest, Code: "invalid_simulation", Message: err.Error(), Details: ds}
	}
	var inv *sim.InvalidError
	if errors.As(err, &inv) {
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_journey",
			Message: "the journey cannot be simulated until these problems are fixed: " + inv.Error(), Details: Details(inv.Problems)}
	}
	var pe *flows.ParseError
	if errors.As(err, &pe) {
		return &Error{Status: fiber.StatusBadRequest, Code: "invalid_document", Message: err.Error(), Details: Details(pe.Problems)}
	}
	if errors.Is(err, sim.ErrBusy) {
		return NewError(fiber.StatusTooManyRequests, "busy", "%s", err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return NewError(fiber.StatusUnprocessableEntity, "simulation_too_large", "%s", fmt.Sprintf("the simulation did not finish in time: %v; simulate fewer profiles or a shorter horizon", err))
	}
	return err
}

// EntryError maps how a webhook's entry ended (internal/entry): the
// signature's verdict, the body's problems, a journey that takes no
// entries, a profile the trigger cannot map, a replay.
func EntryError(err error) error {
	var ve *hooks.VerifyError
	var nl *entry.NotLiveError
	var be *entry.BodyError
	var ue *entry.UnmappedError
	var dup *entry.DuplicateError
	switch {
	case errors.As(err, &ve):
		return NewError(ve.Status, ve.Code, "%s", ve.Message)
	case errors.Is(err, entry.ErrUnavailable):
		return NotFound("hook")
	case errors.As(err, &nl):
		return NewError(fiber.StatusConflict, "journey_not_live", "%s", nl.Error())
	case bodyError(err) != nil:
		return bodyError(err)
	case errors.As(err, &be):
		return BadRequest("%s", be.Error())
	case errors.Is(err, entry.ErrNoWebhookTrigger):
		return NewError(fiber.StatusConflict, "no_webhook_trigger", "%s", entry.ErrNoWebhookTrigger.Error())
	case errors.As(err, &ue):
		ds := make([]Detail, len(ue.Problems))
		for i, p := range ue.Problems {
			ds[i] = Detail{NodeID: p.NodeID, Field: p.Field, Message: p.Message}
		}
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: "unmapped_profile", Message: ue.Error(), Details: ds}
	case errors.As(err, &dup):
		return NewError(fiber.StatusConflict, "duplicate_webhook", "%s", dup.Error())
	}
	return err
}

// bodyError maps the raw-body scans' errors (internal/jsonlimit): nesting
// too deep is 400 json_too_deep, a NUL character 422 nul_character; nil
// for other errors.
func bodyError(err error) *Error {
	var de *jsonlimit.DepthError
	var ne *jsonlimit.NULError
	switch {
	case errors.As(err, &de):
		return NewError(fiber.StatusBadRequest, "json_too_deep",
			"the JSON nests objects and arrays more than %d levels deep (at byte %d); at most %d levels are accepted", de.Limit, de.Offset, de.Limit)
	case errors.As(err, &ne):
		return NewError(fiber.StatusUnprocessableEntity, "nul_character", "%s", ne.Error())
	}
	return nil
}

// ReportError maps a report's errors: an unknown range is 400, the rest
// as for a journey.
func ReportError(err error) error {
	var re *journeys.RangeError
	if errors.As(err, &re) {
		return BadRequest("%s", re.Error())
	}
	return JourneyError(err)
}

// TestSendError maps a test send's refusals (internal/journeys.TestSends):
// 400 for a bad field, 403 for reading a profile without the right, 404
// for an unknown version, 422 for the node, its address, its connector or
// its message, 429 with Retry-After over the quota, 503 where this
// process cannot send tests; an unknown journey as for every journey.
func TestSendError(c *fiber.Ctx, err error) error {
	var te *journeys.TestSendError
	var qe *store.TestSendQuotaError
	switch {
	case errors.Is(err, journeys.ErrTestSendsUnavailable):
		return NewError(fiber.StatusServiceUnavailable, "unavailable", "%s", journeys.ErrTestSendsUnavailable.Error())
	case errors.As(err, &qe):
		return testSendQuotaError(c, qe)
	case errors.As(err, &te):
		e := &Error{Status: fiber.StatusUnprocessableEntity, Code: te.Code, Message: te.Message}
		switch te.Code {
		case journeys.TestBadRequest:
			e.Status = fiber.StatusBadRequest
		case journeys.TestForbidden:
			e.Status = fiber.StatusForbidden
		case journeys.TestNoVersion:
			e.Status = fiber.StatusNotFound
		}
		switch {
		case len(te.Problems) > 0:
			e.Details = Details(te.Problems)
		case te.Field != "":
			e.Details = []Detail{{NodeID: te.NodeID, Field: te.Field, Message: te.Message}}
		}
		return e
	}
	return JourneyError(err)
}

// testSendQuotaError is the 429 for a test send over the quota; it sets
// Retry-After (whole seconds, rounded up).
func testSendQuotaError(c *fiber.Ctx, qe *store.TestSendQuotaError) *Error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(qe.RetryAfter.Seconds()))))
	who := "you"
	if APIKey(c).ID != "" {
		who = "this API key"
	}
	if qe.Scope == "workspace" {
		who = "this workspace"
	}
	msg := fmt.Sprintf("test-send limit reached: at most %d test sends in %s for %s; try again in %s",
		qe.Limit, humanDuration(qe.Window), who, humanDuration(qe.RetryAfter))
	return &Error{Status: fiber.StatusTooManyRequests, Code: "test_send_quota", Message: msg}
}

// humanDuration says d in the largest whole unit, rounding up: "10
// minutes", "1 hour", "45 seconds".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return strconv.FormatInt(n, 10) + " " + name + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64((d+time.Minute-1)/time.Minute), "minute")
	}
	return unit(int64((d+time.Second-1)/time.Second), "second")
}

// StatsError maps a version's numbers' errors: an unknown version is 404,
// the rest as for a journey.
func StatsError(err error) error {
	var nv *journeys.NoVersionError
	if errors.As(err, &nv) {
		return NewError(fiber.StatusNotFound, "not_found", "%s", nv.Error())
	}
	return JourneyError(err)
}
