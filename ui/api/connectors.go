package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// connectorStore is what the sandbox's messages and the suppression list
// read and write.
type connectorStore interface {
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	ListConnectorTestSends(ctx context.Context, workspaceID, connector string, since time.Time, limit int) ([]store.TestSend, error)
	ListSuppressions(ctx context.Context, workspaceID string, f store.SuppressionFilter) ([]store.Suppression, string, error)
	AddSuppression(ctx context.Context, s store.Suppression) (store.Suppression, error)
	DeleteSuppression(ctx context.Context, workspaceID, channel, address string) error
}

// connectorJSON is a connector as the API shows it: never a secret's value.
type connectorJSON struct {
	connectors.View
	Backlog *backlogJSON `json:"backlog,omitempty"`
}

type backlogJSON struct {
	Pending              int64    `json:"pending"`
	ExpectedDelaySeconds float64  `json:"expected_delay_seconds"`
	Throttled            *int64   `json:"throttled_last_minute,omitempty"`
	Tokens               *float64 `json:"tokens_available,omitempty"`
}

func toBacklogJSON(b connectors.Backlog) *backlogJSON {
	out := &backlogJSON{Pending: b.Pending, ExpectedDelaySeconds: b.ExpectedDelay.Seconds()}
	if b.LimiterKnown {
		out.Throttled, out.Tokens = &b.Throttled, &b.Tokens
	}
	return out
}

func (h *Handler) apiConnectorTypes(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"connector_types": h.connectors.Registry().Types()})
}

func (h *Handler) apiConnectorList(c *fiber.Ctx) error {
	vs, err := h.connectors.List(c.UserContext(), httpkit.APIKey(c).WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]connectorJSON, len(vs))
	for i, v := range vs {
		out[i] = connectorJSON{View: v}
	}
	return c.JSON(fiber.Map{"connectors": out, "next": ""})
}

func (h *Handler) apiConnectorGet(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	v, err := h.connectors.Get(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	b, err := h.connectors.Backlog(c.UserContext(), ws, v.ID)
	if err != nil {
		return err
	}
	return c.JSON(connectorJSON{View: v, Backlog: toBacklogJSON(b)})
}

func (h *Handler) apiConnectorCreate(c *fiber.Ctx) error {
	var in struct {
		Type    string         `json:"type"`
		Name    string         `json:"name"`
		Config  map[string]any `json:"config"`
		Enabled *bool          `json:"enabled"`
	}
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	v, err := h.connectors.Create(c.UserContext(), httpkit.APIKey(c).WorkspaceID, connectors.Input{Type: in.Type, Name: in.Name, Config: in.Config, Enabled: in.Enabled})
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if err := httpkit.Audit(c, h.store, "connector.create", "connector", v.ID, map[string]any{"name": v.Name, "type": v.Type, "secrets_set": v.SecretsSet}); err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/connectors/"+v.ID)
	return c.Status(fiber.StatusCreated).JSON(connectorJSON{View: v})
}

// apiConnectorUpdate changes a connector: config keys given replace the
// stored ones (null removes one); secret fields not given keep their value.
func (h *Handler) apiConnectorUpdate(c *fiber.Ctx) error {
	var in struct {
		Name    *string        `json:"name"`
		Config  map[string]any `json:"config"`
		Enabled *bool          `json:"enabled"`
	}
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	v, changed, err := h.connectors.Update(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), connectors.Patch{Name: in.Name, Config: in.Config, Enabled: in.Enabled})
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if len(changed) > 0 {
		if err := httpkit.Audit(c, h.store, "connector.update", "connector", v.ID, map[string]any{"name": v.Name, "changed": changed}); err != nil {
			return err
		}
	}
	return c.JSON(connectorJSON{View: v})
}

