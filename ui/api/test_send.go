package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

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

func (h *Handler) apiJourneyTestSend(c *fiber.Ctx) error {
	// Another workspace's journey is not found, whatever the body says.
	if _, err := h.store.GetJourney(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return httpkit.JourneyError(err)
	}
	var req testSendRequest
	if err := httpkit.DecodeJSON(c, &req); err != nil {
		return err
	}
	k := httpkit.APIKey(c)
	rec, err := h.testSends.Send(c.UserContext(), k.WorkspaceID, journeys.TestSendRequest{JourneyID: c.Params("id"), Node: req.Node,
		Version: req.Version, To: req.To, ProfileExternalID: req.ProfileExternalID, By: httpkit.KeyActor(c), ActorID: "api_key:" + k.ID,
		MayReadProfiles: k.HasScope(auth.ScopeProfilesRead), Audit: httpkit.AuditActor(c)})
	if err != nil {
		return httpkit.TestSendError(c, err)
	}
	if rec.Status == store.DeliveryFailed {
		return &httpkit.Error{Status: fiber.StatusBadGateway, Code: "test_send_failed", Message: "the connector did not send the test: " + rec.Error,
			Details: []httpkit.Detail{{NodeID: rec.NodeID, Field: "config.connector", Message: rec.Error}}}
	}
	return c.JSON(fiber.Map{"test_send": toTestSendJSON(rec)})
}

func (h *Handler) apiJourneyTestSends(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	j, err := h.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	limit, err := httpkit.LimitParam(c, 50)
	if err != nil {
		return err
	}
	list, err := h.store.ListTestSends(c.UserContext(), ws, j.ID, limit)
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
