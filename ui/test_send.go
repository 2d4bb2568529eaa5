package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
	"github.com/waymarkhq/waymark/worker"
)

// Test sends (issue 10): one action node's message, rendered with a chosen
// profile's data (or a sample profile), sent to a chosen address through
// the node's real connector, marked as a test and recorded in test_sends
// (never in deliveries: analytics do not count it) and in the audit log.
//
// A test can go to any address, so test sends have a quota (issue 17,
// F11): per actor (a user or an API key) and per workspace, over sliding
// windows (store.DefaultTestSendQuota; Config.TestSendQuota). The place is
// reserved in the database before the connector is called, atomically, so
// it holds under concurrency and across web processes; over it the API
// answers 429 with Retry-After and the panel says when to try again.

// TestSender sends a node's message as a test (a *worker.Engine).
type TestSender interface {
	SendTest(ctx context.Context, c *flows.Compiled, nodeID string, j store.Journey, version int, p store.Profile, to, key string) (worker.TestSendResult, error)
}

// testSendStore reserves a test send within the quota, then records it.
type testSendStore interface {
	ReserveTestSend(ctx context.Context, t store.TestSend, q store.TestSendQuota) (store.TestSend, error)
	FinishTestSend(ctx context.Context, t store.TestSend) (store.TestSend, error)
	ReleaseTestSend(ctx context.Context, workspaceID, id string) error
}

// testSendRequest is the body of POST /api/v1/journeys/{id}/test-send.
type testSendRequest struct {
	Node              string `json:"node"`
	Version           int    `json:"version"` // 0: the draft
	To                string `json:"to"`
	ProfileExternalID string `json:"profile_external_id"`
}

// testSendJSON is a recorded test send as the API shows it.
type testSendJSON struct {
	ID                string `json:"id"`
	Node              string `json:"node"`
	Version           int    `json:"version"`
	Kind              string `json:"kind"`
	Connector         string `json:"connector"`
	To                string `json:"to"`
	ProfileExternalID string `json:"profile_external_id,omitempty"`
	Subject           string `json:"subject,omitempty"`
	Body              string `json:"body,omitempty"`
	// Redacted: the subject and body were rendered from a real profile and
	// the caller may not read profiles, so they are left out.
	Redacted   bool   `json:"redacted,omitempty"`
	Status     string `json:"status"`
	ProviderID string `json:"provider_id,omitempty"`
	Error      string `json:"error,omitempty"`
	SentBy     string `json:"sent_by"`
	CreatedAt  string `json:"created_at"`
}

func toTestSendJSON(t store.TestSend) testSendJSON {
	return testSendJSON{ID: t.ID, Node: t.NodeID, Version: t.Version, Kind: t.Kind, Connector: t.Connector, To: t.Recipient,
		ProfileExternalID: t.ProfileExternalID, Subject: t.Subject, Body: t.Body, Status: t.Status, ProviderID: t.ProviderID,
		Error: t.Error, SentBy: t.SentBy, CreatedAt: t.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}
}

