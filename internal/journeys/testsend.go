package journeys

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Test sends: one action node's message, rendered with a chosen profile's
// data (or a sample profile), sent to a chosen address through the node's
// real connector, marked as a test and recorded in test_sends (never in
// deliveries: analytics do not count it) and in the audit log.
//
// A test can go to any address, so test sends have a quota (per actor, a
// user or an API key, and per workspace, over sliding windows;
// store.DefaultTestSendQuota). The place is reserved in the database
// before the connector is called, atomically, so it holds under
// concurrency and across web processes; over it, Send fails with the
// *store.TestSendQuotaError.

// TestSender renders and sends a node's message as a test (a *worker.Engine).
type TestSender interface {
	SendTest(ctx context.Context, c *flows.Compiled, nodeID string, j store.Journey, version int, p store.Profile, to, key string) (worker.TestSendResult, error)
}

// TestSendStore reserves a test send within the quota, records it and its
// audit entry.
type TestSendStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
	ReserveTestSend(ctx context.Context, t store.TestSend, q store.TestSendQuota) (store.TestSend, error)
	FinishTestSend(ctx context.Context, t store.TestSend) (store.TestSend, error)
	ReleaseTestSend(ctx context.Context, workspaceID, id string) error
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// TestSends sends and records test sends.
type TestSends struct {
	store  TestSendStore
	docs   *Service
	sender TestSender
	quota  store.TestSendQuota
}

// NewTestSends returns the test-send service; docs reads the journey's
// documents and node kinds. Without a sender every Send is
// ErrTestSendsUnavailable. A zero quota is store.DefaultTestSendQuota.
func NewTestSends(st TestSendStore, docs *Service, sender TestSender, quota store.TestSendQuota) *TestSends {
	if quota == (store.TestSendQuota{}) {
		quota = store.DefaultTestSendQuota
	}
	return &TestSends{store: st, docs: docs, sender: sender, quota: quota}
}

// TestSendRequest asks for one test send.
type TestSendRequest struct {
	JourneyID         string
	Node              string // the action node's id
	Version           int    // 0: the draft
	To                string // the address (none for a kind whose test takes none)
	ProfileExternalID string // "": a sample profile
	// By is the sender's name as shown; ActorID ("user:<id>",
	// "api_key:<id>") is whose quota the send counts against.
	By, ActorID string
	// MayReadProfiles: the sender may read profiles' data, which a test
	// rendered from an existing profile shows.
	MayReadProfiles bool
	// Audit names the actor (type, id, workspace, IP) of the audit entry
	// written with the test send.
	Audit *store.AuditEntry
}

// ErrTestSendsUnavailable: this process cannot send tests.
var ErrTestSendsUnavailable = errors.New("test sends are not available in this process")

// Test-send refusals (TestSendError.Code).
const (
	TestBadRequest     = "bad_request"        // a field is missing or out of range
	TestForbidden      = "insufficient_scope" // an existing profile without the right to read profiles
	TestNoVersion      = "not_found"          // the version does not exist
	TestUnknownNode    = "unknown_node"
	TestNotAnAction    = "not_an_action"
	TestBadRecipient   = "bad_recipient"
	TestInvalidNode    = "invalid_node" // the node itself has problems (Problems)
	TestUnknownProfile = "unknown_profile"
	TestNoConnector    = "connector_missing"
	TestRenderFailed   = "render_failed"
)

// TestSendError is a test send refused for what the request asks: Code
// says why, NodeID and Field name what is wrong (Field "" when nothing
// in particular), Problems are an invalid node's problems.
type TestSendError struct {
	Code     string
	NodeID   string
	Field    string
	Message  string
	Problems []flows.Problem
}

func (e *TestSendError) Error() string { return e.Message }

