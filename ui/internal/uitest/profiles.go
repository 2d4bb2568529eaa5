package uitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

type Erasures struct{ Members []connectors.Member }

// setupProfiles is setup with the profile service and segment triggers
// wired as cmd wires them.
func SetupProfiles(t *testing.T) (*Bundle, *Erasures, *journeys.Service) {
	t.Helper()
	b := Setup(t)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	trig := worker.NewTriggers(b.Engine, b.Store, nil, worker.TriggersConfig{})
	er := &Erasures{}
	svc := profiles.NewService(b.Store, b.Engine, func(_ context.Context, _ string, m connectors.Member) error {
		er.Members = append(er.Members, m)
		return nil
	}, func(ctx context.Context, p store.Profile) { _, _ = trig.ProfileChanged(ctx, p) }, nil)
	js := journeys.New(b.Store, reg)
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: b.Store, Journeys: js, Engine: b.Engine, Profiles: svc,
		Logger: slog.New(slog.NewTextHandler(LogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b, er, js
}

func ReadAll(resp *http.Response) string {
	var sb strings.Builder
	_, _ = io.Copy(&sb, resp.Body)
	return sb.String()
}

func RegexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	require.NotNil(t, m, pattern)
	return m[1]
}
