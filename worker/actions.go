package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

func deliveryKey(runID string, seq int) string { return runID + ":" + strconv.Itoa(seq) }

// sendTimeout bounds one connector call; sendLease is how long a pending
// delivery belongs to the attempt that wrote it: another attempt finding it
// younger backs off instead of declaring the outcome unknown (two workers
// racing for one step). Past the lease the writer has certainly finished or
// died, since its call could not outlive sendTimeout.
const (
	sendTimeout = 60 * time.Second
	sendLease   = sendTimeout + 15*time.Second
)

// idempotentSender is implemented by connectors whose provider de-duplicates
// by our idempotency key (sandbox, signed webhooks): re-sending after a
// crash cannot deliver twice.
type idempotentSender interface{ IdempotentSends() bool }

// act runs an action node: policies, rendering, the delivery record and the
// connector call. What the node does (channel, recipient, message, rules)
// comes from its kind's nodes.ActionSpec.
func (x *exec) act(ctx context.Context, n *flows.CompiledNode) (string, bool, error) {
	a := n.Spec.Action
	if a == nil {
		x.finishAt(n, store.RunFailed, fmt.Sprintf("node kind %q acts but declares no action", n.Kind))
		return "", true, nil
	}
	st := x.c.Settings
	// An exit expression without an exit event is checked before every
	// action (with an event, it filters that event: see HandleEvent).
	if st.ExitExpr != nil && st.ExitEvent == "" {
		if ok, _ := st.ExitExpr.EvalBool(x.env); ok {
			x.record(n, "", OutcomeExited, map[string]any{"reason": "exit criteria met"})
			x.finishAt(n, store.RunExited, "")
			return "", true, nil
		}
	}
	channel := a.Channel
	loc := x.location()

	// A retry of this step goes back to the delivery an earlier attempt
	// wrote, before any policy: quiet hours or a cap must not re-route or
	// drop a message that may already have gone out.
	key := deliveryKey(x.run.ID, x.seq)
	var existing store.Delivery
	var err error
	switch {
	case !x.deliveryKnown:
		existing, err = x.e.cfg.Store.GetDeliveryByKey(ctx, key)
	case x.delivery != nil:
		existing = *x.delivery
	default:
		err = store.ErrNotFound
	}
	switch {
	case err == nil:
		if port, done := x.settled(n, existing); done {
			return port, false, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", false, err
	default:
		existing = store.Delivery{}
	}

	first := existing.ID == ""
	if first && st.QuietHours != nil && a.Policy.QuietHours {
		if quiet, until := inQuietHours(x.now, loc, st.QuietHours.Start, st.QuietHours.End); quiet {
			x.record(n, "", OutcomeDeferred, map[string]any{"reason": "quiet hours", "until": until.UTC().Format(time.RFC3339)})
			x.park(n, store.RunWaiting, until, "")
			return "", true, nil
		}
	}
	if first && st.RateLimit != nil && x.e.cfg.RateLimiter != nil {
		ok, after, err := x.e.cfg.RateLimiter.Take(ctx, "journey:"+x.run.JourneyID, st.RateLimit.Count, st.RateLimit.Per)
		if err != nil {
			return "", false, fmt.Errorf("journey rate limit: %w", err)
		}
		if !ok {
			at := x.now.Add(after)
			x.update = store.RunUpdate{Status: store.RunActive, CurrentNode: n.ID, NextDueAt: &at}
			x.retryAt = &at
			return "", true, nil
		}
	}
	if c, ok := st.FrequencyCaps[channel]; first && ok && c.Count > 0 && a.Policy.FrequencyCap {
		since := periodStart(x.now, loc, c.Period)
		count, err := x.e.cfg.Store.CountDeliveriesSince(ctx, x.profile.ID, n.Kind, since)
		if err != nil {
			return "", false, err
		}
		if count >= c.Count {
			x.record(n, "out", OutcomeSkipped, map[string]any{"reason": "frequency cap", "sent": count, "cap": c.Count})
			return "out", false, nil
		}
	}

	recipient, problem := x.recipient(a)
	if problem != "" {
		x.record(n, "failed", OutcomeFailed, map[string]any{"reason": problem})
		return "failed", false, nil
	}
	msg, err := x.render(n)
	if err != nil {
		x.record(n, "failed", OutcomeFailed, map[string]any{"reason": err.Error()})
		return "failed", false, nil
	}
	connectorName := n.Config.String("connector")
	d := store.Delivery{
		WorkspaceID: x.run.WorkspaceID, RunID: x.run.ID, Sequence: x.seq, NodeID: n.ID, ProfileID: x.profile.ID,
		IdempotencyKey: key, Connector: connectorName, Channel: n.Kind, Recipient: recipient,
		Subject: msg.Subject, Body: firstNonEmpty(msg.HTML, msg.Text), Payload: msg.Payload, Status: store.DeliveryPending, Attempts: 1,
	}
	if a.HasPart(nodes.PartHTML) {
		d.Payload = store.EmailPayload(msg.Text) // the plain-text part, kept with the HTML
	}
	if reason, err := x.suppressed(ctx, a, recipient); err != nil {
		return "", false, err
	} else if reason != "" {
		if first {
			d.Status, d.Error, d.Attempts = store.DeliverySuppressed, reason, 0
			if _, err := x.createDelivery(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
				return "", false, err
			}
		} else if existing.Error != "" {
			// The earlier attempts never got through: the opt-out that
			// came meanwhile wins.
			x.pendingDelivery = &store.DeliveryOutcome{ID: existing.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliverySuppressed, Error: reason}}
		}
		if first || existing.Error != "" {
			x.record(n, "out", OutcomeSkipped, map[string]any{"reason": reason})
			return "out", false, nil
		}
	}

	conn, err := x.e.cfg.Connectors.Resolve(ctx, x.run.WorkspaceID, connectorName)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			x.record(n, "failed", OutcomeFailed, map[string]any{"reason": fmt.Sprintf("connector %q does not exist or is disabled", connectorName)})
			return "failed", false, nil
		}
		return "", false, fmt.Errorf("resolving connector %q: %w", connectorName, err)
	}

	var created store.Delivery
	if first {
		d.ID = store.NewID()
		created, err = x.createDelivery(ctx, d)
		if errors.Is(err, store.ErrConflict) {
			// Another attempt of this step wrote it just now.
			return "", false, connectors.TransientError("another attempt of this step is in flight", 10*time.Second, nil)
		}
		if err != nil {
			// The commit may have landed (a connection lost at COMMIT):
			// say on the row, if it is there, that the provider was never
			// called, so the retry sends rather than reporting "unknown".
			if merr := x.e.cfg.Store.MarkDeliveryUnsent(context.WithoutCancel(ctx), d.ID, "not sent: the commit before the send failed: "+err.Error()); merr != nil {
				x.e.logger.Warn("marking a delivery unsent", slog.String("delivery_id", d.ID), slog.String("error", merr.Error()))
			}
			return "", false, err
		}
	} else {
		// Pending: a previous attempt wrote it.
		if existing.Error == "" {
			if x.now.Sub(existing.UpdatedAt) < sendLease {
				return "", false, connectors.TransientError("another attempt of this step is in flight", 10*time.Second, nil)
			}
			if is, ok := conn.(idempotentSender); !ok || !is.IdempotentSends() {
				// It crashed after calling the provider, or before: nobody
				// can know. Never re-send blindly.
				reason := "the previous attempt stopped during the send; the message may or may not have gone out"
				x.pendingDelivery = &store.DeliveryOutcome{ID: existing.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliveryUnknown, Error: reason}}
				x.record(n, "out", OutcomeUnknown, map[string]any{"reason": reason, "delivery_id": existing.ID})
				return "out", false, nil
			}
		}
		// Claim the retry atomically: of two attempts reading the same
		// pending row, one wins; the other backs off.
		ok, err := x.e.cfg.Store.ClaimDelivery(ctx, existing.ID, existing.Attempts)
		if err != nil {
			return "", false, err
		}
		if !ok {
			return "", false, connectors.TransientError("another attempt of this step is in flight", 10*time.Second, nil)
		}
		created = existing
		created.Attempts++
	}
	msg.DeliveryID, msg.IdempotencyKey = created.ID, key
	if t := x.e.cfg.Tracker; t != nil && a.Channel == "email" && msg.HTML != "" && !st.NoTracking {
		// Open and click tracking (docs/engagement.md): the tokens name
		// this delivery, so a retry sends the same links.
		msg.HTML = t.Track(x.run.WorkspaceID, created.ID, msg.HTML)
	}

	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	res, sendErr := conn.Send(sendCtx, msg)
	cancel()
	if sendErr == nil {
		status := res.Status
		if status != store.DeliveryDelivered {
			status = store.DeliverySent
		}
		x.pendingDelivery = &store.DeliveryOutcome{ID: created.ID, DeliveryUpdate: store.DeliveryUpdate{Status: status, ProviderID: res.ProviderID}}
		x.record(n, "out", OutcomeSent, map[string]any{"delivery_id": created.ID, "provider_id": res.ProviderID})
		return "out", false, nil
	}
	class, _, reason := connectors.Classify(sendErr)
	if errors.Is(sendErr, connectors.ErrSuppressed) {
		// The provider said no for good because of consent or opt-out
		// (e.g. an SMS STOP): not a failure of the journey.
		x.pendingDelivery = &store.DeliveryOutcome{ID: created.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliverySuppressed, Error: reason}}
		x.record(n, "out", OutcomeSkipped, map[string]any{"reason": reason, "delivery_id": created.ID})
		return "out", false, nil
	}
	switch class {
	case connectors.Permanent:
		x.pendingDelivery = &store.DeliveryOutcome{ID: created.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliveryFailed, Error: reason}}
		x.record(n, "failed", OutcomeFailed, map[string]any{"reason": reason, "delivery_id": created.ID})
		return "failed", false, nil
	case connectors.Unknown:
		x.pendingDelivery = &store.DeliveryOutcome{ID: created.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliveryUnknown, Error: reason}}
		x.record(n, "out", OutcomeUnknown, map[string]any{"reason": reason, "delivery_id": created.ID})
		return "out", false, nil
	default:
		if reason == "" {
			reason = "temporary failure"
		}
		pending := store.DeliveryUpdate{Status: store.DeliveryPending, Error: reason}
		if x.prev != nil {
			// An inline step: its hand-off commits this with the run's
			// next due time (runInline).
			x.pendingDelivery = &store.DeliveryOutcome{ID: created.ID, DeliveryUpdate: pending}
			return "", false, sendErr
		}
		// Only while still pending: an overlapping attempt (past the
		// lease) may have settled it meanwhile, and that outcome stays.
		if err := x.e.cfg.Store.SettleLateDelivery(ctx, created.ID, pending); err != nil {
			return "", false, err
		}
		return "", false, sendErr
	}
}