// testSend validates the request, reserves a place in the quota, sends and
// records the test. A send the connector refused is recorded (status
// failed). by is the name shown; actorID ("user:<id>", "api_key:<id>") is
// whose quota it counts against.
func (s *Server) testSend(c *fiber.Ctx, ws string, req testSendRequest, by, actorID string, mayReadProfiles bool) (store.TestSend, error) {
	ctx := c.UserContext()
	ts, ok := s.store.(testSendStore)
	if s.testSends == nil || !ok {
		return store.TestSend{}, httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "test sends are not available in this process")
	}
	req.Node, req.To, req.ProfileExternalID = strings.TrimSpace(req.Node), strings.TrimSpace(req.To), strings.TrimSpace(req.ProfileExternalID)
	if req.ProfileExternalID != "" && !mayReadProfiles {
		// Rendering a real profile into a message shows its data.
		return store.TestSend{}, httpkit.NewError(fiber.StatusForbidden, "insufficient_scope", "a test send rendered from an existing profile reads its data: it needs the %q permission", auth.ScopeProfilesRead)
	}
	if req.Node == "" {
		return store.TestSend{}, httpkit.NodeError(fiber.StatusBadRequest, "bad_request", "", "node", "node: required (the id of the action node to send)")
	}
	if req.Version < 0 {
		return store.TestSend{}, httpkit.BadRequest("version: 0 (the draft) or a published version")
	}
	j, err := s.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return store.TestSend{}, httpkit.JourneyError(err)
	}
	doc, err := s.journeys.Document(ctx, ws, j.ID, req.Version)
	if errors.Is(err, store.ErrNotFound) {
		return store.TestSend{}, httpkit.NewError(fiber.StatusNotFound, "not_found", "version %d of journey %s not found", req.Version, j.ID)
	}
	if err != nil {
		return store.TestSend{}, err
	}
	var node *flows.Node
	for i := range doc.Nodes {
		if doc.Nodes[i].ID == req.Node {
			node = &doc.Nodes[i]
		}
	}
	if node == nil {
		return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "unknown_node", req.Node, "node", "node %q is not in %s", req.Node, versionName(req.Version))
	}
	to, err := worker.TestRecipient(s.journeys.Registry(), node.Kind, req.To)
	if errors.Is(err, worker.ErrTestNotAction) {
		return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "not_an_action", node.ID, "node", "%s", err.Error())
	}
	if err != nil {
		return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "bad_recipient", node.ID, "to", "to: %s", strings.TrimPrefix(err.Error(), worker.ErrTestBadRecipient.Error()+": "))
	}
	compiled, err := s.compileForTest(doc, node)
	if err != nil {
		return store.TestSend{}, err
	}
	p := store.Profile{ExternalID: "sample", Attributes: map[string]any{"first_name": "Sample", "last_name": "Profile"}, Consent: map[string]any{}}
	if req.ProfileExternalID != "" {
		ms, ok := s.store.(migrationStore)
		if !ok {
			return store.TestSend{}, httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "test sends are not available in this process")
		}
		p, err = ms.GetProfileByExternalID(ctx, ws, req.ProfileExternalID)
		if errors.Is(err, store.ErrNotFound) {
			return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "unknown_profile", "", "profile_external_id", "profile_external_id: no profile %q", req.ProfileExternalID)
		}
		if err != nil {
			return store.TestSend{}, err
		}
	}
	rec, err := ts.ReserveTestSend(ctx, store.TestSend{WorkspaceID: ws, JourneyID: j.ID, Version: req.Version, NodeID: node.ID, Kind: node.Kind,
		Connector: compiled.Nodes[node.ID].Config.String("connector"), Recipient: firstOf(to, "(connector URL)"), ProfileExternalID: req.ProfileExternalID,
		SentBy: by, ActorID: actorID}, s.cfg.TestSendQuota)
	var qe *store.TestSendQuotaError
	if errors.As(err, &qe) {
		return store.TestSend{}, s.testSendQuotaError(c, qe)
	}
	if err != nil {
		return store.TestSend{}, err
	}
	// The outcome is recorded even if the client has gone: the message
	// may have left.
	bg := context.WithoutCancel(ctx)
	res, err := s.testSends.SendTest(ctx, compiled, node.ID, j, req.Version, p, to, rec.ID)
	if err != nil {
		// Nothing reached a connector: the place goes back.
		if rerr := ts.ReleaseTestSend(bg, ws, rec.ID); rerr != nil {
			return store.TestSend{}, rerr
		}
	}
	switch {
	case errors.Is(err, worker.ErrTestNoConnector):
		return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "connector_missing", node.ID, "config.connector", "%s", strings.TrimPrefix(err.Error(), worker.ErrTestNoConnector.Error()+": "))
	case errors.Is(err, worker.ErrTestRenderingFailed):
		return store.TestSend{}, httpkit.NodeError(fiber.StatusUnprocessableEntity, "render_failed", node.ID, "config", "%s", err.Error())
	case err != nil:
		return store.TestSend{}, err
	}
	m := res.Message
	rec.Subject, rec.Body = m.Subject, firstOf(m.HTML, m.Text, string(m.Payload))
	rec.Status, rec.ProviderID = res.Result.Status, res.Result.ProviderID
	if rec.Status == "" {
		rec.Status = store.DeliverySent
	}
	if res.SendErr != nil {
		rec.Status, rec.Error = store.DeliveryFailed, sendReason(res.SendErr)
	}
	rec, err = ts.FinishTestSend(bg, rec)
	if err != nil {
		return store.TestSend{}, err
	}
	if err := httpkit.Audit(c, s.store, "journey.test_send", "journey", j.ID, map[string]any{"test_send_id": rec.ID, "node_id": node.ID,
		"version": req.Version, "to": rec.Recipient, "status": rec.Status}); err != nil {
		return rec, err
	}
	return rec, nil
}

// testSendQuotaError is the 429 for a test send over the quota; it sets
// Retry-After (whole seconds, rounded up).
func (s *Server) testSendQuotaError(c *fiber.Ctx, qe *store.TestSendQuotaError) *httpkit.Error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(qe.RetryAfter.Seconds()))))
	who := "you"
	if httpkit.APIKey(c).ID != "" {
		who = "this API key"
	}
	if qe.Scope == "workspace" {
		who = "this workspace"
	}
	msg := fmt.Sprintf("test-send limit reached: at most %d test sends in %s for %s; try again in %s",
		qe.Limit, humanDuration(qe.Window), who, humanDuration(qe.RetryAfter))
	return &httpkit.Error{Status: fiber.StatusTooManyRequests, Code: "test_send_quota", Message: msg}
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

