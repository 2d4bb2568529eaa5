package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func strp(s string) *string { return &s }

func TestProfilesAndEvents(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		p, created, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "u1", Email: strp("ada@example.com"),
			Attributes: map[string]any{"plan": "pro", "age": 36}})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "ada@example.com", p.Email)

		b.clock.Add(time.Second)
		p2, created, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "u1", Timezone: strp("Europe/Paris"),
			Attributes: map[string]any{"plan": nil, "country": "FR"}})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, p.ID, p2.ID)
		require.Equal(t, "ada@example.com", p2.Email, "nil fields are kept")
		require.Equal(t, map[string]any{"age": float64(36), "country": "FR"}, p2.Attributes, "merged; null removes")
		require.True(t, p2.UpdatedAt.After(p2.CreatedAt))

		got, err := b.store.GetProfile(b.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, "Europe/Paris", got.Timezone)
		withConsent, err := b.store.SetProfileConsent(b.ctx, p.ID, "ads", "granted", "signup form")
		require.NoError(t, err)
		ads := withConsent.Consent["ads"].(map[string]any)
		require.Equal(t, "granted", ads["status"])
		require.Equal(t, "signup form", ads["source"])
		withConsent, err = b.store.SetProfileConsent(b.ctx, p.ID, "email", "unsubscribed", "link")
		require.NoError(t, err)
		require.Len(t, withConsent.Consent, 2)
		_, err = b.store.SetProfileConsent(b.ctx, "nope", "email", "granted", "x")
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err = b.store.GetProfileByExternalID(b.ctx, b.ws, "u1")
		require.NoError(t, err)
		require.Equal(t, p.ID, got.ID)
		_, err = b.store.GetProfileByExternalID(b.ctx, "other", "u1")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.store.GetProfile(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)

		// Concurrent first upserts of one external id make one profile.
		var wg sync.WaitGroup
		ids := make(chan string, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "race", Attributes: map[string]any{fmt.Sprint("k", i): i}})
				if err != nil {
					t.Error(err)
					return
				}
				ids <- p.ID
			}(i)
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		require.Len(t, seen, 1)
		race, err := b.store.GetProfileByExternalID(b.ctx, b.ws, "race")
		require.NoError(t, err)
		require.Len(t, race.Attributes, 6, "no update lost")

		e, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: p.ID, Name: "purchase", Properties: map[string]any{"amount": 12.5},
			OccurredAt: b.clock.Now().Add(-time.Hour), IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.Equal(t, "k1", e.IdempotencyKey)
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: p.ID, Name: "purchase", IdempotencyKey: "k1"})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: p.ID, Name: "purchase"})
		require.NoError(t, err, "no key, no de-duplication")
		evs, err := b.store.ListProfileEvents(b.ctx, p.ID, "purchase", b.clock.Now().Add(-2*time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Empty(t, evs[0].IdempotencyKey, "newest first")
		require.Equal(t, 12.5, evs[1].Properties["amount"])
		evs, err = b.store.ListProfileEvents(b.ctx, p.ID, "purchase", b.clock.Now().Add(-30*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

type runFixture struct {
	journey store.Journey
	profile store.Profile
}

func newRunFixture(t *testing.T, b testBundle, ext string) runFixture {
	t.Helper()
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "J " + ext, Draft: doc("J")})
	require.NoError(t, err)
	p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: ext})
	require.NoError(t, err)
	return runFixture{journey: j, profile: p}
}

func (f runFixture) enter(b testBundle, p store.EntryPolicy) (store.Run, error) {
	return b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID,
		CurrentNode: "start", EntryEvent: []byte(`{"name":"signup"}`)}, p,
		store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
}

func finish(t *testing.T, b testBundle, r store.Run) {
	t.Helper()
	require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID,
		ExpectSequence: r.Sequence, Status: store.RunCompleted, Sequence: r.Sequence + 1, Finished: true}))
}

