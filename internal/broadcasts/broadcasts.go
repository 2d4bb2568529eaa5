// Package broadcasts sends one message to an audience, once, now or at a
// scheduled time (docs/broadcasts.md). A broadcast is a system-managed
// journey: a schedule trigger in mode "once" whose audience condition
// enters every matching profile once (the worker's trigger loop, in pages,
// resumable by a new leader), one send step, and the journey's settings
// carrying quiet hours and a frequency cap. The engine's contact policy,
// outbox and leases therefore apply as they do to any journey; this
// package builds the journey, records the broadcast, reads its progress
// and cancels it.
package broadcasts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
)

// Node ids of a broadcast's journey.
const (
	TriggerNode = "audience"
	SendNode    = "send"
)

// Bounds of the input.
const (
	MaxName     = 200
	MaxAudience = 4096
	MaxSubject  = 998
	MaxHTML     = 256 << 10
	MaxText     = 64 << 10
	MaxSMS      = 1600
	MaxPayload  = 64 << 10
	MaxAhead    = 366 * 24 * time.Hour // how far ahead a broadcast may be scheduled
	// PastGrace: a scheduled time this far in the past still means "now"
	// (a form filled in a minute ago); older is refused.
	PastGrace = 5 * time.Minute
)

// Channels a broadcast can use, and the send kind of each.
var Channels = map[string]string{"email": "send_email", "sms": "send_sms", "webhook": "send_webhook"}

// Store is what broadcasts keep and read.
type Store interface {
	CreateBroadcast(ctx context.Context, b store.Broadcast) (store.Broadcast, error)
	GetBroadcast(ctx context.Context, workspaceID, id string) (store.Broadcast, error)
	ListBroadcasts(ctx context.Context, workspaceID, after string, limit int) ([]store.Broadcast, string, error)
	SetBroadcastStatus(ctx context.Context, workspaceID, id string, from []string, status, by string) (store.Broadcast, error)
	NodeOutcomes(ctx context.Context, workspaceID, journeyID, nodeID string) ([]store.OutcomeCount, error)
	JourneyRunStatuses(ctx context.Context, workspaceID, journeyID string) (map[string]int64, error)
	LatestTriggerRun(ctx context.Context, journeyID, nodeID string) (store.TriggerRun, error)
	SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (store.Journey, error)
}

// Engine ends the runs of a cancelled broadcast (a *worker.Engine).
type Engine interface {
	ExitRuns(ctx context.Context, journeyID, reason string) (int, error)
}

// Service creates, reads and cancels broadcasts.
type Service struct {
	st     Store
	docs   *journeys.Service
	engine Engine
	now    func() time.Time
}

// New returns the service; engine may be nil (then a cancel only stops
// new entries and parks the runs: the journey is paused).
func New(st Store, docs *journeys.Service, engine Engine) *Service {
	return &Service{st: st, docs: docs, engine: engine, now: time.Now}
}

// WithClock sets the clock (tests).
func (s *Service) WithClock(now func() time.Time) *Service { s.now = now; return s }

// QuietHours is the daily window, in the recipient's time zone, in which
// nothing is sent; a send due inside it waits until End.
type QuietHours struct {
	Start string `json:"start"` // HH:MM
	End   string `json:"end"`
}

// FrequencyCap limits the messages of the broadcast's channel a profile
// gets per period, across journeys and broadcasts.
type FrequencyCap struct {
	Count  int    `json:"count"`
	Period string `json:"period"` // day or week
}

// Input is a broadcast to create.
type Input struct {
	Name      string `json:"name"`
	Audience  string `json:"audience"` // condition over the profile, e.g. true or in_segment("vip")
	Channel   string `json:"channel"`  // email, sms or webhook
	Connector string `json:"connector"`
	Subject   string `json:"subject,omitempty"` // email
	HTML      string `json:"html,omitempty"`    // email
	Text      string `json:"text,omitempty"`    // email (optional plain text) or sms
	Payload   string `json:"payload,omitempty"` // webhook (optional)
	// ScheduledAt: nil sends now.
	ScheduledAt  *time.Time    `json:"scheduled_at,omitempty"`
	Timezone     string        `json:"timezone,omitempty"` // for profiles without one (quiet hours); default UTC
	QuietHours   *QuietHours   `json:"quiet_hours,omitempty"`
	FrequencyCap *FrequencyCap `json:"frequency_cap,omitempty"`
}

