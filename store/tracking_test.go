package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestTrackingEngagement(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newAnalyticsFixture(t, b, 4, time.Second)
		mk := func(r store.Run, node, status, providerID, recipient string, test bool) store.Delivery {
			d, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: r.ID, NodeID: node, ProfileID: r.ProfileID,
				IdempotencyKey: store.NewID(), Connector: "smtp", Channel: "send_email", Recipient: recipient, Subject: "Hi",
				Status: status, ProviderID: providerID, IsTest: test})
			require.NoError(t, err)
			return d
		}
		d0 := mk(f.runs[0], "mail", store.DeliverySent, "<a@x>", "ap0@example.com", false)
		d1 := mk(f.runs[1], "mail", store.DeliveryDelivered, "<b@x>", "AP1@example.com", false)
		mk(f.runs[2], "mail", store.DeliveryFailed, "<c@x>", "ap2@example.com", false) // bounced after acceptance
		mk(f.runs[3], "mail", store.DeliveryFailed, "", "ap3@example.com", false)      // never accepted: not sent
		mk(f.runs[3], "mail", store.DeliverySent, "<t@x>", "ap3@example.com", true)    // a test: not counted

		td, err := b.store.GetTrackedDelivery(b.ctx, b.ws, d0.ID)
		require.NoError(t, err)
		require.Equal(t, f.journey.ID, td.JourneyID)
		require.Equal(t, "mail", td.NodeID)
		require.Equal(t, f.runs[0].ProfileID, td.ProfileID)
		_, err = b.store.GetTrackedDelivery(b.ctx, "elsewhere", d0.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		hit := func(d store.Delivery, click bool, link int, human bool) store.HitResult {
			r, err := b.store.RecordEngagement(b.ctx, store.EngagementHit{WorkspaceID: b.ws, DeliveryID: d.ID, JourneyID: f.journey.ID, NodeID: "mail",
				Click: click, Link: link, Human: human, At: b.clock.Now()})
			require.NoError(t, err)
			return r
		}
		// d0: a machine open, then two human opens, then two clicks on link 0
		// and one on link 1.
		require.Equal(t, store.HitResult{First: true}, hit(d0, false, 0, false))
		require.Equal(t, store.HitResult{}, hit(d0, false, 0, false))
		require.Equal(t, store.HitResult{First: true}, hit(d0, false, 0, true))
		require.Equal(t, store.HitResult{}, hit(d0, false, 0, true))
		require.Equal(t, store.HitResult{First: true}, hit(d0, true, 0, true))
		require.Equal(t, store.HitResult{}, hit(d0, true, 0, true))
		require.Equal(t, store.HitResult{First: true}, hit(d0, true, 1, true))
		// d1: images blocked, a human click implies the open; a scanner's
		// click first.
		require.Equal(t, store.HitResult{First: true}, hit(d1, true, 0, false))
		require.Equal(t, store.HitResult{First: true, ImpliedOpen: true}, hit(d1, true, 0, true))

		// ap0 unsubscribes after its message.
		b.clock.Add(time.Minute)
		_, err = b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: "email", Address: "ap0@example.com", Reason: store.ReasonUnsubscribed})
		require.NoError(t, err)
		// ap1 converts after its message.
		_, err = b.store.RecordConversion(b.ctx, f.runs[1].ID, store.Conversion{At: b.clock.Now()})
		require.NoError(t, err)

		got, err := b.store.MessageEngagement(b.ctx, b.ws, f.journey.ID, 0, store.Period{})
		require.NoError(t, err)
		require.Equal(t, []store.StepEngagement{{NodeID: "mail", Channel: "send_email", Sent: 3, Delivered: 1, Bounced: 1,
			Opened: 2, Clicked: 2, Opens: 2, Clicks: 4, MachineOpened: 1, Unsubscribed: 1, Converted: 1}}, got)

		// The version and the period narrow it; another workspace sees nothing.
		got, err = b.store.MessageEngagement(b.ctx, b.ws, f.journey.ID, 2, store.Period{})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = b.store.MessageEngagement(b.ctx, b.ws, f.journey.ID, 1, store.Period{From: b.clock.Now()})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = b.store.MessageEngagement(b.ctx, "elsewhere", f.journey.ID, 0, store.Period{})
		require.NoError(t, err)
		require.Empty(t, got)

		// Learning reads people's opens and clicks, not machines'.
		at := b.clock.Now().Add(-time.Hour)
		for _, human := range []bool{true, false} {
			_, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: f.runs[0].ProfileID, Name: "email_opened",
				Properties: map[string]any{"delivery_id": d0.ID, "human": human}, OccurredAt: at})
			require.NoError(t, err)
		}
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: f.runs[0].ProfileID, Name: "email_clicked", OccurredAt: at.Add(time.Minute)})
		require.NoError(t, err)
		names := []string{"email_opened", "email_clicked"}
		times, err := b.store.HumanProfileEngagement(b.ctx, f.runs[0].ProfileID, names, at.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, times, 2, "the human open and the posted click; not the machine's open")
		all, err := b.store.ProfileEngagement(b.ctx, f.runs[0].ProfileID, names, at.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
		samples, err := b.store.HumanJourneyEngagement(b.ctx, f.journey.ID, names, at.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, samples, 2)
	})
}
