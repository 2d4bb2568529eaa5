package web_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

type fakeInspector struct{ fail bool }

func (f fakeInspector) Queues() ([]string, error) {
	if f.fail {
		return nil, errors.New("dial tcp: connection refused")
	}
	return []string{"default"}, nil
}

func (fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	return &asynq.QueueInfo{Queue: q, Size: 17, Pending: 3, Active: 2, Scheduled: 9, Retry: 1, Archived: 2, Latency: 1500 * time.Millisecond}, nil
}

func (fakeInspector) Servers() ([]*asynq.ServerInfo, error) {
	return []*asynq.ServerInfo{{Host: "worker-<1>", PID: 4242, Concurrency: 20, Status: "active", Started: time.Now().Add(-time.Hour),
		ActiveWorkers: []*asynq.WorkerInfo{{}}}}, nil
}

func TestOperationsPage(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.WithQueues(fakeInspector{})
	jid := uitest.ExportScenario(t, b) // bob's run failed
	failed, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{Status: store.RunFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	// A live run whose task was due 10 minutes ago and never ran.
	p, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "stuck"})
	require.NoError(t, err)
	stuck, err := b.Store.EnterRun(b.Ctx, store.Run{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, Version: 1, ProfileID: p.ID, CurrentNode: "cond"},
		store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", ProcessAt: time.Now().Add(-10 * time.Minute)})
	require.NoError(t, err)

	b.CreateUser("root@example.com", "correct horse battery", store.RoleAdmin)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	ed := b.Client()
	ed.Login("ed@example.com", "correct horse battery")
	resp, _ := ed.Get("/admin/operations")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "admins only")

	c := b.Client()
	csrf := c.Login("root@example.com", "correct horse battery")
	resp, page := c.Get("/admin/operations")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Regexp(t, `(?s)data-testid="queue-row"><td>default\s*</td><td>17</td><td>3</td><td>2</td><td>9</td><td>1</td><td>2</td><td>1.5s</td>`, page)
	require.Contains(t, page, "worker-&lt;1&gt;", "escaped")
	require.Contains(t, page, "<td>4242</td>")
	require.Regexp(t, `data-testid="outbox">\d+ item\(s\)`, page)
	require.Contains(t, page, `data-testid="stuck-row"`)
	require.Contains(t, page, `value="`+stuck.ID+`"`)
	require.Contains(t, page, `value="`+failed[0].ID+`"`)
	require.Regexp(t, `<td>10m0s</td>|<td>10m\d+s</td>`, page, "overdue by")
	// Statuses in words, steps by title (issue 21).
	stuckRow := regexp.MustCompile(`(?s)data-testid="stuck-row">.*?</tr>`).FindString(page)
	require.Contains(t, stuckRow, `data-status="active"`)
	require.Contains(t, stuckRow, ">Running</span>")
	require.NotContains(t, stuckRow, "<td>cond</td>", "the step by its title, its id beside it")

	resp, page = c.Get("/admin/operations?threshold=1h")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, `data-testid="stuck-row"`, "not overdue by an hour")
	require.Contains(t, page, `data-testid="no-stuck"`)
	resp, _ = c.Get("/admin/operations?threshold=soon")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The bulk retry: CSRF, selection, then failed → retried, overdue → requeued.
	resp, _ = c.PostForm("/admin/operations/retry", url.Values{"run_id": {stuck.ID}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp, _ = c.PostForm("/admin/operations/retry", url.Values{"_csrf": {csrf}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "nothing selected")
	resp, _ = c.PostForm("/admin/operations/retry", url.Values{"_csrf": {csrf}, "threshold": {"5m"}, "run_id": {stuck.ID, failed[0].ID, "nope", stuck.ID}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/admin/operations?"), loc)
	_, page = c.Get(loc)
	require.Contains(t, page, "1 failed run(s) retried, 1 overdue run(s) requeued, 1 skipped")

	got, err := b.Store.GetRun(b.Ctx, stuck.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.Sequence, "a fresh sequence: a fresh task id")
	items, err := b.Store.ListOutbox(b.Ctx, time.Now().Add(time.Minute), 100)
	require.NoError(t, err)
	found := false
	for _, it := range items {
		found = found || (it.RunID == stuck.ID && it.Sequence == 2)
	}
	require.True(t, found, "an outbox item for the relay")
	got, err = b.Store.GetRun(b.Ctx, failed[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.RunActive, got.Status, "the failed run retries")
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "runs.bulk_retry"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.EqualValues(t, 1, audit[0].Summary["skipped"])

	// Redis down: the page says so and still shows the database side.
	b.WithQueues(fakeInspector{fail: true})
	resp, page = c.Get("/admin/operations")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="queue-problem"`)
	require.Contains(t, page, "connection refused")
}
