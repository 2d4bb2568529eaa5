package worker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

func TestScenarioWelcomeSeries(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		jid := h.publish(testdata(t, "welcome_series.json"))
		ada := h.profile("ada", map[string]any{"first_name": "Ada", "country": "FR"}, "email", "ada@example.com", "timezone", "Europe/Paris")
		bob := h.profile("bob", map[string]any{"first_name": "Bob"}, "email", "bob@example.com")

		ra := h.enter(jid, ada, worker.EntryEvent{Body: map[string]any{"user_id": "ada", "plan": "pro"}})
		rb := h.enter(jid, bob, worker.EntryEvent{Body: map[string]any{"user_id": "bob"}})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "welcome:out:sent"}, h.path(ra.ID))
		require.Equal(t, store.RunWaiting, h.run(ra.ID).Status)
		msgs := h.inbox.sent()
		require.Len(t, msgs, 2)
		require.Equal(t, "Welcome to Waymark, Ada!", msgs[0].Subject)
		require.Contains(t, msgs[0].HTML, "Thanks for signing up on pro.")
		require.Equal(t, "Welcome to Waymark, Bob!", msgs[1].Subject)
		require.Contains(t, msgs[1].HTML, "the free plan")

		// Re-entry "never": a second entry is refused.
		_, err := h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: ada.ID})
		var refused *store.EntryRefusedError
		require.ErrorAs(t, err, &refused)

		// Bob subscribes on day 1: the goal node converts him and he exits there.
		h.advance(24 * time.Hour)
		h.event(bob, "subscription_started", map[string]any{"amount": 49.0})
		h.advance(24 * time.Hour) // day 2: the delays end, Wednesday 12:00 in Paris
		require.Equal(t, []string{"start:out:entered", "welcome:out:sent", "wait_2d:out:waited", "is_fr:yes", "tips_fr:out:sent"}, h.path(ra.ID))
		require.Equal(t, "3 astuces pour bien démarrer", h.inbox.sent()[2].Subject)
		ar := h.run(ra.ID)
		require.Equal(t, store.RunWaiting, ar.Status)
		require.Equal(t, "wait_morning", ar.CurrentNode)
		// Next weekday 09:00 in Paris is Thursday 07:00 UTC.
		require.True(t, ar.WaitUntil.Equal(time.Date(2026, 6, 4, 7, 0, 0, 0, time.UTC)), "wakes at %v", ar.WaitUntil)

		h.advance(24 * time.Hour)
		require.Equal(t, store.RunCompleted, h.run(ra.ID).Status)
		require.Equal(t, []string{"start:out:entered", "welcome:out:sent", "wait_2d:out:waited", "is_fr:yes", "tips_fr:out:sent",
			"wait_morning:out:waited", "converted:out", "nudge:out:sent", "done::completed"}, h.path(ra.ID))

		br := h.run(rb.ID)
		require.Equal(t, store.RunExited, br.Status)
		require.Contains(t, h.path(rb.ID), "converted::converted")
		require.NotNil(t, br.ConvertedAt, "the journey goal recorded the conversion")
		require.Equal(t, 49.0, br.ConversionValue)
		require.Contains(t, br.ConversionPath, "welcome")
		require.NotContains(t, fmt.Sprint(h.path(rb.ID)), "nudge")

		// Every message is one delivery, recorded once.
		for _, d := range h.deliveries(ra.ID) {
			require.Equal(t, store.DeliveryDelivered, d.Status)
			require.Equal(t, 1, d.Attempts)
		}
		require.Len(t, h.deliveries(ra.ID), 3)
		require.Len(t, h.inbox.sent(), 5)
	})
}

