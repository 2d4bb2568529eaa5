package uitest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

// setupTestSends is setup with the real connector service (loopback
// allowed only if allowLoopback: the SSRF guard applies to test sends).
func SetupTestSends(t *testing.T, allowLoopback bool) (*Bundle, *connectors.Service, *secrets.Keyring) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	var guard *netguard.Guard
	if allowLoopback {
		guard = netguard.MustNew(netguard.AllowLoopbackForTests())
	} else {
		guard = netguard.MustNew()
	}
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{Net: guard, PublicURL: "https://waymark.example.com"})
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	b := &Bundle{T: t, Ctx: ctx, Store: st, Tasks: &TaskRecorder{}}
	b.Engine = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Enqueuer: b.Tasks,
		Segments: segments.New(st, segments.Options{})}) // in_segment, as serve wires it
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg).WithConnectorTypes(creg.Serves), Engine: b.Engine, TestSends: b.Engine,
		Hooks: b.NewHooks(), Logger: slog.New(slog.NewTextHandler(LogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b, conns, keys
}