// settled turns a delivery that already has its outcome into the step's
// result without calling the connector again.
func (x *exec) settled(n *flows.CompiledNode, d store.Delivery) (string, bool) {
	switch d.Status {
	case store.DeliverySent, store.DeliveryDelivered:
		x.record(n, "out", OutcomeSent, map[string]any{"delivery_id": d.ID, "provider_id": d.ProviderID})
		return "out", true
	case store.DeliveryFailed:
		x.record(n, "failed", OutcomeFailed, map[string]any{"reason": d.Error, "delivery_id": d.ID})
		return "failed", true
	case store.DeliveryUnknown:
		x.record(n, "out", OutcomeUnknown, map[string]any{"reason": d.Error, "delivery_id": d.ID})
		return "out", true
	case store.DeliverySuppressed, store.DeliverySkipped:
		x.record(n, "out", OutcomeSkipped, map[string]any{"reason": d.Error, "delivery_id": d.ID})
		return "out", true
	}
	return "", false
}

// recipient returns the address an action goes to, or why there is none:
// the first of the action's profile fields that is set.
func (x *exec) recipient(a *nodes.ActionSpec) (string, string) {
	for _, f := range a.To {
		if v := profileField(&x.profile, f); v != nil && *v != "" {
			return *v, ""
		}
	}
	return "", a.NoAddress
}