func TestScenarioAbandonedCart(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		h.publish(testdata(t, "abandoned_cart.json"))
		buyer := h.profile("buyer", nil, "email", "buyer@example.com")
		quitter := h.profile("quitter", map[string]any{"sms_opt_in": true, "first_name": "Quinn"}, "email", "q@example.com", "phone", "+15551234567")
		small := h.profile("small", nil, "email", "s@example.com")

		res := h.event(buyer, "cart_abandoned", map[string]any{"cart_id": "c1", "total": 50.0, "items": []any{"a", "b"}, "url": "https://shop/c1"})
		require.Len(t, res.Entered, 1)
		buyerRun := res.Entered[0]
		res = h.event(quitter, "cart_abandoned", map[string]any{"cart_id": "c9", "total": 80.0, "items": []any{"x"}, "url": "https://shop/c9"})
		require.Len(t, res.Entered, 1)
		quitRun := res.Entered[0]
		res = h.event(small, "cart_abandoned", map[string]any{"cart_id": "c3", "total": 10.0})
		require.Empty(t, res.Entered, "the trigger's filter (total >= 20) keeps small carts out")

		// An order for another cart does not match; the right cart does.
		res = h.event(buyer, "order_completed", map[string]any{"cart_id": "c2"})
		require.Empty(t, res.Resumed)
		h.advance(10 * time.Minute)
		res = h.event(buyer, "order_completed", map[string]any{"cart_id": "c1"})
		require.Equal(t, []string{buyerRun}, res.Resumed)
		require.Equal(t, []string{"cart:out:entered", "wait_order:matched:matched", "bought::completed"}, h.path(buyerRun))
		require.Equal(t, store.RunCompleted, h.run(buyerRun).Status)

		// The quitter times out, gets the reminder, then (after a day) the SMS.
		h.advance(time.Hour)
		require.Equal(t, []string{"cart:out:entered", "wait_order:timeout:timeout", "reminder:out:sent"}, h.path(quitRun))
		h.advance(24 * time.Hour)
		require.Equal(t, store.RunCompleted, h.run(quitRun).Status)
		require.Equal(t, []string{"cart:out:entered", "wait_order:timeout:timeout", "reminder:out:sent",
			"wait_order_2:timeout:timeout", "has_phone:yes", "sms:out:sent"}, h.path(quitRun))
		var sms, mail int
		for _, m := range h.inbox.sent() {
			switch m.Kind {
			case "send_sms":
				sms++
				require.Equal(t, "Quinn, your cart expires tonight: https://shop/c9", m.Text)
			case "send_email":
				mail++
				require.Equal(t, "You left 1 items in your cart", m.Subject)
			}
		}
		require.Equal(t, 1, sms)
		require.Equal(t, 1, mail)

		// after_exit: while a run is live the profile cannot enter again; the
		// exit event ends the live run; the 1-day minimum interval then still
		// holds the next entry back.
		res = h.event(quitter, "cart_abandoned", map[string]any{"cart_id": "c10", "total": 30.0})
		require.Len(t, res.Entered, 1, "more than a day after the first entry, and the first run ended")
		live := res.Entered[0]
		res = h.event(quitter, "cart_abandoned", map[string]any{"cart_id": "c11", "total": 30.0})
		require.Empty(t, res.Entered, "still in the journey")
		res = h.event(quitter, "unsubscribed", nil)
		require.Equal(t, []string{live}, res.Exited)
		require.Equal(t, store.RunExited, h.run(live).Status)
		res = h.event(quitter, "cart_abandoned", map[string]any{"cart_id": "c12", "total": 30.0})
		require.Empty(t, res.Entered, "within the minimum re-entry interval")
		h.advance(25 * time.Hour)
		res = h.event(quitter, "cart_abandoned", map[string]any{"cart_id": "c13", "total": 30.0})
		require.Len(t, res.Entered, 1)
	})
}

func TestScenarioLeadScoring(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		h.publish(testdata(t, "lead_scoring.json"))
		p := h.profile("lead", nil, "email", "lead@example.com")
		for i := 0; i < 5; i++ {
			h.event(p, "page_viewed", map[string]any{"path": "/pricing/team"})
		}
		got, err := h.st.GetProfile(h.ctx, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 100, got.Attributes["lead_score"])
		require.Equal(t, true, got.Attributes["sales_notified"])
		require.Equal(t, "sql", got.Attributes["lifecycle_stage"])
		webhooks := 0
		for _, m := range h.inbox.sent() {
			if m.Kind == "send_webhook" {
				webhooks++
				require.Contains(t, string(m.Payload), `"lead"`)
			}
		}
		require.Equal(t, 1, webhooks, "sales is told once")
		h.event(p, "page_viewed", map[string]any{"path": "/docs/start"})
		got, err = h.st.GetProfile(h.ctx, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 105, got.Attributes["lead_score"])
	})
}

