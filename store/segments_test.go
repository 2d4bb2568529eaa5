package store_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func seedJourney(t *testing.T, b testBundle) string {
	t.Helper()
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "J", Draft: []byte(`{}`), CreatedBy: "t"})
	require.NoError(t, err)
	return j.ID
}

func TestSegmentMembersAndProfilePages(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		jid := seedJourney(t, b)
		var ids []string
		for i := 0; i < 12; i++ {
			p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprintf("p%02d", i)})
			require.NoError(t, err)
			ids = append(ids, p.ID)
		}
		// Keyset pages cover every profile once, in id order.
		var seen []string
		after := ""
		for {
			page, err := b.store.ListProfilesPage(b.ctx, b.ws, after, 5)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, p := range page {
				seen = append(seen, p.ID)
			}
			after = page[len(page)-1].ID
		}
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		require.Equal(t, sorted, seen)

		added, err := b.store.AddSegmentMembers(b.ctx, jid, "start", ids[:5])
		require.NoError(t, err)
		require.ElementsMatch(t, ids[:5], added)
		added, err = b.store.AddSegmentMembers(b.ctx, jid, "start", ids[3:8])
		require.NoError(t, err)
		require.ElementsMatch(t, ids[5:8], added, "only the new ones start matching")
		n, err := b.store.RemoveSegmentMembers(b.ctx, jid, "start", ids[:2])
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		count, err := b.store.CountSegmentMembers(b.ctx, jid, "start")
		require.NoError(t, err)
		require.EqualValues(t, 6, count)
		added, err = b.store.AddSegmentMembers(b.ctx, jid, "start", ids[:1])
		require.NoError(t, err)
		require.Equal(t, ids[:1], added, "matching again after leaving")
	})
}

func TestTriggerRunClaimOnce(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		jid := seedJourney(t, b)
		tick := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		r, fresh, err := b.store.ClaimTriggerRun(b.ctx, store.TriggerRun{WorkspaceID: b.ws, JourneyID: jid, NodeID: "start", Kind: store.TriggerSchedule, TickAt: tick})
		require.NoError(t, err)
		require.True(t, fresh)
		r.Cursor, r.Scanned, r.Entered = "abc", 10, 4
		require.NoError(t, b.store.SaveTriggerRun(b.ctx, r))
		again, fresh, err := b.store.ClaimTriggerRun(b.ctx, store.TriggerRun{WorkspaceID: b.ws, JourneyID: jid, NodeID: "start", Kind: store.TriggerSchedule, TickAt: tick})
		require.NoError(t, err)
		require.False(t, fresh, "a tick is claimed once")
		require.Equal(t, r.ID, again.ID)
		require.Equal(t, "abc", again.Cursor, "a new leader resumes from the cursor")
		require.Equal(t, store.TriggerRunning, again.Status)
		r.Status = store.TriggerDone
		require.NoError(t, b.store.SaveTriggerRun(b.ctx, r))
		list, err := b.store.ListTriggerRuns(b.ctx, jid, 5)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, store.TriggerDone, list[0].Status)
		require.NotNil(t, list[0].FinishedAt)
		require.EqualValues(t, 4, list[0].Entered)
		require.True(t, tick.Equal(list[0].TickAt))
	})
}

func TestEraseProfile(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		email, phone := "ada@example.com", "+33612345678"
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada", Email: &email, Phone: &phone,
			Attributes: map[string]any{"plan": "pro"}})
		require.NoError(t, err)
		_, err = b.store.SetProfileConsent(b.ctx, p.ID, "email", "granted", "api")
		require.NoError(t, err)
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: p.ID, Name: "login", Properties: map[string]any{"ip": "1.2.3.4"}})
		require.NoError(t, err)
		_, err = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, ProfileID: p.ID, IdempotencyKey: "k1", Channel: "send_email",
			Recipient: email, Subject: "Hi Ada", Body: "secret", Status: store.DeliverySent})
		require.NoError(t, err)

		x, err := b.store.ExportProfile(b.ctx, b.ws, p.ID)
		require.NoError(t, err)
		require.Len(t, x.Events, 1)
		require.Len(t, x.Deliveries, 1)
		require.Equal(t, "granted", x.Profile.Consent["email"].(map[string]any)["status"])

		erased, err := b.store.EraseProfile(b.ctx, b.ws, p.ID)
		require.NoError(t, err)
		require.True(t, erased)
		_, err = b.store.GetProfileByExternalID(b.ctx, b.ws, "ada")
		require.ErrorIs(t, err, store.ErrNotFound)
		tomb, err := b.store.FindProfileForErasure(b.ctx, b.ws, "ada")
		require.NoError(t, err)
		require.Equal(t, p.ID, tomb.ID)
		require.NotNil(t, tomb.ErasedAt)
		require.Empty(t, tomb.Email)
		require.Empty(t, tomb.Attributes)
		x, err = b.store.ExportProfile(b.ctx, b.ws, p.ID)
		require.NoError(t, err)
		require.Empty(t, x.Events)
		require.Len(t, x.Deliveries, 1, "the delivery stays for counts")
		require.Empty(t, x.Deliveries[0].Recipient)
		require.Empty(t, x.Deliveries[0].Body)
		require.Equal(t, store.DeliverySent, x.Deliveries[0].Status)

		erased, err = b.store.EraseProfile(b.ctx, b.ws, p.ID)
		require.NoError(t, err)
		require.False(t, erased, "idempotent")
		// The external id is free again.
		_, created, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada"})
		require.NoError(t, err)
		require.True(t, created)
	})
}

func TestProfileImportRecord(t *testing.T) {
	conformance(t, func(t *testing.T, b testBundle) {
		imp, err := b.store.CreateProfileImport(b.ctx, store.ProfileImport{WorkspaceID: b.ws, Filename: "a.csv", Status: store.ImportStaged,
			Source: "external_id\nu1\n", Mapping: map[string]string{"external_id": "external_id"}})
		require.NoError(t, err)
		started, err := b.store.StartProfileImport(b.ctx, b.ws, imp.ID, map[string]string{"external_id": "external_id"})
		require.NoError(t, err)
		require.Equal(t, store.TriggerRunning, started.Status)
		_, err = b.store.StartProfileImport(b.ctx, b.ws, imp.ID, nil)
		require.ErrorIs(t, err, store.ErrConflict, "starts once")
		started.Status, started.Processed, started.Imported, started.Failed = store.TriggerDone, 2, 1, 1
		started.Errors = []store.ImportError{{Line: 3, Column: "email", Reason: "bad"}}
		require.NoError(t, b.store.SaveProfileImport(b.ctx, started))
		got, err := b.store.GetProfileImport(b.ctx, b.ws, imp.ID)
		require.NoError(t, err)
		require.Equal(t, started.Errors, got.Errors)
		require.Empty(t, got.Source, "the uploaded file is not kept")
		_, err = b.store.GetProfileImport(b.ctx, "other", imp.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
