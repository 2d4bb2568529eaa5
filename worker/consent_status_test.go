package worker_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Every consent status but granted stops a send on its channel: denied
// (what false means on input) as much as revoked or opted_out.
func TestConsentStatusesStopSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Mail", "", mailNode, `{"from": "start", "to": "mail"}`))
	for _, tc := range []struct {
		status string
		sent   bool
	}{{"granted", true}, {"denied", false}, {"revoked", false}, {"unsubscribed", false}, {"opted_out", false}} {
		email := tc.status + "@example.com"
		p, _, err := h.st.UpsertProfile(h.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: tc.status, Email: &email,
			Consent: map[string]string{"email": tc.status}, Source: "api"})
		require.NoError(t, err)
		r := h.enter(jid, p, worker.EntryEvent{})
		h.drain()
		want := []string{"start:out:entered", "mail:out:skipped"}
		if tc.sent {
			want[1] = "mail:out:sent"
		}
		require.Equal(t, want, h.path(r.ID), tc.status)
	}
	require.Len(t, h.inbox.sent(), 1)
}
