package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestCSVExportKeepsNegativeNumbers: through the real export, a profile id
// "-5" comes out as -5, while "-2+3" is still defused.
func TestCSVExportKeepsNegativeNumbers(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "-5", "properties": {"group": "x"}},
		{"name": "signed_up", "profile_id": "-2+3", "properties": {"group": "y"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine)

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv", b.APIKey(store.DefaultWorkspaceID, "journeys:read"), nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.ElementsMatch(t, []string{"-5", "'-2+3"}, column(t, parseCSV(t, string(res.Body)), "profile_external_id"))
}