func refuse(code, nodeID, field, format string, args ...any) *TestSendError {
	return &TestSendError{Code: code, NodeID: nodeID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Send validates the request, reserves a place in the quota, sends and
// records the test, and writes its audit entry. A send the connector
// refused is recorded (status failed) and returned without error; an
// unknown journey is store.ErrNotFound.
func (t *TestSends) Send(ctx context.Context, ws string, req TestSendRequest) (store.TestSend, error) {
	if t.sender == nil {
		return store.TestSend{}, ErrTestSendsUnavailable
	}
	req.Node, req.To, req.ProfileExternalID = strings.TrimSpace(req.Node), strings.TrimSpace(req.To), strings.TrimSpace(req.ProfileExternalID)
	if req.ProfileExternalID != "" && !req.MayReadProfiles {
		// Rendering a real profile into a message shows its data.
		return store.TestSend{}, refuse(TestForbidden, "", "", "a test send rendered from an existing profile reads its data: it needs the %q permission", auth.ScopeProfilesRead)
	}
	if req.Node == "" {
		return store.TestSend{}, refuse(TestBadRequest, "", "node", "node: required (the id of the action node to send)")
	}
	if req.Version < 0 {
		return store.TestSend{}, refuse(TestBadRequest, "", "", "version: 0 (the draft) or a published version")
	}
	j, err := t.store.GetJourney(ctx, ws, req.JourneyID)
	if err != nil {
		return store.TestSend{}, err
	}
	doc, err := t.docs.Document(ctx, ws, j.ID, req.Version)
	if errors.Is(err, store.ErrNotFound) {
		return store.TestSend{}, refuse(TestNoVersion, "", "", "version %d of journey %s not found", req.Version, j.ID)
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
		return store.TestSend{}, refuse(TestUnknownNode, req.Node, "node", "node %q is not in %s", req.Node, versionName(req.Version))
	}
	to, err := worker.TestRecipient(t.docs.Registry(), node.Kind, req.To)
	if errors.Is(err, worker.ErrTestNotAction) {
		return store.TestSend{}, refuse(TestNotAnAction, node.ID, "node", "%s", err.Error())
	}
	if err != nil {
		return store.TestSend{}, refuse(TestBadRecipient, node.ID, "to", "to: %s", strings.TrimPrefix(err.Error(), worker.ErrTestBadRecipient.Error()+": "))
	}
	compiled, err := t.compile(doc, node)
	if err != nil {
		return store.TestSend{}, err
	}
	p := store.Profile{ExternalID: "sample", Attributes: map[string]any{"first_name": "Sample", "last_name": "Profile"}, Consent: map[string]any{}}
	if req.ProfileExternalID != "" {
		p, err = t.store.GetProfileByExternalID(ctx, ws, req.ProfileExternalID)
		if errors.Is(err, store.ErrNotFound) {
			return store.TestSend{}, refuse(TestUnknownProfile, "", "profile_external_id", "profile_external_id: no profile %q", req.ProfileExternalID)
		}
		if err != nil {
			return store.TestSend{}, err
		}
	}
	rec, err := t.store.ReserveTestSend(ctx, store.TestSend{WorkspaceID: ws, JourneyID: j.ID, Version: req.Version, NodeID: node.ID, Kind: node.Kind,
		Connector: compiled.Nodes[node.ID].Config.String("connector"), Recipient: firstOf(to, "(connector URL)"), ProfileExternalID: req.ProfileExternalID,
		SentBy: req.By, ActorID: req.ActorID}, t.quota)
	if err != nil {
		return store.TestSend{}, err // *store.TestSendQuotaError over the quota
	}
	// The outcome is recorded even if the client has gone: the message
	// may have left.
	bg := context.WithoutCancel(ctx)
	res, err := t.sender.SendTest(ctx, compiled, node.ID, j, req.Version, p, to, rec.ID)
	if err != nil {
		// Nothing reached a connector: the place goes back.
		if rerr := t.store.ReleaseTestSend(bg, ws, rec.ID); rerr != nil {
			return store.TestSend{}, rerr
		}
	}
	switch {
	case errors.Is(err, worker.ErrTestNoConnector):
		return store.TestSend{}, refuse(TestNoConnector, node.ID, "config.connector", "%s", strings.TrimPrefix(err.Error(), worker.ErrTestNoConnector.Error()+": "))
	case errors.Is(err, worker.ErrTestRenderingFailed):
		return store.TestSend{}, refuse(TestRenderFailed, node.ID, "config", "%s", err.Error())
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
	rec, err = t.store.FinishTestSend(bg, rec)
	if err != nil {
		return store.TestSend{}, err
	}
	if req.Audit != nil {
		e := *req.Audit
		e.Action, e.TargetType, e.TargetID = "journey.test_send", "journey", j.ID
		e.Summary = map[string]any{"test_send_id": rec.ID, "node_id": node.ID, "version": req.Version, "to": rec.Recipient, "status": rec.Status}
		if _, err := t.store.AppendAudit(ctx, e); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// compile compiles the document; a draft with problems elsewhere is
// compiled as just a trigger and this node, so a half-built journey can
// still test its finished messages. Problems of the node itself are an
// invalid_node refusal.
func (t *TestSends) compile(doc *flows.Journey, node *flows.Node) (*flows.Compiled, error) {
	reg := t.docs.Registry()
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
	return nil, &TestSendError{Code: TestInvalidNode, NodeID: node.ID, Message: fmt.Sprintf("node %q cannot be sent: %s", node.ID, mine[0].Message), Problems: mine}
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