func sendReason(err error) string {
	if _, _, reason := connectors.Classify(err); reason != "" {
		return reason
	}
	return err.Error()
}

func versionName(v int) string {
	if v == 0 {
		return "the draft"
	}
	return "version " + strconv.Itoa(v)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// compileForTest compiles the document; a draft with problems elsewhere is
// compiled as just a trigger and this node, so a half-built journey can
// still test its finished messages. Problems of the node itself are a 422.
func (s *Server) compileForTest(doc *flows.Journey, node *flows.Node) (*flows.Compiled, error) {
	reg := s.journeys.Registry()
	if c, problems := flows.Compile(reg, doc, flows.ValidateOptions{}); len(problems) == 0 {
		return c, nil
	}
	trigger := flows.Node{ID: "__test_trigger", Kind: "trigger_event", Config: map[string]any{"event": "test_send"}}
	if node.ID == trigger.ID {
		trigger.ID += "_"
	}
	mini := &flows.Journey{Format: doc.Format, Name: doc.Name, Settings: doc.Settings,
		Nodes: []flows.Node{trigger, *node}, Edges: []flows.Edge{{From: trigger.ID, To: node.ID}}}
	c, problems := flows.Compile(reg, mini, flows.ValidateOptions{})
	if len(problems) == 0 {
		return c, nil
	}
	var mine []flows.Problem
	for _, p := range problems {
		if p.NodeID == node.ID {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		mine = problems
	}
	return nil, &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_node", Message: fmt.Sprintf("node %q cannot be sent: %s", node.ID, mine[0].Message), Details: httpkit.Details(mine)}
}

func (s *Server) apiJourneyTestSend(c *fiber.Ctx) error {
	// Another workspace's journey is not found, whatever the body says.
	if _, err := s.store.GetJourney(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return httpkit.JourneyError(err)
	}
	var req testSendRequest
	if err := httpkit.DecodeJSON(c, &req); err != nil {
		return err
	}
	k := httpkit.APIKey(c)
	rec, err := s.testSend(c, k.WorkspaceID, req, httpkit.KeyActor(c), "api_key:"+k.ID, k.HasScope(auth.ScopeProfilesRead))
	if err != nil {
		return err
	}
	if rec.Status == store.DeliveryFailed {
		return &httpkit.Error{Status: fiber.StatusBadGateway, Code: "test_send_failed", Message: "the connector did not send the test: " + rec.Error,
			Details: []httpkit.Detail{{NodeID: rec.NodeID, Field: "config.connector", Message: rec.Error}}}
	}
	return c.JSON(fiber.Map{"test_send": toTestSendJSON(rec)})
}

func (s *Server) apiJourneyTestSends(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := s.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	ms, ok := s.store.(migrationStore)
	if !ok {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "test sends are not available in this process")
	}
	limit, err := httpkit.LimitParam(c, 50)
	if err != nil {
		return err
	}
	list, err := ms.ListTestSends(c.UserContext(), ws, j.ID, limit)
	if err != nil {
		return err
	}
	mayReadProfiles := httpkit.APIKey(c).HasScope(auth.ScopeProfilesRead)
	out := make([]testSendJSON, len(list))
	for i, t := range list {
		out[i] = toTestSendJSON(t)
		if t.ProfileExternalID != "" && !mayReadProfiles {
			out[i].Subject, out[i].Body, out[i].Redacted = "", "", true
		}
	}
	return c.JSON(fiber.Map{"test_sends": out})
}

// journeyTestSendUI is the property panel's "Send test" form: it answers
// with a small HTML fragment the panel shows in place (htmx).
func (s *Server) journeyTestSendUI(c *fiber.Ctx) error {
	version, _ := strconv.Atoi(c.FormValue("ts_version"))
	req := testSendRequest{Node: strings.Clone(c.FormValue("ts_node")), Version: version, To: strings.Clone(c.FormValue("ts_to")),
		ProfileExternalID: strings.Clone(c.FormValue("ts_profile"))}
	u, _ := httpkit.User(c)
	rec, err := s.testSend(c, httpkit.Workspace(c), req, httpkit.ActorName(c), "user:"+u.ID, httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead))
	if err != nil {
		var e *httpkit.Error
		if errors.As(err, &e) && e.Status < 500 {
			return s.renderStatus(c, fiber.StatusOK, views.TestSendResult(views.TestSendOutcome{Error: e.Message}))
		}
		return err
	}
	return render(c, views.TestSendResult(views.TestSendOutcome{OK: rec.Status != store.DeliveryFailed, To: rec.Recipient,
		Subject: rec.Subject, Status: rec.Status, Error: rec.Error}))
}
