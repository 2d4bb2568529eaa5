package uitest

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/ui"
)

// setupSim is setup with the simulator wired, as cmd/waymark does.
func SetupSim(t *testing.T) *Bundle {
	t.Helper()
	b := Setup(t)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	limits := sim.DefaultLimits
	limits.MaxProfiles = 500
	srv, err := ui.New(ui.Config{Version: "test", SetupToken: "setup-token-123", BodyLimit: 256 << 10}, ui.Deps{
		Store:     b.Store,
		Journeys:  journeys.New(b.Store, reg),
		Engine:    b.Engine,
		Simulator: sim.New(sim.Config{Registry: reg, Profiles: b.Store, Suppressions: b.Store, Limits: limits}),
		Logger:    slog.New(slog.NewTextHandler(LogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b
}