func TestEntryPolicies(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "never")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "never"})
		require.NoError(t, err)
		require.Equal(t, store.RunActive, r.Status)
		require.Equal(t, 1, r.Sequence)
		finish(t, b, r)
		_, err = f.enter(b, store.EntryPolicy{Reentry: "never"})
		var refused *store.EntryRefusedError
		require.ErrorAs(t, err, &refused)
		require.Contains(t, refused.Reason, "already entered")

		f = newRunFixture(t, b, "after_exit")
		r, err = f.enter(b, store.EntryPolicy{Reentry: "after_exit"})
		require.NoError(t, err)
		_, err = f.enter(b, store.EntryPolicy{Reentry: "after_exit"})
		require.ErrorAs(t, err, &refused)
		require.Contains(t, refused.Reason, "still in this journey")
		finish(t, b, r)
		_, err = f.enter(b, store.EntryPolicy{Reentry: "after_exit"})
		require.NoError(t, err, "after the run ended")

		f = newRunFixture(t, b, "always")
		p := store.EntryPolicy{Reentry: "always", MinInterval: time.Hour, PerProfileLimit: 2}
		_, err = f.enter(b, p)
		require.NoError(t, err)
		_, err = f.enter(b, p)
		require.ErrorAs(t, err, &refused)
		require.Contains(t, refused.Reason, "minimum re-entry interval")
		b.clock.Add(time.Hour)
		_, err = f.enter(b, p)
		require.NoError(t, err, "overlapping runs are fine with always")
		b.clock.Add(time.Hour)
		_, err = f.enter(b, p)
		require.ErrorAs(t, err, &refused)
		require.Contains(t, refused.Reason, "limit")

		// Total entry limit across profiles.
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Limited", Draft: doc("L")})
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			prof, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprint("lim", i)})
			require.NoError(t, err)
			_, err = runFixture{journey: j, profile: prof}.enter(b, store.EntryPolicy{Reentry: "never", TotalLimit: 2})
			if i < 2 {
				require.NoError(t, err)
			} else {
				require.ErrorAs(t, err, &refused)
				require.Contains(t, refused.Reason, "entry limit of 2")
			}
		}
		runs, _, err := b.store.ListRuns(b.ctx, b.ws, store.RunFilter{JourneyID: j.ID})
		require.NoError(t, err)
		require.Len(t, runs, 2, "a refused entry leaves nothing behind")
	})
}

func TestEnterRunConcurrently(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "racer")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.enter(b, store.EntryPolicy{Reentry: "never"})
				var re *store.EntryRefusedError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &re):
					refused++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 1, ok)
		require.Equal(t, 7, refused)
		items, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 100)
		require.NoError(t, err)
		require.Len(t, items, 1, "one run, one outbox item")
	})
}

