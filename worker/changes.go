package worker

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/store"
)

// Attribute triggers (trigger_attribute) and profile changes.
//
// Every profile write that changes a built-in field or an attribute
// records the change (store.ProfileChange) in its own transaction: the
// profile API, an event's profile, a CSV import row, a webhook, and an
// update_profile step. The writer then hands the profile to
// Triggers.ProfileChanged, which enters the journeys whose attribute
// triggers the change matches and deletes the change. A change its writer
// did not hand over (the process stopped, a webhook) is found by the
// leader's pass after ChangeGrace. An entry's run id is derived from the
// change and the journey, so a change handled twice (a retry, two
// processes) enters each journey once.

// AttributeChangeEvent is the name of the entry event of a run an
// attribute trigger started; its properties are attribute, old, new,
// source and depth.
const AttributeChangeEvent = "trigger_attribute"

// MaxChangeDepth bounds chains of journeys that enter each other through
// attribute changes: a change made by a run that a change of depth
// MaxChangeDepth entered triggers nothing (see store.ChangeSource.Depth).
const MaxChangeDepth = 5

// ChangeGrace is how long, by default, a profile change is left to the
// process that wrote it before the leader's pass handles it
// (TriggersConfig.ChangeGrace).
const ChangeGrace = 30 * time.Second

// changeGiveUp is how long a change whose entries keep failing is retried
// before it is dropped (with a warning).
const changeGiveUp = 24 * time.Hour

// AttributeChangeEntry is the entry event of a run entered on a change of
// attribute from before to after.
func AttributeChangeEntry(attribute string, before, after any, source string, depth int, at time.Time) EntryEvent {
	return EntryEvent{Name: AttributeChangeEvent, OccurredAt: at, Properties: map[string]any{
		"attribute": attribute, "old": before, "new": after, "source": source, "depth": depth,
	}}
}

// entryChange is the change a run was entered on (empty for other runs).
func entryChange(ev expression.Event) expression.Change {
	if ev.Name != AttributeChangeEvent {
		return expression.Change{}
	}
	attr, _ := ev.Properties["attribute"].(string)
	return expression.Change{Attribute: attr, Old: ev.Properties["old"], New: ev.Properties["new"]}
}

// entryChangeDepth is the depth of the change a run was entered on (0 for
// other runs).
func entryChangeDepth(ev expression.Event) int {
	if ev.Name != AttributeChangeEvent {
		return 0
	}
	switch d := ev.Properties["depth"].(type) {
	case float64:
		return int(d)
	case int:
		return d
	}
	return 0
}

// AttributeTriggerMatches reports whether an attribute trigger fires for
// the change in env.Change: its from and to (compared as text: pro, 10,
// true) and its condition, evaluated against env (an evaluation error
// counts as false, as in conditions).
func AttributeTriggerMatches(n *flows.CompiledNode, env *expression.Env) bool {
	if from := n.Config.String("from"); from != "" {
		if s, ok := valueText(env.Change.Old); !ok || s != from {
			return false
		}
	}
	if to := n.Config.String("to"); to != "" {
		if s, ok := valueText(env.Change.New); !ok || s != to {
			return false
		}
	}
	if prog := n.Program("expr"); prog != nil {
		ok, _ := prog.EvalBool(env)
		return ok
	}
	return true
}

// valueText is a value as a trigger's from and to name it: a string as it
// is, a number without trailing zeros, true or false, other values as
// JSON; ok is false for an absent value.
func valueText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

// changeRunID is the id of the run a change enters a journey with: the
// same for every attempt, so the change enters the journey at most once.
// It is a UUIDv7 (time-ordered, like store.NewID) whose time is the
// change's and whose other bits come from the change and the journey.
func changeRunID(c store.ProfileChange, journeyID string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "profile-change\x00%d\x00%s\x00%d\x00%s", c.ID, c.ProfileID, c.CreatedAt.UnixNano(), journeyID))
	var u uuid.UUID
	copy(u[:], h[:16])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(c.CreatedAt.UnixMilli()))
	copy(u[0:6], ms[2:8])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// profileWritten tells the triggers about a profile the engine changed
// (update_profile), so that segment and attribute triggers see the change
// at once. A failure is logged: the change is committed, and the leader's
// pass handles it after ChangeGrace.
func (e *Engine) profileWritten(ctx context.Context, profileID string) {
	t := e.triggers.Load()
	if t == nil {
		return
	}
	p, err := e.cfg.Store.GetProfile(ctx, profileID)
	if err == nil {
		_, err = t.ProfileChanged(ctx, p)
	}
	if err != nil {
		e.logger.Warn("profile triggers after update_profile", slog.String("profile_id", profileID), slog.String("error", err.Error()))
	}
}

