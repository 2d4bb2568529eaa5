package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// analyticsFixture: a journey with runs entered at known times.
type analyticsFixture struct {
	journey store.Journey
	runs    []store.Run
}

func newAnalyticsFixture(t *testing.T, b testBundle, n int, every time.Duration) analyticsFixture {
	t.Helper()
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "A", Draft: doc("A")})
	require.NoError(t, err)
	f := analyticsFixture{journey: j}
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("ap%d@example.com", i)
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprint("ap", i), Email: &email})
		require.NoError(t, err)
		r, err := b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: j.ID, Version: 1, ProfileID: p.ID, CurrentNode: "start"},
			store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
		require.NoError(t, err)
		f.runs = append(f.runs, r)
		b.clock.Add(every)
	}
	return f
}

func TestExportsStream(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		start := b.clock.Now()
		// 1003 runs, a minute apart: more than two export pages.
		f := newAnalyticsFixture(t, b, 1003, time.Minute)
		other := newAnalyticsFixture(t, b, 2, time.Minute)
		var got []store.RunExport
		require.NoError(t, b.store.EachJourneyRun(b.ctx, b.ws, f.journey.ID, store.Period{}, func(r store.RunExport) error {
			got = append(got, r)
			return nil
		}))
		require.Len(t, got, 1003)
		for i := 1; i < len(got); i++ {
			require.Less(t, got[i-1].ID, got[i].ID, "id order, no duplicates across pages")
		}
		require.Equal(t, "ap0", got[0].ExternalID)
		require.Equal(t, "ap0@example.com", got[0].Email)

		// The period: entered_at in [from, to).
		var n int
		p := store.Period{From: start.Add(10 * time.Minute), To: start.Add(20 * time.Minute)}
		require.NoError(t, b.store.EachJourneyRun(b.ctx, b.ws, f.journey.ID, p, func(r store.RunExport) error {
			require.False(t, r.EnteredAt.Before(p.From))
			require.True(t, r.EnteredAt.Before(p.To))
			n++
			return nil
		}))
		require.Equal(t, 10, n)

		// Another workspace sees nothing; fn's error stops the export.
		n = 0
		require.NoError(t, b.store.EachJourneyRun(b.ctx, "elsewhere", f.journey.ID, store.Period{}, func(store.RunExport) error { n++; return nil }))
		require.Zero(t, n)
		stop := errors.New("stop")
		require.ErrorIs(t, b.store.EachJourneyRun(b.ctx, b.ws, f.journey.ID, store.Period{}, func(store.RunExport) error { return stop }), stop)

		// Deliveries: the journey's runs' messages only, not test sends.
		mk := func(r store.Run, key string) store.Delivery {
			d, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: r.ID, NodeID: "hello", ProfileID: r.ProfileID,
				IdempotencyKey: key, Connector: "sandbox", Channel: "send_email", Recipient: "x@example.com", Subject: "Hi"})
			require.NoError(t, err)
			return d
		}
		d0 := mk(f.runs[0], "k0")
		b.clock.Add(time.Hour)
		d1 := mk(f.runs[1], "k1")
		mk(other.runs[0], "k2")
		_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "test", Channel: "send_email", IsTest: true})
		require.NoError(t, err)
		var ds []string
		require.NoError(t, b.store.EachJourneyDelivery(b.ctx, b.ws, f.journey.ID, store.Period{}, func(d store.Delivery) error {
			ds = append(ds, d.ID)
			return nil
		}))
		require.Equal(t, []string{d0.ID, d1.ID}, ds)
		ds = nil
		require.NoError(t, b.store.EachJourneyDelivery(b.ctx, b.ws, f.journey.ID, store.Period{From: d1.CreatedAt}, func(d store.Delivery) error {
			ds = append(ds, d.ID)
			return nil
		}))
		require.Equal(t, []string{d1.ID}, ds)
	})
}