// FieldError names an input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InvalidError is an input with problems, each naming its field.
type InvalidError struct{ Problems []FieldError }

func (e *InvalidError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid broadcast"
	}
	return e.Problems[0].Field + ": " + e.Problems[0].Message
}

// ErrEnded: the broadcast is done or cancelled already.
var ErrEnded = errors.New("the broadcast has ended")

// Broadcast is a broadcast with its progress.
type Broadcast struct {
	store.Broadcast
	Progress Progress
}

// Progress is where a broadcast is: how many profiles matched and entered,
// and what happened to each entered one's send.
type Progress struct {
	Entering bool  // the audience is still being entered
	Scanned  int64 // profiles looked at
	Matched  int64 // matching the audience
	Entered  int64 // entered (a profile enters once)
	Sent     int64
	// Skipped, by reason.
	NoConsent    int64 // the profile opted out of the channel
	Suppressed   int64 // the address is on the suppression list (or the provider's)
	FrequencyCap int64
	// QuietHours: sends deferred by quiet hours (sent later, or waiting).
	QuietHours int64
	Failed     int64 // no address, a rendering error, the provider refused
	Unknown    int64 // the provider's answer was lost; it may have gone out
	Waiting    int64 // runs not finished yet (queued, deferred)
	Cancelled  int64 // runs ended by a cancel before their send
	Error      string
}

// Create validates in, builds and publishes the broadcast's journey and
// records the broadcast. The web request does only this: the worker's
// trigger loop enters the audience in pages when the time comes.
func (s *Service) Create(ctx context.Context, workspaceID string, in Input, by string) (store.Broadcast, error) {
	now := s.now().UTC()
	in.Name = strings.TrimSpace(in.Name)
	in.Audience = strings.TrimSpace(in.Audience)
	in.Connector = strings.TrimSpace(in.Connector)
	if probs := check(in, now); len(probs) > 0 {
		return store.Broadcast{}, &InvalidError{Problems: probs}
	}
	at := now.Truncate(time.Second)
	if in.ScheduledAt != nil && in.ScheduledAt.After(now) {
		at = in.ScheduledAt.UTC().Truncate(time.Second)
	}
	doc, err := Document(in, at)
	if err != nil {
		return store.Broadcast{}, err
	}
	_, problems, err := s.docs.Check(ctx, workspaceID, doc)
	if err != nil {
		return store.Broadcast{}, fmt.Errorf("checking broadcast journey: %w", err)
	}
	if len(problems) > 0 {
		return store.Broadcast{}, &InvalidError{Problems: fields(in.Channel, problems)}
	}
	j, _, err := s.docs.Create(ctx, workspaceID, doc, by, journeys.SaveOptions{})
	if err != nil {
		var inv *journeys.InvalidError
		if errors.As(err, &inv) {
			return store.Broadcast{}, &InvalidError{Problems: fields(in.Channel, inv.Problems)}
		}
		return store.Broadcast{}, err
	}
	b, err := s.st.CreateBroadcast(ctx, store.Broadcast{
		WorkspaceID: workspaceID, Name: in.Name, JourneyID: j.ID, Status: store.BroadcastScheduled, Channel: in.Channel,
		Connector: in.Connector, Audience: in.Audience, ScheduledAt: at, CreatedBy: by,
	})
	if err != nil {
		_, aerr := s.st.SetJourneyStatus(context.WithoutCancel(ctx), workspaceID, j.ID, store.JourneyArchived, by)
		return store.Broadcast{}, errors.Join(err, aerr)
	}
	if _, err := s.docs.Publish(ctx, workspaceID, j.ID, by); err != nil {
		_, cerr := s.st.SetBroadcastStatus(context.WithoutCancel(ctx), workspaceID, b.ID, []string{store.BroadcastScheduled}, store.BroadcastCancelled, by)
		_, aerr := s.st.SetJourneyStatus(context.WithoutCancel(ctx), workspaceID, j.ID, store.JourneyArchived, by)
		return store.Broadcast{}, errors.Join(fmt.Errorf("publishing broadcast journey: %w", err), cerr, aerr)
	}
	return b, nil
}

