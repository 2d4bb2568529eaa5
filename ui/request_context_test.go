package ui_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestRequestDeadlineCancelsItsQuery: each request's context has a
// deadline (WAYMARK_REQUEST_TIMEOUT) that reaches the database. A query
// stuck behind a lock is cancelled in PostgreSQL when its request runs
// out of time; the client gets 503 request_timeout; and what the server
// logged while handling the request names the request id.
func TestRequestDeadlineCancelsItsQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.PostgresURL(t)
	st, err := store.Open(ctx, dbURL, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	logs := &uitest.LockedBuffer{}
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 1 << 20, RequestTimeout: 500 * time.Millisecond}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg), Logger: slog.New(slog.NewTextHandler(io.MultiWriter(uitest.LogWriter{T: t}, logs), nil)),
	})
	require.NoError(t, err)
	b := &uitest.Bundle{T: t, Ctx: ctx, Store: st, Server: srv, Logs: logs}
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	base := b.Listen()

	// Another session holds the journeys table.
	db, err := sql.Open("pgx", dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	_, err = tx.ExecContext(ctx, "LOCK TABLE journeys IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	req, err := http.NewRequest("GET", base+"/api/v1/journeys", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Request-Id", "deadline-test-1")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "the request waited for the lock instead of running out of time")
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 503, resp.StatusCode, string(body))
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	require.Equal(t, "request_timeout", out.Error.Code)

	// The lock is still held, yet no query of the server waits on it:
	// PostgreSQL cancelled it.
	waiting := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query ILIKE '%journeys%' AND pid <> pg_backend_pid()
			AND datname = current_database()`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return waiting() == 0 }, 5*time.Second, 50*time.Millisecond)

	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "request failed") || strings.Contains(l, "msg=http") {
			if strings.Contains(l, "request_id=deadline-test-1") {
				line = l
			}
		}
	}
	require.NotEmpty(t, line, "log lines of the request carry its id")
	require.Equal(t, 1, bytes.Count([]byte(line), []byte("request_id=")), "the id is written once")

	require.NoError(t, tx.Rollback())
	resp, err = client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
}