// profileField is the built-in profile field an action can go to (nil for
// an unknown one).
func profileField(p *store.Profile, f nodes.ProfileField) *string {
	switch f {
	case nodes.ProfileEmail:
		return &p.Email
	case nodes.ProfilePhone:
		return &p.Phone
	case nodes.ProfileExternalID:
		return &p.ExternalID
	}
	return nil
}

// messagePart is the text part of a message (nil for the payload, which
// is JSON, and for an unknown part).
func messagePart(m *connectors.Message, p nodes.Part) *string {
	switch p {
	case nodes.PartSubject:
		return &m.Subject
	case nodes.PartHTML:
		return &m.HTML
	case nodes.PartText:
		return &m.Text
	case nodes.PartFromName:
		return &m.FromName
	}
	return nil
}

// suppressed says why a message must not go out (consent, suppression
// list), by the action's policy.
func (x *exec) suppressed(ctx context.Context, a *nodes.ActionSpec, address string) (string, error) {
	switch a.Policy.Consent {
	case nodes.AdConsent:
		// Read as the connectors read it.
		if ac := connectors.ReadAdConsent(x.profile.Consent); !ac.MayUpload() {
			return ac.Why(), nil
		}
	case nodes.ChannelConsent:
		// Every recorded status but granted is a no: denied (what false
		// means), revoked, unsubscribed, opted_out (docs/triggers.md#consent).
		var status string
		if m, ok := x.profile.Consent[a.Channel].(map[string]any); ok {
			status, _ = m["status"].(string)
		}
		if status != "" && status != "granted" {
			return "the profile opted out of " + a.Channel, nil
		}
	}
	if a.Policy.Suppressions && x.e.cfg.Suppressions != nil {
		ok, err := x.e.cfg.Suppressions.IsSuppressed(ctx, x.run.WorkspaceID, a.Channel, address)
		if err != nil {
			return "", fmt.Errorf("checking suppressions: %w", err)
		}
		if ok {
			return "the address is on the suppression list", nil
		}
	}
	return "", nil
}

