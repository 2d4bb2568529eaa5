package ui_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

type fakeQueues struct{}

func (fakeQueues) Queues() ([]string, error) { return []string{"default"}, nil }
func (fakeQueues) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	return &asynq.QueueInfo{Queue: q, Size: 3, Pending: 2, Scheduled: 1, Latency: 1500 * time.Millisecond}, nil
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(b.Store, fakeQueues{}, 0, nil)
	reg.MustRegister(m)
	m.ObserveRepairs(4, false)
	nreg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(nreg))
	srv, err := ui.New(ui.Config{Version: "test"}, ui.Deps{Store: b.Store, Journeys: journeys.New(b.Store, nreg), Engine: b.Engine,
		Hooks: b.NewHooks(), Metrics: reg, Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil))})
	require.NoError(t, err)
	b.Server = srv

	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	_, _ = b.Server.App().Test(httptest.NewRequest("GET", "/no/such/page", nil))

	resp, err := srv.App().Test(httptest.NewRequest("GET", "/metrics", nil))
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "public, like the probes")
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err, string(body))
	for _, name := range []string{"waymark_http_request_duration_seconds", "waymark_runs", "waymark_outbox_lag_seconds", "waymark_outbox_items",
		"waymark_queue_size", "waymark_queue_latency_seconds", "waymark_queue_tasks", "waymark_reconciler_repairs_total", "waymark_metrics_source_up"} {
		require.Contains(t, fams, name)
	}
	var sawCreate bool
	for _, mt := range fams["waymark_http_request_duration_seconds"].Metric {
		labels := map[string]string{}
		for _, l := range mt.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "/api/v1/journeys" && labels["method"] == "POST" && labels["status"] == "201" {
			sawCreate = mt.Histogram.GetSampleCount() == 1
		}
		require.NotContains(t, labels["route"], "/no/such", "unmatched paths do not become labels")
	}
	require.True(t, sawCreate)
	require.Equal(t, 4.0, fams["waymark_reconciler_repairs_total"].Metric[0].Counter.GetValue())
	require.Equal(t, 1.5, fams["waymark_queue_latency_seconds"].Metric[0].Gauge.GetValue())
	for _, mt := range fams["waymark_metrics_source_up"].Metric {
		require.Equal(t, 1.0, mt.Gauge.GetValue())
	}
}
