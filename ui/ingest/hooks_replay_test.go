package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// setupOn is setup on the store at url (SQLite or PostgreSQL).
func setupOn(t *testing.T, url string) *uitest.Bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	b := &uitest.Bundle{T: t, Ctx: ctx, Store: st}
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg), Engine: b.NewEngine(reg), Hooks: b.NewHooks(),
		Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b
}

// The GitHub scheme signs only the body: a captured request replayed with
// a new X-GitHub-Delivery (or none) is a duplicate for 24 hours, named
// after the run it created (security review F8).
func TestGitHubHookReplay(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	path, secret := b.GitHubHook()
	body := []byte(`{"user": {"id": "u-1", "email": "ada@example.com"}, "plan": "pro"}`)

	res := b.PostGitHub(path, secret, "d-1", body)
	require.Equal(t, 202, res.Status, string(res.Body))
	runID := res.JSON(t)["run_id"].(string)
	for _, tc := range []struct{ name, delivery, says string }{
		{"the same delivery id", "d-1", "webhook-id was already received"},
		{"a new delivery id", "d-2-attacker", "body was already received within 24h0m0s"},
		{"no delivery id", "", "body was already received"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.PostGitHub(path, secret, tc.delivery, body)
			require.Equal(t, 409, res.Status, string(res.Body))
			e := res.JSON(t)["error"].(map[string]any)
			require.Equal(t, "duplicate_webhook", e["code"])
			require.Contains(t, e["message"], tc.says)
			require.Contains(t, e["message"], "it created run "+runID)
		})
	}
	// The refused replay did not spend its delivery id: the sender's
	// genuine next message with that id (another body) goes through.
	res = b.PostGitHub(path, secret, "d-2-attacker", []byte(`{"user": {"id": "u-2"}, "plan": "pro"}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	// Another body is another message.
	res = b.PostGitHub(path, secret, "d-3", []byte(`{"user": {"id": "u-1"}, "plan": "team"}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, runs, 3)
}

// 30 concurrent copies of one signed body, each with its own delivery id,
// create exactly one run, on SQLite and on PostgreSQL.
func TestGitHubHookReplayConcurrent(t *testing.T) {
	t.Parallel()
	for _, db := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if db == store.DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			b := setupOn(t, url)
			path, secret := b.GitHubHook()
			base := b.Listen()
			body := []byte(`{"user": {"id": "u-race"}, "n": 1}`)
			statuses := make(chan int, 30)
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Go(func() {
					resp, err := http.DefaultClient.Do(uitest.GitHubRequest(base+path, secret, fmt.Sprintf("race-%d", i), body))
					if err != nil {
						statuses <- 0
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					statuses <- resp.StatusCode
				})
			}
			wg.Wait()
			close(statuses)
			count := map[int]int{}
			for s := range statuses {
				count[s]++
			}
			require.Equal(t, map[int]int{202: 1, 409: 29}, count)
			runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{Limit: 100})
			require.NoError(t, err)
			require.Len(t, runs, 1)
		})
	}
}