func (h *Handler) apiConnectorDelete(c *fiber.Ctx) error {
	v, err := h.connectors.Delete(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if err := httpkit.Audit(c, h.store, "connector.delete", "connector", v.ID, map[string]any{"name": v.Name, "type": v.Type}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// apiConnectorTest checks the connection, or sends a test message to
// {"to": "…"}. The provider's answer is the result, even when it is a
// refusal: a failed test is 200 with "ok": false.
func (h *Handler) apiConnectorTest(c *fiber.Ctx) error {
	var in struct {
		To string `json:"to"`
	}
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := httpkit.DecodeJSON(c, &in); err != nil {
			return err
		}
	}
	ws := httpkit.APIKey(c).WorkspaceID
	res, err := h.connectors.Test(c.UserContext(), ws, c.Params("id"), in.To)
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if err := httpkit.Audit(c, h.store, "connector.test", "connector", c.Params("id"), map[string]any{"ok": res.OK, "send": in.To != ""}); err != nil {
		return err
	}
	return c.JSON(res)
}

// messageJSON is a sandbox delivery as the API shows it.
type messageJSON struct {
	ID        string          `json:"id"`
	RunID     string          `json:"run_id"`
	NodeID    string          `json:"node_id"`
	Kind      string          `json:"kind"`
	Recipient string          `json:"recipient"`
	Subject   string          `json:"subject,omitempty"`
	Body      string          `json:"body,omitempty"`
	Text      string          `json:"text,omitempty"` // an email's plain-text part (body is its HTML)
	Payload   json.RawMessage `json:"payload,omitempty"`
	Status    string          `json:"status"`
	Error     string          `json:"error,omitempty"`
	Test      bool            `json:"test"`
	JourneyID string          `json:"journey_id,omitempty"` // a test send's journey (run_id is empty)
	CreatedAt time.Time       `json:"created_at"`
}

// testSendID prefixes a test send's id in the list, as the Test inbox does.
const testSendID = "test-"

func toMessageJSON(d store.Delivery) messageJSON {
	m := messageJSON{ID: d.ID, RunID: d.RunID, NodeID: d.NodeID, Kind: d.Channel, Recipient: d.Recipient, Subject: d.Subject,
		Body: d.Body, Text: d.EmailText(), Status: d.Status, Error: d.Error, Test: d.IsTest, CreatedAt: d.CreatedAt}
	if p := bytes.TrimSpace(d.Payload); d.Channel != connectors.KindSendEmail && len(p) > 0 && !bytes.Equal(p, []byte("{}")) && json.Valid(p) {
		m.Payload = d.Payload
	}
	return m
}

// apiSandboxMessages lists what the test inbox recorded, newest first.
func (h *Handler) apiSandboxMessages(c *fiber.Ctx) error {
	limit, err := httpkit.LimitParam(c, 50)
	if err != nil {
		return err
	}
	rows, next, err := h.store.ListDeliveries(c.UserContext(), httpkit.APIKey(c).WorkspaceID, store.DeliveryFilter{
		Connector: connectors.SandboxName, RunID: c.Query("run_id"), After: c.Query("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]messageJSON, 0, len(rows))
	for _, d := range rows {
		out = append(out, toMessageJSON(d))
	}
	if c.Query("cursor") == "" && c.Query("run_id") == "" {
		// The first page also lists the test sends through the sandbox as
		// recent as its messages (all of them, up to
		// store.MaxInboxTestSends, when it is the only page), marked test,
		// as the Test inbox shows them.
		since := time.Time{}
		if next != "" && len(rows) > 0 {
			since = rows[len(rows)-1].CreatedAt
		}
		tests, err := h.store.ListConnectorTestSends(c.UserContext(), httpkit.APIKey(c).WorkspaceID, connectors.SandboxName, since, store.MaxInboxTestSends)
		if err != nil {
			return err
		}
		for _, t := range tests {
			out = append(out, messageJSON{ID: testSendID + t.ID, NodeID: t.NodeID, JourneyID: t.JourneyID, Kind: t.Kind, Recipient: t.Recipient,
				Subject: t.Subject, Body: t.Body, Status: t.Status, Error: t.Error, Test: true, CreatedAt: t.CreatedAt})
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	}
	return c.JSON(fiber.Map{"messages": out, "next": next})
}

type suppressionJSON struct {
	Channel   string    `json:"channel"`
	Address   string    `json:"address"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

func toSuppressionJSON(s store.Suppression) suppressionJSON {
	return suppressionJSON{Channel: s.Channel, Address: s.Address, Reason: s.Reason, Source: s.Source, CreatedAt: s.CreatedAt}
}

func checkChannel(ch string, allowEmpty bool) error {
	if (ch == "" && allowEmpty) || ch == store.SuppressEmail || ch == store.SuppressSMS {
		return nil
	}
	return httpkit.BadRequest("channel: want email or sms")
}

func (h *Handler) apiSuppressionList(c *fiber.Ctx) error {
	ch := c.Query("channel")
	if err := checkChannel(ch, true); err != nil {
		return err
	}
	limit, err := httpkit.LimitParam(c, 50)
	if err != nil {
		return err
	}
	rows, next, err := h.store.ListSuppressions(c.UserContext(), httpkit.APIKey(c).WorkspaceID, store.SuppressionFilter{
		Channel: ch, Search: c.Query("q"), After: c.Query("cursor"), Limit: limit})
	if err != nil {
		if c.Query("cursor") != "" {
			return httpkit.BadRequest("cursor: not a cursor from a previous page")
		}
		return err
	}
	out := make([]suppressionJSON, len(rows))
	for i, r := range rows {
		out[i] = toSuppressionJSON(r)
	}
	return c.JSON(fiber.Map{"suppressions": out, "next": next})
}

func (h *Handler) apiSuppressionAdd(c *fiber.Ctx) error {
	var in struct {
		Channel string `json:"channel"`
		Address string `json:"address"`
		Reason  string `json:"reason"`
	}
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkChannel(in.Channel, false); err != nil {
		return err
	}
	if err := checkSuppressionAddress(in.Channel, in.Address); err != nil {
		return err
	}
	switch in.Reason {
	case "":
		in.Reason = store.ReasonManual
	case store.ReasonManual, store.ReasonUnsubscribed, store.ReasonHardBounce, store.ReasonStop, store.ReasonComplaint:
	default:
		return httpkit.BadRequest("reason: want manual, unsubscribed, hard_bounce, stop or complaint")
	}
	k := httpkit.APIKey(c)
	sup, err := h.store.AddSuppression(c.UserContext(), store.Suppression{WorkspaceID: k.WorkspaceID, Channel: in.Channel, Address: in.Address,
		Reason: in.Reason, Source: "api_key:" + k.Name})
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "suppression.add", "suppression", in.Channel, map[string]any{"channel": in.Channel, "reason": in.Reason}); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toSuppressionJSON(sup))
}

// apiSuppressionDelete lets a channel message an address again:
// DELETE /api/v1/suppressions?channel=email&address=….
func (h *Handler) apiSuppressionDelete(c *fiber.Ctx) error {
	ch, addr := c.Query("channel"), c.Query("address")
	if err := checkChannel(ch, false); err != nil {
		return err
	}
	if addr == "" {
		return httpkit.BadRequest("address: required")
	}
	err := h.store.DeleteSuppression(c.UserContext(), httpkit.APIKey(c).WorkspaceID, ch, addr)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("suppression")
	}
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "suppression.delete", "suppression", ch, map[string]any{"channel": ch}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
