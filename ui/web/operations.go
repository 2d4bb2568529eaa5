package web

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
	"github.com/waymarkhq/waymark/worker"
)

// QueueInspector is the Redis side of the operations page (an
// *asynq.Inspector). GetQueueInfo is cheap for Waymark's queues, which use
// no task groups (asynq issue #1160 is about groups).
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
	Servers() ([]*asynq.ServerInfo, error)
}

var _ QueueInspector = (*asynq.Inspector)(nil)

// opsStore is what the operations page reads and repairs.
type opsStore interface {
	OpsSnapshot(ctx context.Context) (store.OpsSnapshot, error)
	ListOverdueRuns(ctx context.Context, workspaceID string, before time.Time, limit int) ([]store.Run, error)
	RequeueOverdueRuns(ctx context.Context, workspaceID string, ids []string, before time.Time, taskType string) ([]store.Run, error)
}

const (
	defaultStuckAfter = 5 * time.Minute
	stuckListLimit    = 200
	retryBatchLimit   = 500
)

// stuckThreshold reads ?threshold= (a Go duration, at least a second;
// default 5m).
func stuckThreshold(v string) (time.Duration, error) {
	if v == "" {
		return defaultStuckAfter, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > 30*24*time.Hour {
		return 0, &httpkit.Error{Status: fiber.StatusBadRequest, Code: "invalid_threshold",
			Message: "threshold: want a duration between 1s and 720h such as 5m or 2h, got " + strconv.Quote(v),
			Details: []httpkit.Detail{{Field: "threshold", Message: "want a duration between 1s and 720h"}}}
	}
	return d, nil
}

// operationsPage: GET /admin/operations?threshold=5m (admins).
func (h *Handler) operationsPage(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	th, err := stuckThreshold(c.Query("threshold"))
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	st := views.OperationsPage{Threshold: th.String(), Notice: c.Query("notice")}
	if h.queues == nil {
		st.QueueProblem = "No queue inspector is configured."
	} else {
		st.QueueProblem = h.readQueues(&st, now)
	}
	snap, err := h.store.OpsSnapshot(ctx)
	if err != nil {
		return err
	}
	st.OutboxItems = snap.OutboxItems
	if snap.OldestOutbox != nil {
		st.OutboxLag = max(0, now.Sub(*snap.OldestOutbox)).Round(time.Second).String()
	} else {
		st.OutboxLag = "0s"
	}
	runs, err := h.store.ListOverdueRuns(ctx, ws, now.Add(-th), stuckListLimit)
	if err != nil {
		return err
	}
	failed, _, err := h.store.ListRuns(ctx, ws, store.RunFilter{Status: store.RunFailed, Limit: 50})
	if err != nil {
		return err
	}
	for _, list := range []struct {
		runs []store.Run
		dst  *[]views.StuckRow
	}{{runs, &st.Stuck}, {failed, &st.Failed}} {
		rows, err := h.rowsFor(ctx, ws, list.runs)
		if err != nil {
			return err
		}
		for i, r := range list.runs {
			row := views.StuckRow{Run: rows[i]}
			if r.NextDueAt != nil {
				row.DueAt = runTime(*r.NextDueAt)
				row.Overdue = now.Sub(*r.NextDueAt).Round(time.Second).String()
			}
			*list.dst = append(*list.dst, row)
		}
	}
	return render(c, views.Operations(h.page(c, "Operations"), st))
}

// readQueues fills the queues and workers, or says what failed.
func (h *Handler) readQueues(st *views.OperationsPage, now time.Time) string {
	names, err := h.queues.Queues()
	if err != nil {
		return "Reading the queues from Redis failed: " + err.Error()
	}
	problem := ""
	for _, q := range names {
		info, err := h.queues.GetQueueInfo(q)
		if err != nil {
			problem = "Reading queue " + q + " failed: " + err.Error()
			continue
		}
		st.Queues = append(st.Queues, views.QueueRow{Name: info.Queue, Size: info.Size, Pending: info.Pending, Active: info.Active,
			Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived, Latency: info.Latency.Round(time.Millisecond).String(), Paused: info.Paused})
	}
	servers, err := h.queues.Servers()
	if err != nil {
		return "Reading the workers failed: " + err.Error()
	}
	for _, sv := range servers {
		st.Workers = append(st.Workers, views.WorkerRow{Host: sv.Host, PID: sv.PID, Concurrency: sv.Concurrency, Active: len(sv.ActiveWorkers),
			Status: sv.Status, Up: now.Sub(sv.Started).Round(time.Second).String()})
	}
	return problem
}

// operationsRetry: POST /admin/operations/retry with run_id (repeated) and
// threshold. Failed runs retry from their failed step (the engine); live
// runs overdue by more than the threshold get a fresh task through the
// outbox. Others are reported as skipped. Audited as runs.bulk_retry.
func (h *Handler) operationsRetry(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	th, err := stuckThreshold(c.FormValue("threshold"))
	if err != nil {
		return err
	}
	var ids []string
	seen := map[string]bool{}
	for _, v := range c.Context().PostArgs().PeekMulti("run_id") {
		if id := string(v); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return httpkit.BadRequest("run_id: select at least one run")
	}
	if len(ids) > retryBatchLimit {
		return httpkit.BadRequest("run_id: at most %d runs at a time, got %d", retryBatchLimit, len(ids))
	}
	var live []string
	var retried, requeued []string
	skipped := 0
	for _, id := range ids {
		r, err := h.store.GetWorkspaceRun(ctx, ws, id)
		if err != nil {
			skipped++
			continue
		}
		if r.Status == store.RunFailed {
			if _, err := h.engine.RetryRun(ctx, ws, id); err != nil {
				skipped++
				continue
			}
			retried = append(retried, id)
			continue
		}
		live = append(live, id)
	}
	if len(live) > 0 {
		rs, err := h.store.RequeueOverdueRuns(ctx, ws, live, h.cfg.Now().Add(-th), worker.TaskAdvance)
		if err != nil {
			return err
		}
		for _, r := range rs {
			requeued = append(requeued, r.ID)
		}
		skipped += len(live) - len(rs)
	}
	if err := httpkit.Audit(c, h.store, "runs.bulk_retry", "runs", "", map[string]any{"retried": retried, "requeued": requeued, "skipped": skipped,
		"threshold": th.String()}); err != nil {
		return err
	}
	notice := fmt.Sprintf("%d failed run(s) retried, %d overdue run(s) requeued, %d skipped (not found, not failed or no longer overdue).",
		len(retried), len(requeued), skipped)
	return c.Redirect("/admin/operations?"+url.Values{"threshold": {th.String()}, "notice": {notice}}.Encode(), fiber.StatusSeeOther)
}
