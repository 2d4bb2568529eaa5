package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The Test inbox shows what the sandbox connector recorded: deliveries with
// connector "sandbox", written (rendered) by the engine, and the test
// sends made through it from a step's panel (marked "test"; their ids
// carry testSendPrefix).

// inboxStore is what the Test inbox reads: the sandbox's deliveries and
// test sends.
type inboxStore interface {
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	GetDelivery(ctx context.Context, workspaceID, id string) (store.Delivery, error)
	ListConnectorTestSends(ctx context.Context, workspaceID, connector string, since time.Time, limit int) ([]store.TestSend, error)
	GetTestSend(ctx context.Context, workspaceID, id string) (store.TestSend, error)
}

// testSendPrefix marks a test send's id in the Test inbox's URLs.
const testSendPrefix = "test-"

// inboxTestSends is how many test sends the inbox's first page shows at
// most.
const inboxTestSends = 50

func inboxSummary(d store.Delivery) string {
	s := d.Subject
	if s == "" {
		s = d.Body
	}
	if s == "" && len(d.Payload) > 0 {
		s = string(d.Payload)
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	if s == "" {
		s = "(empty)"
	}
	return s
}

func (h *Handler) testInbox(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	rows, next, err := h.store.ListDeliveries(c.UserContext(), u.WorkspaceID, store.DeliveryFilter{
		Connector: connectors.SandboxName, After: c.Query("after"), Limit: 50})
	if err != nil {
		return err
	}
	var l views.InboxList
	type row struct {
		at time.Time
		r  views.InboxRow
	}
	var all []row
	for _, d := range rows {
		all = append(all, row{d.CreatedAt, views.InboxRow{ID: d.ID, When: d.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), Kind: d.Channel,
			Recipient: d.Recipient, Summary: inboxSummary(d), Status: d.Status, Test: d.IsTest}})
	}
	if c.Query("after") == "" {
		// The first page also lists the test sends as recent as its
		// messages (all of them, up to inboxTestSends, when it is the
		// only page).
		since := time.Time{}
		if next != "" && len(rows) > 0 {
			since = rows[len(rows)-1].CreatedAt
		}
		tests, err := h.store.ListConnectorTestSends(c.UserContext(), u.WorkspaceID, connectors.SandboxName, since, inboxTestSends)
		if err != nil {
			return err
		}
		for _, t := range tests {
			all = append(all, row{t.CreatedAt, views.InboxRow{ID: testSendPrefix + t.ID, When: t.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
				Kind: t.Kind, Recipient: t.Recipient, Summary: inboxSummary(store.Delivery{Subject: t.Subject, Body: t.Body}), Status: t.Status, Test: true}})
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	}
	for _, r := range all {
		l.Rows = append(l.Rows, r.r)
	}
	if next != "" {
		l.NextURL = "/test-inbox?" + url.Values{"after": {next}}.Encode()
	}
	return render(c, views.TestInboxPage(h.page(c, "Test inbox"), l))
}

// sandboxDelivery loads one of the workspace's sandbox deliveries.
func (h *Handler) sandboxDelivery(c *fiber.Ctx) (store.Delivery, error) {
	u, _ := httpkit.User(c)
	d, err := h.store.GetDelivery(c.UserContext(), u.WorkspaceID, c.Params("id"))
	if err != nil || d.Connector != connectors.SandboxName {
		return store.Delivery{}, httpkit.NotFound("message")
	}
	return d, nil
}

// sandboxTestSend loads one of the workspace's test sends through the
// sandbox, for an id with testSendPrefix, as the inbox shows a message.
func (h *Handler) sandboxTestSend(c *fiber.Ctx) (store.Delivery, error) {
	u, _ := httpkit.User(c)
	t, err := h.store.GetTestSend(c.UserContext(), u.WorkspaceID, strings.TrimPrefix(c.Params("id"), testSendPrefix))
	if err != nil || t.Connector != connectors.SandboxName {
		return store.Delivery{}, httpkit.NotFound("message")
	}
	d := store.Delivery{ID: testSendPrefix + t.ID, Connector: t.Connector, Channel: t.Kind, Recipient: t.Recipient, Subject: t.Subject,
		Status: t.Status, Error: t.Error, IsTest: true, CreatedAt: t.CreatedAt}
	if t.Kind == connectors.KindSendWebhook {
		d.Payload = []byte(t.Body)
	} else {
		d.Body = t.Body
	}
	return d, nil
}

// inboxMessage is a Test inbox message: a sandbox delivery or test send.
func (h *Handler) inboxMessage(c *fiber.Ctx) (store.Delivery, error) {
	if strings.HasPrefix(c.Params("id"), testSendPrefix) {
		return h.sandboxTestSend(c)
	}
	return h.sandboxDelivery(c)
}

func (h *Handler) testInboxMessage(c *fiber.Ctx) error {
	d, err := h.inboxMessage(c)
	if err != nil {
		return err
	}
	m := views.InboxMessage{ID: d.ID, When: d.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), Kind: d.Channel, Recipient: d.Recipient,
		Subject: d.Subject, Status: d.Status, Error: d.Error, Test: d.IsTest, RunID: d.RunID, NodeID: d.NodeID}
	switch {
	case d.Channel == connectors.KindSendEmail && looksHTML(d.Body):
		m.HTMLURL = "/test-inbox/" + url.PathEscape(d.ID) + "/body"
		m.Text = d.EmailText()
	default:
		m.Body = d.Body
	}
	if p := bytes.TrimSpace(d.Payload); d.Channel != connectors.KindSendEmail && len(p) > 0 && !bytes.Equal(p, []byte("{}")) || d.Channel == connectors.KindSendWebhook {
		// Indented within a size cap, linear whatever the depth (run_explorer.go).
		if json.Valid(d.Payload) {
			m.Payload = jsonlimit.Pretty(d.Payload, maxShownEntry)
		} else {
			m.Payload = jsonlimit.Clip(string(d.Payload), maxShownEntry, 0)
		}
	}
	return render(c, views.TestInboxMessagePage(h.page(c, "Test inbox"), m))
}

func looksHTML(s string) bool {
	return strings.Contains(s, "<") && strings.Contains(s, ">")
}

// emailPreviewCSP lets a recorded email render as a mail client would
// (inline styles, remote images) and nothing more: no scripts, no forms,
// no plugins, a unique origin (sandbox), framed only by Waymark's own page.
const emailPreviewCSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline' https:; font-src https: data:; " +
	"frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox"

// testInboxBody serves a recorded email's HTML on its own URL, under its
// own restrictive policy, for the sandboxed iframe of the message page.
func (h *Handler) testInboxBody(c *fiber.Ctx) error {
	d, err := h.inboxMessage(c)
	if err != nil {
		return err
	}
	if d.Channel != connectors.KindSendEmail {
		return httpkit.NotFound("email body")
	}
	c.Set("Content-Security-Policy", emailPreviewCSP)
	c.Set("X-Frame-Options", "SAMEORIGIN")
	c.Set("Cache-Control", "private, no-store")
	c.Set("Referrer-Policy", "no-referrer")
	c.Type("html", "utf-8")
	return c.SendString(d.Body)
}