// render builds the message with the profile's data: the action's
// template fields fill their parts, in order.
func (x *exec) render(n *flows.CompiledNode) (connectors.Message, error) {
	a := n.Spec.Action
	m := connectors.Message{
		WorkspaceID: x.run.WorkspaceID, Kind: n.Kind, ProfileID: x.profile.ExternalID, Email: x.profile.Email,
		Phone: x.profile.Phone, Timezone: x.profile.Timezone,
	}
	if a == nil {
		return m, fmt.Errorf("node kind %q declares no action", n.Kind)
	}
	for _, mf := range a.Message {
		s := ""
		if t := n.Template(mf.Field); t != nil {
			var err error
			if s, err = t.Render(x.env); err != nil {
				return m, fmt.Errorf("rendering %s: %v", mf.Field, err)
			}
		}
		if part := messagePart(&m, mf.Part); part != nil {
			*part = s
			continue
		}
		if mf.Part == nodes.PartPayload {
			if strings.TrimSpace(s) == "" {
				s = "{}"
			}
			if !json.Valid([]byte(s)) {
				return m, fmt.Errorf("rendering %s: the result is not valid JSON", mf.Field)
			}
			m.Payload = json.RawMessage(s)
		}
	}
	if a.Policy.Unsubscribe && x.e.cfg.UnsubscribeURL != nil {
		if to, _ := x.recipient(a); to != "" {
			m.UnsubscribeURL = x.e.cfg.UnsubscribeURL(x.run.WorkspaceID, a.Channel, to)
		}
	}
	if a.SendsConsent {
		m.Consent = x.profile.Consent
	}
	if a.Attributes != nil {
		m.Attributes = map[string]any{}
		for _, k := range a.Attributes {
			if v, ok := x.profile.Attributes[k]; ok {
				m.Attributes[k] = v
			}
		}
	}
	return m, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