// check validates what the journey's validation cannot name well.
func check(in Input, now time.Time) []FieldError {
	var out []FieldError
	add := func(f, format string, args ...any) {
		out = append(out, FieldError{Field: f, Message: fmt.Sprintf(format, args...)})
	}
	long := func(f, v string, n int) {
		if utf8.RuneCountInString(v) > n {
			add(f, "at most %d characters", n)
		}
	}
	if in.Name == "" {
		add("name", "required")
	}
	long("name", in.Name, MaxName)
	if in.Audience == "" {
		add("audience", "required (true for every profile)")
	}
	long("audience", in.Audience, MaxAudience)
	kind, ok := Channels[in.Channel]
	if !ok {
		add("channel", "want email, sms or webhook, got %q", clip(in.Channel))
	}
	if in.Connector == "" {
		add("connector", "required")
	}
	long("connector", in.Connector, 128)
	switch kind {
	case "send_email":
		if strings.TrimSpace(in.Subject) == "" {
			add("subject", "required for an email")
		}
		if strings.TrimSpace(in.HTML) == "" {
			add("html", "required for an email")
		}
		long("subject", in.Subject, MaxSubject)
		long("html", in.HTML, MaxHTML)
		long("text", in.Text, MaxText)
	case "send_sms":
		if strings.TrimSpace(in.Text) == "" {
			add("text", "required for an SMS")
		}
		long("text", in.Text, MaxSMS)
	case "send_webhook":
		long("payload", in.Payload, MaxPayload)
	}
	if ok {
		for f, v := range map[string]string{"subject": in.Subject, "html": in.HTML, "text": in.Text, "payload": in.Payload} {
			if v == "" {
				continue
			}
			if (kind != "send_email" && (f == "subject" || f == "html")) || (kind == "send_webhook" && f == "text") || (kind != "send_webhook" && f == "payload") {
				add(f, "not used by the %s channel", in.Channel)
			}
		}
	}
	if in.ScheduledAt != nil {
		switch {
		case in.ScheduledAt.Before(now.Add(-PastGrace)):
			add("scheduled_at", "is in the past; leave it out to send now")
		case in.ScheduledAt.After(now.Add(MaxAhead)):
			add("scheduled_at", "at most a year ahead")
		}
	}
	if c := in.FrequencyCap; c != nil && (c.Count < 1 || c.Count > 1000) {
		add("frequency_cap.count", "want 1 to 1000")
	}
	return sortFields(out)
}

