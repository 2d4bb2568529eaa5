package journeys_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

const messagesJourney = `{"format": 1, "name": "Msgs", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "mail", "kind": "send_email", "title": "Welcome", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "text", "kind": "send_sms", "config": {"connector": "sandbox", "body": "Hi"}},
	{"id": "ads", "kind": "audience_add", "config": {"connector": "sandbox"}}],
	"edges": [{"from": "start", "to": "mail"}, {"from": "mail", "to": "text"}, {"from": "text", "to": "ads"}]}`

// TestMessageSteps: a version's message steps with their counts and
// rates, titled; email is tracked, SMS is not, an audience change is not
// a message; StatsWithMessages carries them beside the ledger's numbers.
func TestMessageSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	docs := journeys.New(st, reg)
	reports := journeys.NewReports(st, docs)
	j, _, err := docs.Create(ctx, store.DefaultWorkspaceID, []byte(messagesJourney), "test", journeys.SaveOptions{})
	require.NoError(t, err)

	none, err := reports.StatsWithMessages(ctx, store.DefaultWorkspaceID, j.ID, 0)
	require.NoError(t, err)
	require.Equal(t, []journeys.MessageStep{}, none.Messages)

	_, err = docs.Publish(ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	for i := range 4 {
		email := fmt.Sprintf("m%d@example.com", i)
		p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("m", i), Email: &email})
		require.NoError(t, err)
		r, err := st.EnterRun(ctx, store.Run{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, Version: 1, ProfileID: p.ID, CurrentNode: "start"},
			store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", ProcessAt: time.Now()})
		require.NoError(t, err)
		status, provider := store.DeliverySent, fmt.Sprint("<", i, "@x>")
		if i == 3 {
			status = store.DeliveryFailed // accepted, then bounced
		}
		for _, n := range []struct{ node, kind string }{{"mail", "send_email"}, {"text", "send_sms"}, {"ads", "audience_add"}} {
			d, err := st.CreateDelivery(ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, RunID: r.ID, NodeID: n.node, ProfileID: p.ID,
				IdempotencyKey: r.ID + n.node, Connector: "sandbox", Channel: n.kind, Recipient: email, Status: status, ProviderID: provider})
			require.NoError(t, err)
			if n.node == "mail" && i < 2 {
				_, err = st.RecordEngagement(ctx, store.EngagementHit{WorkspaceID: store.DefaultWorkspaceID, DeliveryID: d.ID, JourneyID: j.ID,
					NodeID: "mail", Click: i == 0, Human: true, At: time.Now()})
				require.NoError(t, err)
			}
		}
	}

	got, err := reports.StatsWithMessages(ctx, store.DefaultWorkspaceID, j.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	require.Equal(t, int64(4), got.Journey.Entries, "the ledger's numbers are kept")
	require.Len(t, got.Messages, 2, "the audience change is not a message")
	mail, text := got.Messages[0], got.Messages[1]
	require.Equal(t, journeys.MessageStep{NodeID: "mail", Title: "Welcome", Kind: "send_email", Tracked: true, Sent: 4, Delivered: 3, Bounced: 1,
		Opened: 2, Clicked: 1, Clicks: 1, Opens: 1, OpenRate: 2.0 / 3, ClickRate: 1.0 / 3, ClickToOpenRate: 0.5, BounceRate: 0.25}, mail)
	require.Equal(t, "text", text.NodeID)
	require.False(t, text.Tracked)
	require.Equal(t, int64(3), text.Delivered)
}