func TestScenarioBirthday(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		h.publish(testdata(t, "birthday.json"))
		p := h.profile("bday", map[string]any{"birthday": "1990-06-20", "first_name": "Bea"}, "email", "bea@example.com")
		res := h.event(p, "profile_updated", nil)
		require.Len(t, res.Entered, 1)
		r := h.run(res.Entered[0])
		require.True(t, r.WaitUntil.Equal(time.Date(2026, 6, 17, 10, 0, 0, 0, time.UTC)), "three days before at 10:00: %v", r.WaitUntil)
		h.advance(16*24*time.Hour + 2*time.Hour)
		require.Equal(t, "Something is coming your way", h.inbox.sent()[0].Subject)
		h.advance(3 * 24 * time.Hour)
		r = h.run(r.ID)
		require.Equal(t, store.RunCompleted, r.Status)
		require.Equal(t, "Happy birthday, Bea! 🎂", h.inbox.sent()[1].Subject)
		got, err := h.st.GetProfile(h.ctx, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2026, got.Attributes["last_birthday_greeting"])
	})
}

func TestScenarioReengagementSplit(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		jid := h.publish(testdata(t, "reengagement.json"))
		counts := map[string]int{}
		for i := 0; i < 600; i++ {
			p := h.profile(fmt.Sprint("r", i), map[string]any{"last_seen_at": "2026-01-01T00:00:00Z"}, "email", fmt.Sprintf("r%d@example.com", i))
			r := h.enter(jid, p, worker.EntryEvent{})
			h.drain()
			path := h.path(r.ID)
			require.GreaterOrEqual(t, len(path), 2)
			counts[path[1]]++
		}
		require.Len(t, counts, 3, "%v", counts)
		require.InDelta(t, 0.10, float64(counts["ab:holdout"])/600, 0.04, "%v", counts)
		require.InDelta(t, 0.45, float64(counts["ab:discount"])/600, 0.06, "%v", counts)
	})
}

func TestScenarioAdRetargeting(t *testing.T) {
	bothModes(t, func(t *testing.T, h *harness) {
		jid := h.publish(testdata(t, "ad_retargeting.json"))
		consented := h.profile("ads-yes", nil, "email", "yes@example.com")
		_, err := h.st.SetProfileConsent(h.ctx, consented.ID, "ads", "granted", "test")
		require.NoError(t, err)
		noConsent := h.profile("ads-no", nil, "email", "no@example.com")

		r1 := h.enter(jid, consented, worker.EntryEvent{})
		r2 := h.enter(jid, noConsent, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"viewers:out:entered", "add:out:sent"}, h.path(r1.ID))
		require.Equal(t, []string{"viewers:out:entered", "add:out:skipped"}, h.path(r2.ID), "no ad consent, no upload")
		ds := h.deliveries(r2.ID)
		require.Len(t, ds, 1)
		require.Equal(t, store.DeliverySuppressed, ds[0].Status)

		// A purchase with a total ends the run through the exit criteria; a
		// zero-total one does not.
		res := h.event(consented, "order_completed", map[string]any{"total": 0.0})
		require.NotContains(t, res.Exited, r1.ID)
		require.Contains(t, res.Resumed, r1.ID, "it also wakes the wait")
		require.Equal(t, store.RunCompleted, h.run(r1.ID).Status)
		require.Equal(t, []string{"viewers:out:entered", "add:out:sent", "wait_purchase:matched:matched", "remove:out:sent", "end::completed"}, h.path(r1.ID))
		res = h.event(noConsent, "order_completed", map[string]any{"total": 12.0})
		require.Contains(t, res.Exited, r2.ID)
		require.Equal(t, store.RunExited, h.run(r2.ID).Status)
	})
}

func TestTestdataAllRun(t *testing.T) {
	t.Parallel()
	// Every testdata journey publishes and runs without a failed run.
	h := newHarness(t)
	for _, f := range []string{"welcome_series.json", "reengagement.json", "ad_retargeting.json"} {
		jid := h.publish(bytes.ReplaceAll(testdata(t, f), []byte(`"reentry": "never"`), []byte(`"reentry": "always"`)))
		p := h.profile("all-"+f, map[string]any{"last_seen_at": "2026-01-01T00:00:00Z"}, "email", "x@example.com")
		r := h.enter(jid, p, worker.EntryEvent{Body: map[string]any{"user_id": "x"}})
		for i := 0; i < 30; i++ {
			h.advance(24 * time.Hour)
		}
		require.NotEqual(t, store.RunFailed, h.run(r.ID).Status, "%s: %v", f, h.path(r.ID))
	}
}

// bothModes runs a scenario with a task per action and with inline actions
// (what the worker runs in production).
func bothModes(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Parallel()
	for _, inline := range []bool{false, true} {
		name := "task_per_action"
		if inline {
			name = "inline_actions"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if inline {
				h.cfg.InlineActions = true
				h.eng = worker.NewEngine(h.cfg)
			}
			f(t, h)
		})
	}
}