func TestAdvanceRun(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "adv")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		items, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, r.ID, items[0].RunID)
		require.Equal(t, 1, items[0].Sequence)
		require.NoError(t, b.store.DeleteOutbox(b.ctx, []int64{items[0].ID}))

		d, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: r.ID, Sequence: 2, ProfileID: f.profile.ID, IdempotencyKey: r.ID + ":2", Connector: "sandbox", Channel: "send_email"})
		require.NoError(t, err)
		now := b.clock.Now()
		wake := now.Add(time.Hour)
		u := store.RunUpdate{
			RunID: r.ID, JourneyID: r.JourneyID, ProfileID: f.profile.ID, ExpectSequence: 1,
			Status: store.RunWaiting, CurrentNode: "wait", Sequence: 3, Steps: 2, WaitUntil: &wake, NextDueAt: &wake,
			Ledger: []store.RunStep{
				{Sequence: 1, NodeID: "start", Kind: "trigger_event", Port: "out", Outcome: "entered", StartedAt: now, FinishedAt: now},
				{Sequence: 2, NodeID: "hello", Kind: "send_email", Port: "out", Outcome: "sent", Detail: map[string]any{"delivery_id": d.ID}, StartedAt: now, FinishedAt: now},
			},
			Outbox:            &store.OutboxItem{Sequence: 3, TaskType: "run:advance", ProcessAt: wake},
			Delivery:          &store.DeliveryOutcome{ID: d.ID, DeliveryUpdate: store.DeliveryUpdate{Status: store.DeliverySent, Attempts: 1}},
			ProfileAttributes: map[string]any{"score": 10},
			Conversion:        &store.Conversion{At: now, Value: 9.5, Path: "start>hello"},
		}
		require.NoError(t, b.store.AdvanceRun(b.ctx, u))
		// The same step again (a second worker, a duplicate task) changes nothing.
		err = b.store.AdvanceRun(b.ctx, u)
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunWaiting, got.Status)
		require.Equal(t, 3, got.Sequence)
		require.True(t, got.NextDueAt.Equal(wake))
		require.NotNil(t, got.ConvertedAt)
		require.Equal(t, 9.5, got.ConversionValue)
		_, err = b.store.GetWorkspaceRun(b.ctx, "other", r.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		steps, err := b.store.ListRunSteps(b.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, d.ID, steps[1].Detail["delivery_id"])
		dd, err := b.store.GetDeliveryByKey(b.ctx, r.ID+":2")
		require.NoError(t, err)
		require.Equal(t, store.DeliverySent, dd.Status)
		prof, err := b.store.GetProfile(b.ctx, f.profile.ID)
		require.NoError(t, err)
		require.EqualValues(t, 10, prof.Attributes["score"])
		n, err := b.store.CountDeliveriesSince(b.ctx, f.profile.ID, "send_email", now.Add(-time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = b.store.CountDeliveriesSince(b.ctx, f.profile.ID, "send_sms", now.Add(-time.Minute))
		require.NoError(t, err)
		require.Zero(t, n)

		// A second conversion keeps the first.
		b.clock.Add(time.Minute)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 3, Status: store.RunWaiting, CurrentNode: "wait",
			Sequence: 3, WaitUntil: &wake, NextDueAt: &wake, Conversion: &store.Conversion{At: b.clock.Now(), Value: 1}}))
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, 9.5, got.ConversionValue)

		ok, err := b.store.RecordConversion(b.ctx, r.ID, store.Conversion{At: b.clock.Now(), Value: 3})
		require.NoError(t, err)
		require.False(t, ok, "already converted")
		f2 := newRunFixture(t, b, "conv")
		r2, err := f2.enter(b, store.EntryPolicy{})
		require.NoError(t, err)
		finish(t, b, r2)
		ok, err = b.store.RecordConversion(b.ctx, r2.ID, store.Conversion{At: b.clock.Now(), Value: 3, Path: "a>b"})
		require.NoError(t, err)
		require.True(t, ok, "a finished run can still convert within its window")
		got2, err := b.store.GetRun(b.ctx, r2.ID)
		require.NoError(t, err)
		require.Equal(t, "a>b", got2.ConversionPath)

		// Ledger rows are unique on (run, sequence): a conflicting step rolls the whole update back.
		err = b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 3, Status: store.RunActive, Sequence: 4,
			Ledger: []store.RunStep{{Sequence: 2, NodeID: "x", Kind: "exit", Outcome: "ok", StartedAt: now, FinishedAt: now}}})
		require.Error(t, err)
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, 3, got.Sequence, "rolled back")

		total, err := b.store.CountRuns(b.ctx, r.JourneyID, "")
		require.NoError(t, err)
		require.EqualValues(t, 1, total)
		waitingN, err := b.store.CountRuns(b.ctx, r.JourneyID, store.RunWaiting)
		require.NoError(t, err)
		require.EqualValues(t, 1, waitingN)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 3, Status: store.RunWaiting, CurrentNode: "wait", Sequence: 4,
			WaitUntil: &wake, NextDueAt: &wake, Ledger: []store.RunStep{{Sequence: 3, NodeID: "pause", Kind: "delay", Port: "out", Outcome: "waited",
				Detail: map[string]any{"until": now.Add(-time.Second).Format(time.RFC3339Nano)}, StartedAt: now, FinishedAt: now}}}))
		late, err := b.store.DelayLateness(b.ctx, r.JourneyID, "pause")
		require.NoError(t, err)
		require.Equal(t, []time.Duration{time.Second}, late)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 4, Status: store.RunWaiting, CurrentNode: "wait", Sequence: 3,
			WaitUntil: &wake, NextDueAt: &wake}))

		due, err := b.store.ListDueRuns(b.ctx, time.Time{}, "", 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		due, err = b.store.ListDueRuns(b.ctx, b.clock.Now(), "", 10)
		require.NoError(t, err)
		require.Empty(t, due, "not due before the wake time")
		due, err = b.store.ListDueRuns(b.ctx, wake, "", 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		due, err = b.store.ListDueRuns(b.ctx, wake, r.ID, 10)
		require.NoError(t, err)
		require.Empty(t, due)

		mine := func() int {
			items, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 10)
			require.NoError(t, err)
			n := 0
			for _, it := range items {
				if it.RunID == r.ID {
					n++
				}
			}
			return n
		}
		require.Equal(t, 1, mine())
		require.NoError(t, b.store.DeleteOutboxKeys(b.ctx, []store.OutboxKey{{RunID: r.ID, Sequence: 3, TaskType: "run:advance"}, {RunID: "other", Sequence: 1, TaskType: "run:advance"}}))
		require.Zero(t, mine())
		require.NoError(t, b.store.DeleteOutboxKeys(b.ctx, nil))
		require.NoError(t, b.store.DeleteOutboxFor(b.ctx, r.ID, 3, "run:advance"))
	})
}

