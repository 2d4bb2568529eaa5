package uitest

import (
	"log/slog"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/ui"
)

// withQueues rebuilds b's server with a queue inspector.
func (b *Bundle) WithQueues(insp ui.QueueInspector) {
	b.T.Helper()
	reg := nodes.NewRegistry()
	require.NoError(b.T, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test"}, ui.Deps{Store: b.Store, Journeys: journeys.New(b.Store, reg), Engine: b.Engine,
		Hooks: b.NewHooks(), Queues: insp, Logger: slog.New(slog.NewTextHandler(LogWriter{b.T}, nil))})
	require.NoError(b.T, err)
	b.Server = srv
}