// attributeChanges handles a profile's unhandled changes, oldest first:
// it enters the journeys whose attribute triggers (trs) a change matches
// and deletes the change. A change whose entries failed is kept for the
// next try (until changeGiveUp).
func (t *Triggers) attributeChanges(ctx context.Context, p store.Profile, trs []trigger) ([]string, error) {
	const page = 100
	var entered []string
	for {
		changes, err := t.st.ListProfileChanges(ctx, p.ID, page)
		if err != nil || len(changes) == 0 {
			return entered, err
		}
		var done []int64
		var errs []error
		for _, c := range changes {
			runs, err := t.applyChange(ctx, p, c, trs)
			entered = append(entered, runs...)
			if err != nil {
				if t.e.now().Sub(c.CreatedAt) < changeGiveUp {
					errs = append(errs, err)
					continue
				}
				t.logger.Warn("dropping a profile change whose entries kept failing", slog.Int64("change_id", c.ID),
					slog.String("profile_id", p.ID), slog.String("error", err.Error()))
			}
			done = append(done, c.ID)
		}
		if err := t.st.DeleteProfileChanges(ctx, done); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil || len(changes) < page {
			return entered, err
		}
	}
}

// applyChange enters the journeys whose attribute triggers one change
// matches: at most one entry per journey and change (its first matching
// trigger). A change never enters the journey whose update_profile made
// it, nor any journey past MaxChangeDepth.
func (t *Triggers) applyChange(ctx context.Context, p store.Profile, c store.ProfileChange, trs []trigger) ([]string, error) {
	if p.ErasedAt != nil || c.Depth > MaxChangeDepth {
		return nil, nil
	}
	now := t.e.now()
	var entered []string
	var errs []error
	done := map[string]bool{}
	for _, tr := range trs {
		attr := tr.node.Config.String("attribute")
		vc, changed := c.Changes[attr]
		if !changed || done[tr.journey.ID] || tr.journey.ID == c.JourneyID {
			continue
		}
		ev := AttributeChangeEntry(attr, vc.Old, vc.New, c.Source, c.Depth, c.CreatedAt)
		env := t.e.envWith(store.Run{EnteredAt: now, Version: tr.journey.LiveVersion}, ev, tr.journey, p, now)
		if !AttributeTriggerMatches(tr.node, env) {
			continue
		}
		done[tr.journey.ID] = true
		run, err := t.enterChange(ctx, tr, p, c, ev)
		switch {
		case errors.Is(err, errRefused):
		case err != nil:
			errs = append(errs, err)
		case run != "":
			entered = append(entered, run)
		}
	}
	return entered, errors.Join(errs...)
}

// enterChange enters a profile through an attribute trigger with the run
// id of (change, journey). It returns "" when that run exists already: the
// change was handled before (a retry, another process).
func (t *Triggers) enterChange(ctx context.Context, tr trigger, p store.Profile, c store.ProfileChange, ev EntryEvent) (string, error) {
	en, err := t.e.PrepareEntry(ctx, EnterRequest{WorkspaceID: tr.journey.WorkspaceID, JourneyID: tr.journey.ID, ProfileID: p.ID,
		TriggerNode: tr.node.ID, Event: ev, RunID: changeRunID(c, tr.journey.ID), Profile: WholeProfile(p)})
	if errors.Is(err, ErrOutsideWindow) || errors.Is(err, ErrJourneyNotLive) {
		return "", errRefused
	}
	if err != nil {
		return "", fmt.Errorf("entering journey %s: %w", tr.journey.ID, err)
	}
	run, err := t.e.cfg.Store.EnterRun(ctx, en.Run, en.Policy, en.First, en.Steps...)
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused):
		return "", errRefused
	case err != nil:
		if r, gerr := t.e.cfg.Store.GetRun(ctx, en.Run.ID); gerr == nil && r.JourneyID == tr.journey.ID {
			return "", nil // entered by an earlier attempt
		}
		return "", fmt.Errorf("entering journey %s: %w", tr.journey.ID, err)
	}
	t.e.Dispatch(ctx, en)
	return run.ID, nil
}

// staleChanges hands the profile changes nobody handled within
// ChangeGrace (their writer stopped first, or never hands them over, like
// a webhook) to ProfileChanged. It stops at the first error: the next
// pass tries again.
func (t *Triggers) staleChanges(ctx context.Context) error {
	const page = 500
	before := t.e.now().Add(-t.changeGrace)
	for {
		changes, err := t.st.ListStaleProfileChanges(ctx, before, page)
		if err != nil || len(changes) == 0 {
			return err
		}
		seen := map[string]bool{}
		for _, c := range changes {
			if seen[c.ProfileID] {
				continue
			}
			seen[c.ProfileID] = true
			p, err := t.e.cfg.Store.GetProfile(ctx, c.ProfileID)
			if errors.Is(err, store.ErrNotFound) {
				// The profile is gone (its changes go with it where the
				// database enforces the foreign key).
				var ids []int64
				for _, o := range changes {
					if o.ProfileID == c.ProfileID {
						ids = append(ids, o.ID)
					}
				}
				if err := t.st.DeleteProfileChanges(ctx, ids); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("loading profile %s: %w", c.ProfileID, err)
			}
			if _, err := t.ProfileChanged(ctx, p); err != nil {
				return fmt.Errorf("profile %s: %w", c.ProfileID, err)
			}
		}
		if len(changes) < page {
			return nil
		}
	}
}