func TestWaitingRunsPauseResumeRevive(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "w")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		timeout := b.clock.Now().Add(time.Hour)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 1, Status: store.RunWaitingEvent,
			CurrentNode: "wait_buy", Sequence: 2, WaitEvent: "purchase", WaitUntil: &timeout, NextDueAt: &timeout}))
		waiting, err := b.store.ListRunsWaitingForEvent(b.ctx, f.profile.ID, "purchase")
		require.NoError(t, err)
		require.Len(t, waiting, 1)
		none, err := b.store.ListRunsWaitingForEvent(b.ctx, f.profile.ID, "signup")
		require.NoError(t, err)
		require.Empty(t, none)
		runs, err := b.store.ListProfileRuns(b.ctx, f.profile.ID, f.journey.ID, b.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, runs, 1)
		runs, err = b.store.ListProfileRuns(b.ctx, f.profile.ID, "", b.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, runs)

		n, err := b.store.PauseJourneyRuns(b.ctx, f.journey.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		got, err := b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunPaused, got.Status)
		require.Nil(t, got.NextDueAt)
		waiting, err = b.store.ListRunsWaitingForEvent(b.ctx, f.profile.ID, "purchase")
		require.NoError(t, err)
		require.Empty(t, waiting, "a paused run takes no events")

		before, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 10)
		require.NoError(t, err)
		n, err = b.store.ResumeJourneyRuns(b.ctx, f.journey.ID, "run:advance")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		after, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 10)
		require.NoError(t, err)
		require.Len(t, after, len(before)+1)
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunActive, got.Status)
		require.NotNil(t, got.NextDueAt)

		// Paused again, then resumed by the reconciler's sweep once the journey is live.
		_, err = b.store.PauseJourneyRuns(b.ctx, f.journey.ID)
		require.NoError(t, err)
		n, err = b.store.ResumeLiveJourneyRuns(b.ctx, "run:advance")
		require.NoError(t, err)
		require.Zero(t, n, "the journey is a draft, not live")
		_, err = b.store.PublishJourney(b.ctx, b.ws, f.journey.ID, doc("v1"), "t")
		require.NoError(t, err)
		n, err = b.store.ResumeLiveJourneyRuns(b.ctx, "run:advance")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.Equal(t, store.RunActive, mustRun(t, b, r.ID).Status)

		ids, err := b.store.ListLiveRunIDs(b.ctx, f.journey.ID, "", 10)
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, ids)

		_, err = b.store.ReviveRun(b.ctx, b.ws, r.ID, "run:advance")
		require.ErrorIs(t, err, store.ErrConflict, "only failed runs")
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: 2,
			Status: store.RunFailed, CurrentNode: "wait_buy", Sequence: 2, Error: "boom", Finished: true}))
		ids, err = b.store.ListLiveRunIDs(b.ctx, f.journey.ID, "", 10)
		require.NoError(t, err)
		require.Empty(t, ids)
		_, err = b.store.ReviveRun(b.ctx, "other", r.ID, "run:advance")
		require.ErrorIs(t, err, store.ErrNotFound)
		revived, err := b.store.ReviveRun(b.ctx, b.ws, r.ID, "run:advance")
		require.NoError(t, err)
		require.Equal(t, store.RunActive, revived.Status)
		require.Empty(t, revived.Error)
		list, next, err := b.store.ListRuns(b.ctx, b.ws, store.RunFilter{ProfileID: f.profile.ID, Status: store.RunActive, Limit: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Empty(t, next)
	})
}

func mustRun(t *testing.T, b testBundle, id string) store.Run {
	t.Helper()
	r, err := b.store.GetRun(b.ctx, id)
	require.NoError(t, err)
	return r
}

func TestMoveRun(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "mover")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		wake := b.clock.Now().Add(time.Hour)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, ExpectSequence: 1, Status: store.RunWaiting,
			CurrentNode: "wait", Sequence: 2, WaitUntil: &wake, NextDueAt: &wake}))
		moved, err := b.store.MoveRun(b.ctx, b.ws, r.ID, "thanks", "admin@example.com", "run:advance")
		require.NoError(t, err)
		require.Equal(t, store.RunActive, moved.Status)
		require.Equal(t, "thanks", moved.CurrentNode)
		require.Equal(t, 3, moved.Sequence)
		require.Nil(t, moved.WaitUntil)
		steps, err := b.store.ListRunSteps(b.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.Equal(t, "moved", steps[0].Outcome)
		require.Equal(t, "thanks", steps[0].Detail["to"])
		require.Equal(t, "wait", steps[0].Detail["from"])
		_, err = b.store.MoveRun(b.ctx, "other", r.ID, "x", "a", "run:advance")
		require.ErrorIs(t, err, store.ErrNotFound)
		finish(t, b, mustRun(t, b, r.ID))
		_, err = b.store.MoveRun(b.ctx, b.ws, r.ID, "x", "a", "run:advance")
		require.ErrorIs(t, err, store.ErrConflict, "an ended run stays ended")
	})
}