func sortFields(ps []FieldError) []FieldError {
	order := []string{"name", "audience", "channel", "connector", "subject", "html", "text", "payload", "scheduled_at", "timezone", "quiet_hours", "frequency_cap"}
	rank := func(f string) int {
		for i, o := range order {
			if f == o || strings.HasPrefix(f, o+".") {
				return i
			}
		}
		return len(order)
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && rank(ps[j].Field) < rank(ps[j-1].Field); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// fields names the journey's problems by the input's fields.
func fields(channel string, ps []flows.Problem) []FieldError {
	out := make([]FieldError, 0, len(ps))
	for _, p := range ps {
		f := p.Field
		switch p.NodeID {
		case TriggerNode:
			f = map[string]string{"expr": "audience", "at": "scheduled_at"}[p.Field]
		case SendNode:
			switch {
			case p.Field == "body" && channel == "email":
				f = "html"
			case p.Field == "body":
				f = "text"
			}
		case "":
			f = strings.TrimPrefix(f, "settings.")
			// frequency_cap.<channel>.period → frequency_cap.period: the
			// input names no channel.
			if rest, ok := strings.CutPrefix(f, "frequency_cap."+channel+"."); ok {
				f = "frequency_cap." + rest
			}
		}
		if f == "" {
			f = "audience"
		}
		out = append(out, FieldError{Field: f, Message: p.Message})
	}
	return sortFields(out)
}

// Document is the journey a broadcast runs: the once trigger at at with
// the audience, one send step, the settings carrying the contact policy.
// A profile enters once (re-entry never).
func Document(in Input, at time.Time) ([]byte, error) {
	kind := Channels[in.Channel]
	send := map[string]any{"connector": in.Connector}
	switch kind {
	case "send_email":
		send["subject"], send["body"] = in.Subject, in.HTML
		if in.Text != "" {
			send["text"] = in.Text
		}
	case "send_sms":
		send["body"] = in.Text
	case "send_webhook":
		if in.Payload != "" {
			send["payload"] = in.Payload
		}
	}
	settings := map[string]any{"reentry": flows.ReentryNever}
	if in.Timezone != "" {
		settings["timezone"] = in.Timezone
	}
	if q := in.QuietHours; q != nil {
		settings["quiet_hours"] = map[string]any{"start": q.Start, "end": q.End}
	}
	if c := in.FrequencyCap; c != nil {
		settings["frequency_cap"] = map[string]any{in.Channel: map[string]any{"count": c.Count, "period": c.Period}}
	}
	doc := map[string]any{
		"format": 1, "name": "Broadcast: " + in.Name, "settings": settings,
		"nodes": []any{
			map[string]any{"id": TriggerNode, "kind": "trigger_schedule", "title": "Audience", "position": map[string]any{"x": 0, "y": 0},
				"config": map[string]any{"mode": "once", "at": at.UTC().Format(time.RFC3339), "expr": in.Audience}},
			map[string]any{"id": SendNode, "kind": kind, "title": "Message", "position": map[string]any{"x": 0, "y": 160}, "config": send},
		},
		"edges": []any{map[string]any{"from": TriggerNode, "to": SendNode}},
	}
	return json.Marshal(doc)
}

// Get returns a broadcast with its progress, bringing its status up to
// date (scheduled → sending when its time has come, sending → done when
// the audience is entered and every run has ended).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Broadcast, error) {
	b, err := s.st.GetBroadcast(ctx, workspaceID, id)
	if err != nil {
		return Broadcast{}, err
	}
	return s.refresh(ctx, b)
}

// List returns a page of broadcasts, newest first, with their progress.
func (s *Service) List(ctx context.Context, workspaceID, after string, limit int) ([]Broadcast, string, error) {
	bs, next, err := s.st.ListBroadcasts(ctx, workspaceID, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]Broadcast, len(bs))
	for i, b := range bs {
		if out[i], err = s.refresh(ctx, b); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

func (s *Service) refresh(ctx context.Context, b store.Broadcast) (Broadcast, error) {
	out := Broadcast{Broadcast: b}
	if b.Status == store.BroadcastDraft {
		return out, nil
	}
	p, done, err := s.progress(ctx, b)
	if err != nil {
		return Broadcast{}, err
	}
	out.Progress = p
	next := ""
	switch {
	case b.Status == store.BroadcastScheduled && done:
		next = store.BroadcastDone
	case b.Status == store.BroadcastScheduled && !s.now().Before(b.ScheduledAt):
		next = store.BroadcastSending
	case b.Status == store.BroadcastSending && done:
		next = store.BroadcastDone
	}
	if next == "" {
		return out, nil
	}
	nb, err := s.st.SetBroadcastStatus(ctx, b.WorkspaceID, b.ID, []string{b.Status}, next, "")
	switch {
	case errors.Is(err, store.ErrConflict):
		out.Broadcast = nb // moved meanwhile (cancelled): show what it is
		return out, nil
	case err != nil:
		return Broadcast{}, err
	}
	out.Broadcast = nb
	if next == store.BroadcastDone {
		// Its trigger has nothing left to do: take it off the trigger
		// loop's live journeys.
		if _, err := s.st.SetJourneyStatus(ctx, b.WorkspaceID, b.JourneyID, store.JourneyArchived, "broadcast"); err != nil {
			return Broadcast{}, err
		}
	}
	return out, nil
}

// progress reads the broadcast's numbers; done: the audience is entered
// and no run is left.
func (s *Service) progress(ctx context.Context, b store.Broadcast) (Progress, bool, error) {
	var p Progress
	tr, err := s.st.LatestTriggerRun(ctx, b.JourneyID, TriggerNode)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p, false, nil // not started
	case err != nil:
		return p, false, err
	}
	p.Scanned, p.Matched, p.Entered, p.Error = tr.Scanned, tr.Matched, tr.Entered, tr.Error
	p.Entering = tr.Status == store.TriggerRunning
	counts, err := s.st.NodeOutcomes(ctx, b.WorkspaceID, b.JourneyID, SendNode)
	if err != nil {
		return p, false, err
	}
	for _, c := range counts {
		switch {
		case c.Outcome == "sent":
			p.Sent += c.Count
		case c.Outcome == "skipped" && c.Reason == "no_consent":
			p.NoConsent += c.Count
		case c.Outcome == "skipped" && c.Reason == "frequency_cap":
			p.FrequencyCap += c.Count
		case c.Outcome == "skipped":
			p.Suppressed += c.Count
		case c.Outcome == "deferred" && c.Reason == "quiet_hours":
			p.QuietHours += c.Count
		case c.Outcome == "failed":
			p.Failed += c.Count
		case c.Outcome == "unknown":
			p.Unknown += c.Count
		}
	}
	statuses, err := s.st.JourneyRunStatuses(ctx, b.WorkspaceID, b.JourneyID)
	if err != nil {
		return p, false, err
	}
	for st, n := range statuses {
		switch st {
		case store.RunCompleted, store.RunFailed:
		case store.RunExited:
			p.Cancelled += n
		default:
			p.Waiting += n
		}
	}
	return p, tr.Status == store.TriggerDone && p.Waiting == 0, nil
}

// Cancel stops a broadcast: no more profiles enter, runs not sent yet are
// ended, and it never sends again. Its journey is paused, so a run that
// was entering as the cancel came parks before its send; ending the runs
// then takes them off. A done or cancelled broadcast is ErrEnded.
func (s *Service) Cancel(ctx context.Context, workspaceID, id, by string) (Broadcast, error) {
	cur, err := s.Get(ctx, workspaceID, id) // it may have finished meanwhile
	if err != nil {
		return Broadcast{}, err
	}
	b := cur.Broadcast
	if b.Status == store.BroadcastDone || b.Status == store.BroadcastCancelled {
		return Broadcast{}, fmt.Errorf("broadcast %s is %s: %w", id, b.Status, ErrEnded)
	}
	status := store.JourneyPaused
	if b.Status == store.BroadcastDraft {
		status = store.JourneyArchived // never published
	}
	if _, err := s.st.SetJourneyStatus(ctx, workspaceID, b.JourneyID, status, by); err != nil {
		return Broadcast{}, fmt.Errorf("stopping broadcast journey: %w", err)
	}
	b, err = s.st.SetBroadcastStatus(ctx, workspaceID, id, []string{store.BroadcastDraft, store.BroadcastScheduled, store.BroadcastSending}, store.BroadcastCancelled, by)
	if errors.Is(err, store.ErrConflict) {
		return Broadcast{}, fmt.Errorf("broadcast %s is %s: %w", id, b.Status, ErrEnded)
	}
	if err != nil {
		return Broadcast{}, err
	}
	if s.engine != nil {
		if _, err := s.engine.ExitRuns(ctx, b.JourneyID, "broadcast cancelled"); err != nil {
			return Broadcast{}, fmt.Errorf("ending the broadcast's runs: %w", err)
		}
	}
	return s.refresh(ctx, b)
}
