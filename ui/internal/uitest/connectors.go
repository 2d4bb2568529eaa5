package uitest

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/ui"
)

const WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// setupConnectors is setup with connector administration wired in, as cmd
// wires it (loopback allowed so connectors can reach httptest servers).
func SetupConnectors(t *testing.T) (*Bundle, *connectors.Service) {
	t.Helper()
	b := Setup(t)
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	svc, err := connectors.NewService(b.Store, keys, creg, connectors.Options{
		Net: netguard.MustNew(netguard.AllowLoopbackForTests()), PublicURL: "https://waymark.example.com"})
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: b.Store, Journeys: journeys.New(b.Store, reg), Connectors: svc,
		Logger: slog.New(slog.NewTextHandler(LogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b, svc
}

func WebhookReceiver(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}