func TestOverdueRunsRequeue(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newAnalyticsFixture(t, b, 4, 0)
		now := b.clock.Now()
		// Run 0 stays active (due now); run 1 waits an hour; run 2 failed.
		until := now.Add(time.Hour)
		r1 := f.runs[1]
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r1.ID, JourneyID: r1.JourneyID, ProfileID: r1.ProfileID, ExpectSequence: 1,
			Sequence: 2, Status: store.RunWaiting, CurrentNode: "wait", WaitUntil: &until, NextDueAt: &until,
			Ledger: []store.RunStep{{Sequence: 1, NodeID: "start", Kind: "trigger_event", Port: "out", Outcome: "entered", StartedAt: now, FinishedAt: now}}}))
		r2 := f.runs[2]
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r2.ID, JourneyID: r2.JourneyID, ProfileID: r2.ProfileID, ExpectSequence: 1,
			Sequence: 1, Status: store.RunFailed, CurrentNode: "send", Finished: true, Error: "boom"}))
		// Clear the outbox the entries wrote, as the relay would.
		items, err := b.store.ListOutbox(b.ctx, now.Add(time.Hour), 100)
		require.NoError(t, err)
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		require.NoError(t, b.store.DeleteOutbox(b.ctx, ids))

		b.clock.Add(10 * time.Minute)
		threshold := b.clock.Now().Add(-5 * time.Minute)
		over, err := b.store.ListOverdueRuns(b.ctx, b.ws, threshold, 100)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{f.runs[0].ID, f.runs[3].ID}, runIDs(over), "live and due more than 5 minutes ago")
		none, err := b.store.ListOverdueRuns(b.ctx, "elsewhere", threshold, 100)
		require.NoError(t, err)
		require.Empty(t, none)

		got, err := b.store.RequeueOverdueRuns(b.ctx, b.ws, []string{f.runs[0].ID, r1.ID, r2.ID, "nope"}, threshold, "run:advance")
		require.NoError(t, err)
		require.Equal(t, []string{f.runs[0].ID}, runIDs(got), "only the overdue live run")
		require.Equal(t, 2, got[0].Sequence)
		run, err := b.store.GetRun(b.ctx, f.runs[0].ID)
		require.NoError(t, err)
		require.Equal(t, 2, run.Sequence)
		require.Equal(t, store.RunActive, run.Status)
		require.WithinDuration(t, b.clock.Now(), *run.NextDueAt, time.Second)
		steps, err := b.store.ListRunSteps(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.Equal(t, "retry", steps[0].Kind)
		require.Equal(t, "requeued", steps[0].Outcome)
		require.Equal(t, 1, steps[0].Sequence)
		items, err = b.store.ListOutbox(b.ctx, b.clock.Now(), 100)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, store.OutboxItem{ID: items[0].ID, RunID: run.ID, Sequence: 2, TaskType: "run:advance", Queue: "default",
			ProcessAt: items[0].ProcessAt, CreatedAt: items[0].CreatedAt}, items[0])

		// No longer overdue: a second requeue does nothing; nor from another workspace.
		again, err := b.store.RequeueOverdueRuns(b.ctx, b.ws, []string{f.runs[0].ID}, threshold, "run:advance")
		require.NoError(t, err)
		require.Empty(t, again)
		again, err = b.store.RequeueOverdueRuns(b.ctx, "elsewhere", []string{f.runs[3].ID}, threshold, "run:advance")
		require.NoError(t, err)
		require.Empty(t, again)
	})
}

func runIDs(rs []store.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestJourneyReports(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		b.clock.Add(-12 * time.Hour) // 2026-03-01 00:00 UTC
		day := b.clock.Now()
		// Day 1: 3 entries at 00:00, 00:40, 01:20; day 2: 2 entries.
		f := newAnalyticsFixture(t, b, 3, 40*time.Minute)
		b.clock.Add(24*time.Hour - 2*time.Hour)
		g := newAnalyticsFixture(t, b, 2, time.Minute)
		_ = g
		// Run 0 passes split "ab" through "a" and converts on day 2; run 1
		// through "b"; run 2 through "a".
		for i, port := range []string{"a", "b", "a"} {
			r := f.runs[i]
			u := store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: 1, Sequence: 2,
				Status: store.RunActive, CurrentNode: "next",
				Ledger: []store.RunStep{{Sequence: 1, NodeID: "ab", Kind: "split", Port: port, Outcome: "ok", StartedAt: day, FinishedAt: day}}}
			if i == 0 {
				u.Conversion = &store.Conversion{At: day.Add(25 * time.Hour), Value: 1}
			}
			require.NoError(t, b.store.AdvanceRun(b.ctx, u))
		}
		_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: f.runs[0].ID, IdempotencyKey: "1", Channel: "send_email", Status: store.DeliverySkipped})
		require.NoError(t, err)
		for i := 0; i < 2; i++ {
			_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: f.runs[i].ID, IdempotencyKey: fmt.Sprint("s", i), Channel: "send_sms"})
			require.NoError(t, err)
		}

		jid := f.journey.ID
		p := store.Period{From: day, To: day.Add(48 * time.Hour)}
		tl, err := b.store.JourneyTimeline(b.ctx, b.ws, jid, store.BucketDay, p)
		require.NoError(t, err)
		require.Equal(t, []store.TimeCount{{Start: day, Count: 3}}, tl.Entries, "g is another journey")
		require.Equal(t, []store.TimeCount{{Start: day.Add(24 * time.Hour), Count: 1}}, tl.Conversions)
		tl, err = b.store.JourneyTimeline(b.ctx, b.ws, jid, store.BucketHour, p)
		require.NoError(t, err)
		require.Equal(t, []store.TimeCount{{Start: day, Count: 2}, {Start: day.Add(time.Hour), Count: 1}}, tl.Entries)
		require.Equal(t, []store.TimeCount{{Start: day.Add(25 * time.Hour), Count: 1}}, tl.Conversions)
		tl, err = b.store.JourneyTimeline(b.ctx, b.ws, jid, store.BucketHour, store.Period{From: day.Add(time.Hour), To: day.Add(2 * time.Hour)})
		require.NoError(t, err)
		require.Equal(t, []store.TimeCount{{Start: day.Add(time.Hour), Count: 1}}, tl.Entries, "the period bounds")
		_, err = b.store.JourneyTimeline(b.ctx, b.ws, jid, "week", p)
		require.Error(t, err)

		vol, err := b.store.JourneyMessageVolume(b.ctx, b.ws, jid, store.Period{})
		require.NoError(t, err)
		require.Equal(t, []store.ChannelCount{{Channel: "send_email", Status: store.DeliverySkipped, Count: 1},
			{Channel: "send_sms", Status: store.DeliveryPending, Count: 2}}, vol)

		vs, err := b.store.JourneyVariants(b.ctx, b.ws, jid, 1)
		require.NoError(t, err)
		require.Equal(t, []store.VariantCount{{NodeID: "ab", Variant: "a", Runs: 2, Converted: 1}, {NodeID: "ab", Variant: "b", Runs: 1}}, vs)
		vs, err = b.store.JourneyVariants(b.ctx, "elsewhere", jid, 0)
		require.NoError(t, err)
		require.Empty(t, vs)
	})
}
