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

// Tests of the one-statement writes and their group commit (batch.go,
// batch_pg.go); on SQLite the same calls take the gorm transactions.

func TestLoadStep(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "ls")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		key := fmt.Sprintf("%s:%d", r.ID, r.Sequence)
		sc, err := b.store.LoadStep(b.ctx, r.ID, key)
		require.NoError(t, err)
		require.Equal(t, r.ID, sc.Run.ID)
		require.Equal(t, r.Sequence, sc.Run.Sequence)
		require.JSONEq(t, `{"name":"signup"}`, string(sc.Run.EntryEvent))
		require.Equal(t, f.profile.ID, sc.Profile.ID)
		require.Nil(t, sc.Delivery)

		_, err = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: r.ID, Sequence: r.Sequence, IdempotencyKey: key, Channel: "send_email", Attempts: 1})
		require.NoError(t, err)
		sc, err = b.store.LoadStep(b.ctx, r.ID, key)
		require.NoError(t, err)
		require.NotNil(t, sc.Delivery)
		require.Equal(t, key, sc.Delivery.IdempotencyKey)
		require.Equal(t, 1, sc.Delivery.Attempts)

		_, err = b.store.LoadStep(b.ctx, "no-such-run", key)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestAdvanceRunWithNewDelivery(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "nd")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		key := fmt.Sprintf("%s:%d", r.ID, r.Sequence+1)
		d := store.Delivery{ID: store.NewID(), WorkspaceID: b.ws, RunID: r.ID, Sequence: r.Sequence + 1, NodeID: "mail", ProfileID: f.profile.ID,
			IdempotencyKey: key, Connector: "sandbox", Channel: "send_email", Recipient: "a@example.com", Status: store.DeliveryPending, Attempts: 1}
		u := store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: r.Sequence,
			Status: store.RunActive, CurrentNode: "mail", Sequence: r.Sequence + 1, Steps: 1, NewDelivery: &d,
			Ledger: []store.RunStep{{Sequence: r.Sequence, NodeID: "start", Kind: "trigger_webhook", Port: "out", Outcome: "entered", StartedAt: b.clock.Now(), FinishedAt: b.clock.Now()}}}
		require.NoError(t, b.store.AdvanceRun(b.ctx, u))
		got, err := b.store.GetDeliveryByKey(b.ctx, key)
		require.NoError(t, err)
		require.Equal(t, d.ID, got.ID)
		require.Equal(t, store.DeliveryPending, got.Status)
		require.Equal(t, "a@example.com", got.Recipient)

		// The key taken: nothing is written, not even the run's move.
		r2, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		d2 := d
		d2.ID, d2.RunID = store.NewID(), r2.ID
		u2 := store.RunUpdate{RunID: r2.ID, JourneyID: r2.JourneyID, ProfileID: r2.ProfileID, ExpectSequence: r2.Sequence,
			Status: store.RunActive, CurrentNode: "mail", Sequence: r2.Sequence + 1, Steps: 1, NewDelivery: &d2}
		require.ErrorIs(t, b.store.AdvanceRun(b.ctx, u2), store.ErrConflict)
		run2, err := b.store.GetRun(b.ctx, r2.ID)
		require.NoError(t, err)
		require.Equal(t, r2.Sequence, run2.Sequence)
		require.Equal(t, "start", run2.CurrentNode)

		// A run no longer at the expected step: nothing is written either.
		d3 := d
		d3.ID, d3.IdempotencyKey = store.NewID(), key+"-other"
		u.NewDelivery = &d3
		require.ErrorIs(t, b.store.AdvanceRun(b.ctx, u), store.ErrConflict)
		_, err = b.store.GetDeliveryByKey(b.ctx, key+"-other")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// TestGroupCommitIsolatesCallers runs many concurrent writes, some of which
