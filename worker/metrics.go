package worker

import (
	"context"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waymarkhq/waymark/store"
)

// MetricsStore is the database side of /metrics.
type MetricsStore interface {
	OpsSnapshot(ctx context.Context) (store.OpsSnapshot, error)
}

// QueueInspector is the Redis side of /metrics (an *asynq.Inspector).
// GetQueueInfo is cheap for Waymark's queues, which use no task groups
// (asynq issue #1160 is about groups).
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// Metrics is a Prometheus collector for the engine: runs by status, ledger
// steps by kind and outcome, deliveries by connector and status, the
// outbox's lag, Asynq queue sizes and latency, and reconciler repairs. The
// database and Redis are read at scrape time, at most once per TTL.
type Metrics struct {
	st   MetricsStore
	insp QueueInspector
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	at      time.Time
	snap    store.OpsSnapshot
	dbErr   error
	queues  []*asynq.QueueInfo
	redisOK bool

	repairs *prometheus.CounterVec

	runs, steps, deliveries, outboxAge, outboxItems *prometheus.Desc
	queueSize, queueLatency, queueState, up         *prometheus.Desc
}

// NewMetrics returns the collector; insp may be nil (no queue metrics).
func NewMetrics(st MetricsStore, insp QueueInspector, ttl time.Duration, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	return &Metrics{
		st: st, insp: insp, ttl: ttl, now: now,
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waymark_reconciler_repairs_total",
			Help: "Runs the reconciler re-enqueued: overdue ones, or all scheduled ones after Redis lost its data (kind=rebuild).",
		}, []string{"kind"}),
		runs:         prometheus.NewDesc("waymark_runs", "Runs by status (all journeys, all workspaces).", []string{"status"}, nil),
		steps:        prometheus.NewDesc("waymark_run_steps", "Ledger steps by node kind and outcome.", []string{"kind", "outcome"}, nil),
		deliveries:   prometheus.NewDesc("waymark_deliveries", "Messages by connector and status.", []string{"connector", "status"}, nil),
		outboxAge:    prometheus.NewDesc("waymark_outbox_lag_seconds", "Age of the oldest outbox item not yet handed to Redis (0 when empty).", nil, nil),
		outboxItems:  prometheus.NewDesc("waymark_outbox_items", "Outbox items not yet handed to Redis.", nil, nil),
		queueSize:    prometheus.NewDesc("waymark_queue_size", "Tasks in an Asynq queue (pending, active, scheduled, retry, archived).", []string{"queue"}, nil),
		queueLatency: prometheus.NewDesc("waymark_queue_latency_seconds", "How long the oldest pending task of an Asynq queue has waited.", []string{"queue"}, nil),
		queueState:   prometheus.NewDesc("waymark_queue_tasks", "Tasks in an Asynq queue by state.", []string{"queue", "state"}, nil),
		up:           prometheus.NewDesc("waymark_metrics_source_up", "Whether the last read of a metrics source worked (1) or failed (0).", []string{"source"}, nil),
	}
}

// ObserveRepairs counts a reconciler pass that re-enqueued n runs.
func (m *Metrics) ObserveRepairs(n int, full bool) {
	kind := "overdue"
	if full {
		kind = "rebuild"
	}
	m.repairs.WithLabelValues(kind).Add(float64(n))
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.repairs.Describe(ch)
	for _, d := range []*prometheus.Desc{m.runs, m.steps, m.deliveries, m.outboxAge, m.outboxItems, m.queueSize, m.queueLatency, m.queueState, m.up} {
		ch <- d
	}
}

func (m *Metrics) refresh() {
	now := m.now()
	if !m.at.IsZero() && now.Sub(m.at) < m.ttl {
		return
	}
	m.at = now
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.snap, m.dbErr = m.st.OpsSnapshot(ctx)
	m.queues, m.redisOK = nil, m.insp != nil
	if m.insp == nil {
		return
	}
	names, err := m.insp.Queues()
	if err != nil {
		m.redisOK = false
		return
	}
	for _, q := range names {
		info, err := m.insp.GetQueueInfo(q)
		if err != nil {
			m.redisOK = false
			continue
		}
		m.queues = append(m.queues, info)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.repairs.Collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refresh()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	gauge(m.up, up(m.dbErr == nil), "database")
	if m.insp != nil {
		gauge(m.up, up(m.redisOK), "redis")
	}
	if m.dbErr == nil {
		for _, st := range []string{store.RunActive, store.RunWaiting, store.RunWaitingEvent, store.RunPaused, store.RunCompleted, store.RunExited, store.RunFailed} {
			gauge(m.runs, float64(m.snap.RunsByStatus[st]), st)
		}
		for _, s := range m.snap.Steps {
			gauge(m.steps, float64(s.Count), s.Kind, s.Outcome)
		}
		for _, d := range m.snap.Deliveries {
			gauge(m.deliveries, float64(d.Count), d.Connector, d.Status)
		}
		lag := 0.0
		if m.snap.OldestOutbox != nil {
			lag = max(0, m.at.Sub(*m.snap.OldestOutbox).Seconds())
		}
		gauge(m.outboxAge, lag)
		gauge(m.outboxItems, float64(m.snap.OutboxItems))
	}
	for _, q := range m.queues {
		gauge(m.queueSize, float64(q.Size), q.Queue)
		gauge(m.queueLatency, q.Latency.Seconds(), q.Queue)
		for state, n := range map[string]int{"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled, "retry": q.Retry, "archived": q.Archived} {
			gauge(m.queueState, float64(n), q.Queue, state)
		}
	}
}

// WithMetrics makes the reconciler count its repairs in m.
func (r *Reconciler) WithMetrics(m *Metrics) *Reconciler {
	return r.OnRepair(m.ObserveRepairs)
}
