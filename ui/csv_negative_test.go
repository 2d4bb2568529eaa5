package ui_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// TestCSVExportKeepsNegativeNumbers: through the real export, a profile id
// "-5" comes out as -5, while "-2+3" is still defused.
func TestCSVExportKeepsNegativeNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	_, err := b.store.CreateConnector(b.ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.call("POST", "/api/v1/journeys", admin, []byte(explorerJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	require.Equal(t, 200, b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).status)
	res = b.call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "-5", "properties": {"group": "x"}},
		{"name": "signed_up", "profile_id": "-2+3", "properties": {"group": "y"}}]}`))
	require.Equal(t, 202, res.status, string(res.body))
	b.drain(b.engine)

	res = b.call("GET", "/api/v1/journeys/"+jid+"/runs.csv", b.apiKey(store.DefaultWorkspaceID, "journeys:read"), nil)
	require.Equal(t, 200, res.status, string(res.body))
	require.ElementsMatch(t, []string{"-5", "'-2+3"}, column(t, parseCSV(t, string(res.body)), "profile_external_id"))
}