// conflict, and checks each caller gets its own answer: on PostgreSQL they
// share commits, and one caller's conflict or error must not fail another.
func TestGroupCommitIsolatesCallers(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		const n = 40
		runs := make([]store.Run, n)
		for i := range runs {
			f := newRunFixture(t, b, fmt.Sprintf("g%d", i))
			r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
			require.NoError(t, err)
			runs[i] = r
		}
		dup := fmt.Sprintf("%s:dup", runs[0].ID)
		_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: dup, Channel: "send_email"})
		require.NoError(t, err)

		errs := make([]error, 3*n)
		bad := make([]error, n)
		var wg sync.WaitGroup
		for i, r := range runs {
			// A statement the database refuses (no such profile) shares
			// commits with the others and fails alone.
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, bad[i] = b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: r.JourneyID, Version: 1, ProfileID: "no-such-profile", CurrentNode: "start"},
					store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
			}()
			wg.Add(3)
			step := func(k int, expect int) {
				defer wg.Done()
				errs[k] = b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: expect,
					Status: store.RunActive, CurrentNode: "next", Sequence: expect + 1, Steps: 1,
					Ledger: []store.RunStep{{Sequence: expect, NodeID: "start", Kind: "trigger_webhook", Outcome: "entered", StartedAt: b.clock.Now(), FinishedAt: b.clock.Now()}}})
			}
			go step(3*i, r.Sequence)     // applies
			go step(3*i+1, r.Sequence+7) // wrong sequence: a conflict
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("%s:d", r.ID)
				if i%4 == 0 {
					key = dup // taken: a conflict
				}
				_, errs[3*i+2] = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: r.ID, IdempotencyKey: key, Channel: "send_email"})
			}()
		}
		wg.Wait()
		for i, r := range runs {
			require.Error(t, bad[i])
			require.NoError(t, errs[3*i], "run %d", i)
			require.ErrorIs(t, errs[3*i+1], store.ErrConflict, "run %d", i)
			if i%4 == 0 {
				require.ErrorIs(t, errs[3*i+2], store.ErrConflict, "run %d", i)
			} else {
				require.NoError(t, errs[3*i+2], "run %d", i)
			}
			got, err := b.store.GetRun(b.ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, r.Sequence+1, got.Sequence)
			steps, err := b.store.ListRunSteps(b.ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, steps, 1)
		}
		require.False(t, errors.Is(errs[0], store.ErrNotFound))
	})
}

func TestEnterRunsAppliesEntryRulesPerProfile(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "er0")
		var ids []string
		for i := 0; i < 5; i++ {
			p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprintf("er%d", i)})
			require.NoError(t, err)
			ids = append(ids, p.ID)
		}
		batch := func(policy store.EntryPolicy, profiles ...string) []store.Run {
			t.Helper()
			runs, err := b.store.EnterRuns(b.ctx, store.EntryBatch{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, TriggerNode: "start",
				EntryEvent: []byte(`{"name":"trigger_segment"}`), ProfileIDs: profiles, Policy: policy,
				First: store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()}})
			require.NoError(t, err)
			return runs
		}
		never := store.EntryPolicy{Reentry: "never"}
		// One profile entered on its own before: refused; a duplicate id
		// in the page enters once.
		_, err := b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: ids[0], CurrentNode: "start"},
			never, store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
		require.NoError(t, err)
		runs := batch(never, ids[0], ids[1], ids[2], ids[2])
		require.Len(t, runs, 2)
		got := map[string]bool{}
		for _, r := range runs {
			got[r.ProfileID] = true
			stored, err := b.store.GetRun(b.ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, store.RunActive, stored.Status)
			require.Equal(t, "start", stored.CurrentNode)
			require.Equal(t, 1, stored.Sequence)
			require.JSONEq(t, `{"name":"trigger_segment"}`, string(stored.EntryEvent))
		}
		require.Equal(t, map[string]bool{ids[1]: true, ids[2]: true}, got)
		require.Empty(t, batch(never, ids[1], ids[2]), "re-entry never")

		// after_exit: in while a run is live, again once it finished.
		afterExit := store.EntryPolicy{Reentry: "after_exit"}
		first := batch(afterExit, ids[3], ids[4])
		require.Len(t, first, 2)
		require.Empty(t, batch(afterExit, ids[3], ids[4]))
		finish(t, b, first[0])
		again := batch(afterExit, ids[3], ids[4])
		require.Len(t, again, 1)
		require.Equal(t, first[0].ProfileID, again[0].ProfileID)

		// Every entered run has its first task in the outbox.
		items, err := b.store.ListOutbox(b.ctx, b.clock.Now().Add(time.Hour), 100)
		require.NoError(t, err)
		inOutbox := map[string]bool{}
		for _, it := range items {
			inOutbox[it.RunID] = true
		}
		for _, r := range append(append(runs, first...), again...) {
			require.True(t, inOutbox[r.ID], "run %s has its outbox item", r.ID)
		}
		// Enqueued items go in one statement; the others stay.
		var keys []store.OutboxKey
		for _, r := range runs {
			keys = append(keys, store.OutboxKey{RunID: r.ID, Sequence: 1, TaskType: "run:advance"})
		}
		keys = append(keys, store.OutboxKey{RunID: first[0].ID, Sequence: 2, TaskType: "run:advance"}) // no such item
		require.NoError(t, b.store.DeleteOutboxKeys(b.ctx, keys))
		items, err = b.store.ListOutbox(b.ctx, b.clock.Now().Add(time.Hour), 100)
		require.NoError(t, err)
		left := map[string]bool{}
		for _, it := range items {
			left[it.RunID] = true
		}
		for _, r := range runs {
			require.False(t, left[r.ID])
		}
		for _, r := range append(first, again...) {
			require.True(t, left[r.ID])
		}
	})
}

