package entry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
)

// Event is an event sent by another system.
type Event struct {
	Name       string
	ProfileID  string // the profile's external id
	Properties map[string]any
	OccurredAt *time.Time // nil: when it is received
	// Profile optionally updates the profile's fields with the event.
	Profile *profiles.Input
	// IdempotencyKey, when set, stores the event once: a replay is
	// accepted as a Duplicate and applies nothing (e.g. a Segment
	// messageId, docs/cdp.md).
	IdempotencyKey string
}

// EventResult is what an event did: its id and the runs it entered,
// resumed, made exit or counted as converted.
type EventResult struct {
	ID        string
	ProfileID string // the profile's external id
	Entered   []string
	Resumed   []string
	Exited    []string
	Converted []string
	// Duplicate: an event with the same IdempotencyKey was stored before;
	// this one was not stored again.
	Duplicate bool
}

var eventName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]{0,127}$`)

// Validate checks an event, normalising it, and returns every problem,
// each field named with prefix (e.g. "events[3].").
func (e *Event) Validate(prefix string, now time.Time) []profiles.Problem {
	var ps []profiles.Problem
	if !eventName.MatchString(e.Name) {
		ps = append(ps, profiles.Problem{Field: prefix + "name", Message: "required: 1 to 128 letters, digits, spaces or _ . : - /"})
	}
	e.ProfileID = strings.TrimSpace(e.ProfileID)
	if e.ProfileID == "" || len(e.ProfileID) > 256 {
		ps = append(ps, profiles.Problem{Field: prefix + "profile_id", Message: "required: the profile's external id (at most 256 characters)"})
	}
	if e.OccurredAt != nil && e.OccurredAt.After(now.Add(24*time.Hour)) {
		ps = append(ps, profiles.Problem{Field: prefix + "occurred_at", Message: "more than a day in the future"})
	}
	if e.Profile != nil {
		e.Profile.ExternalID = e.ProfileID
		ps = append(ps, e.Profile.Validate(prefix+"profile.")...)
	}
	return ps
}

// Events stores validated events one after the other, each with its
// profile (created when new), and applies each: it wakes waiting runs,
// applies exit criteria and goals, and enters event-triggered journeys.
func (s *Service) Events(ctx context.Context, ws string, events []Event) ([]EventResult, error) {
	results := make([]EventResult, 0, len(events))
	for _, e := range events {
		r, err := s.event(ctx, ws, e)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

func (s *Service) event(ctx context.Context, ws string, e Event) (EventResult, error) {
	var prof store.Profile
	var err error
	if e.Profile != nil {
		prof, _, err = s.SaveProfile(ctx, ws, *e.Profile, "event")
	} else {
		prof, _, err = s.store.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: ws, ExternalID: e.ProfileID, Source: "event"})
	}
	if err != nil {
		return EventResult{}, err
	}
	ev := store.Event{WorkspaceID: ws, ProfileID: prof.ID, Name: e.Name, Properties: e.Properties, IdempotencyKey: e.IdempotencyKey}
	if e.OccurredAt != nil {
		ev.OccurredAt = *e.OccurredAt
	}
	stored, err := s.store.InsertEvent(ctx, ev)
	if e.IdempotencyKey != "" && errors.Is(err, store.ErrConflict) {
		return EventResult{ProfileID: e.ProfileID, Duplicate: true, Entered: []string{}, Resumed: []string{}, Exited: []string{}, Converted: []string{}}, nil
	}
	if err != nil {
		return EventResult{}, err
	}
	res := EventResult{ID: stored.ID, ProfileID: e.ProfileID, Entered: []string{}, Resumed: []string{}, Exited: []string{}, Converted: []string{}}
	if s.engine == nil {
		return res, nil
	}
	r, err := s.engine.HandleEvent(ctx, stored)
	if err != nil {
		return res, fmt.Errorf("applying event %s: %w", stored.ID, err)
	}
	res.Entered, res.Resumed, res.Exited, res.Converted = nonNil(r.Entered), nonNil(r.Resumed), nonNil(r.Exited), nonNil(r.Converted)
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SaveProfile writes a validated profile (fields, attributes, consent) in
// one transaction, after queueing the removal from ad audiences a
// withdrawn consent calls for (docs/connectors.md), and tells segment and
// attribute triggers about the saved profile. source names the write in
// the profile's change history ("api", "event"…). created reports a new
// profile.
func (s *Service) SaveProfile(ctx context.Context, ws string, p profiles.Input, source string) (prof store.Profile, created bool, err error) {
	if s.profiles != nil {
		if _, err := s.profiles.WithdrawAdConsent(ctx, ws, p.ExternalID, p.Consent); err != nil {
			return store.Profile{}, false, err
		}
	}
	up := upsert(ws, p)
	up.Source = source
	prof, created, err = s.store.UpsertProfile(ctx, up)
	if err != nil {
		return store.Profile{}, false, err
	}
	if s.profiles != nil {
		s.profiles.Changed(ctx, prof) // segment and attribute triggers see the saved profile
	}
	return prof, created, nil
}
