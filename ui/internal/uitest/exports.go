package uitest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// exportScenario: two runs of the explorer journey, one (profile "=1+1",
// a formula) sent a message, one ("bob") failed at "late" without one.
func ExportScenario(t *testing.T, b *Bundle) (jid string) {
	t.Helper()
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid = res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "=1+1", "properties": {"group": "x"}, "profile": {"email": "ada@example.com", "phone": "+15550001"}},
		{"name": "signed_up", "profile_id": "bob", "properties": {"group": "y"}, "profile": {"email": "bob@example.com"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine)
	return jid
}