func TestEnterWebhook(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "wh")
		email := "wh@example.com"
		entry := func(webhookID, ext string, email *string, p store.EntryPolicy) store.WebhookEntry {
			w := store.WebhookEntry{WebhookID: webhookID, Profile: store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: ext, Email: email}, Policy: p,
				Run:   store.Run{ID: store.NewID(), WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, CurrentNode: "start", EntryEvent: []byte(`{"body":{"id":"x"}}`), EnteredAt: b.clock.Now()},
				First: store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()}}
			require.True(t, b.store.CanEnterWebhook(w))
			return w
		}
		never := store.EntryPolicy{Reentry: "never"}
		w := entry("msg_1", "new-profile", &email, never)
		r, err := b.store.EnterWebhook(b.ctx, w)
		require.NoError(t, err)
		require.Equal(t, w.Run.ID, r.ID)
		p, err := b.store.GetProfileByExternalID(b.ctx, b.ws, "new-profile")
		require.NoError(t, err)
		require.Equal(t, p.ID, r.ProfileID)
		require.Equal(t, email, p.Email)
		stored, err := b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunActive, stored.Status)
		require.JSONEq(t, `{"body":{"id":"x"}}`, string(stored.EntryEvent))

		// The same webhook-id again: a duplicate naming the run; nothing
		// written, and no statement failed (a failure would abort the
		// whole group commit it went in).
		aborted := b.store.GroupAborted()
		_, err = b.store.EnterWebhook(b.ctx, entry("msg_1", "other-profile", nil, store.EntryPolicy{Reentry: "always"}))
		var dup *store.DuplicateWebhookError
		require.ErrorAs(t, err, &dup)
		require.Equal(t, aborted, b.store.GroupAborted(), "a duplicate webhook aborted its batch")
		require.Equal(t, r.ID, dup.RunID)
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.GetProfileByExternalID(b.ctx, b.ws, "other-profile")
		require.ErrorIs(t, err, store.ErrNotFound)

		// A new id for the same profile under "never": refused, the profile
		// still updated, the receipt kept without a run.
		phone := "+33612345678"
		w2 := entry("msg_2", "new-profile", nil, never)
		w2.Profile.Phone = &phone
		_, err = b.store.EnterWebhook(b.ctx, w2)
		var refused *store.EntryRefusedError
		require.ErrorAs(t, err, &refused)
		p, err = b.store.GetProfileByExternalID(b.ctx, b.ws, "new-profile")
		require.NoError(t, err)
		require.Equal(t, email, p.Email, "an absent field is left as it is")
		require.Equal(t, phone, p.Phone)
		_, err = b.store.EnterWebhook(b.ctx, entry("msg_2", "new-profile", nil, never))
		require.ErrorAs(t, err, &dup)
		require.Empty(t, dup.RunID)

		// Concurrent deliveries of one id: exactly one enters.
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = b.store.EnterWebhook(b.ctx, entry("msg_3", fmt.Sprintf("c%d", i), nil, store.EntryPolicy{Reentry: "always"}))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			if err == nil {
				ok++
			} else {
				require.ErrorAs(t, err, &dup)
			}
		}
		require.Equal(t, 1, ok)
	})
}
