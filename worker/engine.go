package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// TaskAdvance advances one run from one ledger sequence.
const TaskAdvance = "run:advance"

// advancePayload is a TaskAdvance payload: ids only.
type advancePayload struct {
	RunID    string `json:"run_id"`
	Sequence int    `json:"seq"`
}

// taskID derives the Asynq task id from (run, sequence), so enqueueing the
// same step twice is a no-op while the task exists.
func taskID(runID string, seq int) string { return "run:" + runID + ":" + strconv.Itoa(seq) }

// EngineStore is the storage the engine needs.
type EngineStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (store.JourneyVersion, error)
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	GetProfile(ctx context.Context, id string) (store.Profile, error)

	EnterRun(ctx context.Context, r store.Run, p store.EntryPolicy, first store.OutboxItem, steps ...store.RunStep) (store.Run, error)
	EnterRuns(ctx context.Context, b store.EntryBatch) ([]store.Run, error)
	BatchesEntries(p store.EntryPolicy) bool
	GetRun(ctx context.Context, id string) (store.Run, error)
	LoadStep(ctx context.Context, runID, deliveryKey string) (store.StepContext, error)
	GetWorkspaceRun(ctx context.Context, workspaceID, id string) (store.Run, error)
	AdvanceRun(ctx context.Context, u store.RunUpdate) error
	ListRunSteps(ctx context.Context, runID string) ([]store.RunStep, error)
	ListRunsWaitingForEvent(ctx context.Context, profileID, eventName string) ([]store.Run, error)
	ListProfileRuns(ctx context.Context, profileID, journeyID string, since time.Time) ([]store.Run, error)
	ListProfileEvents(ctx context.Context, profileID, name string, since time.Time, limit int) ([]store.Event, error)
	HistoryStore // the expression functions' event history (facts.go)
	RecordConversion(ctx context.Context, runID string, c store.Conversion) (bool, error)
	PauseJourneyRuns(ctx context.Context, journeyID string) (int64, error)
	ResumeJourneyRuns(ctx context.Context, journeyID, taskType string) (int64, error)
	ResumeLiveJourneyRuns(ctx context.Context, taskType string) (int64, error)
	ListLiveRunIDs(ctx context.Context, journeyID, afterID string, limit int) ([]string, error)
	ReviveRun(ctx context.Context, workspaceID, runID, taskType string) (store.Run, error)
	MoveRun(ctx context.Context, workspaceID, runID, nodeID, by, taskType string) (store.Run, error)

	CreateDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
	CreateStepDelivery(ctx context.Context, d store.Delivery, leaseUntil time.Time) (store.Delivery, error)
	MarkDeliveryUnsent(ctx context.Context, id, reason string) error
	GetDeliveryByKey(ctx context.Context, key string) (store.Delivery, error)
	UpdateDelivery(ctx context.Context, id string, u store.DeliveryUpdate) error
	SettleLateDelivery(ctx context.Context, id string, u store.DeliveryUpdate) error
	ClaimDelivery(ctx context.Context, id string, attempts int) (bool, error)
	CountDeliveriesSince(ctx context.Context, profileID, channel string, since time.Time) (int, error)

	ListOutbox(ctx context.Context, before time.Time, limit int) ([]store.OutboxItem, error)
	DeleteOutbox(ctx context.Context, ids []int64) error
	DeleteOutboxFor(ctx context.Context, runID string, sequence int, taskType string) error
	RescheduleOutbox(ctx context.Context, runID string, sequence int, taskType string, at time.Time) error
	DeleteOutboxKeys(ctx context.Context, keys []store.OutboxKey) error
	ListDueRuns(ctx context.Context, before time.Time, afterID string, limit int) ([]store.DueRun, error)
}

// Suppressions answers whether an address must not be messaged.
type Suppressions interface {
	IsSuppressed(ctx context.Context, workspaceID, channel, address string) (bool, error)
}

// RateLimiter takes one token from a shared bucket; when none is left it
// says how long to wait.
type RateLimiter interface {
	Take(ctx context.Context, key string, count int, per time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// EngineConfig wires the engine.
type EngineConfig struct {
	Store        EngineStore
	Registry     *nodes.Registry
	Connectors   connectors.Resolver
	Suppressions Suppressions // nil: no suppression list
	RateLimiter  RateLimiter  // nil: journey rate limits are not enforced
	Enqueuer     Enqueuer
	Now          func() time.Time // the clock; nil means time.Now
	Logger       *slog.Logger
	// Segments matches saved segments for in_segment (nil: in_segment
	// fails with "saved segments are not available here").
	Segments SegmentMatcher
	// BaseURL is the public URL, for unsubscribe links (may be empty).
	BaseURL string
	// UnsubscribeURL builds a profile's one-click unsubscribe link (nil: none).
	UnsubscribeURL func(workspaceID, channel, address string) string
	// Tracker adds open and click tracking to email (nil: none).
	Tracker Tracker
	// StatusCacheTTL caches journeys' status per worker (0: read it for
	// every task). A paused journey's runs stop within this time.
	StatusCacheTTL time.Duration
	// After runs f after d (time.AfterFunc; tests on a virtual clock
	// provide their own).
	After func(d time.Duration, f func())
	// Learning caches what bandit splits and best-time delays learn from
	// (nil: read the store for every decision).
	Learning *Learning
	// InlineActions lets the task that walks a run up to an action run the
	// action's step itself once the walk is committed, instead of through
	// a task of its own (same guarantees, one queue round trip less per
	// action; see docs/performance.md). The worker turns it on.
	InlineActions bool
	// LocalTasks is how many goroutines run entries' first tasks in
	// process while RunLocalTasks runs (see localtasks.go; `waymark serve`
	// sets it to the worker's concurrency). 0: every task goes through
	// the queue.
	LocalTasks int
	// LocalBuffer is how many of those tasks may wait for a free
	// goroutine before the next goes through the queue (0:
	// localBufferPerWorker per goroutine).
	LocalBuffer int
}

// Engine runs journeys: entries, steps, waits, actions and events.
type Engine struct {
	cfg      EngineConfig
	cleaned  atomic.Pointer[chan store.OutboxKey] // enqueued outbox items to delete in batches; nil: delete at once
	statuses sync.Map                             // journey id → statusEntry
	now      func() time.Time
	logger   *slog.Logger
	mu       sync.Mutex
	compiled map[versionKey]*flows.Compiled
	triggers atomic.Pointer[Triggers]  // told about profiles the engine changes (update_profile); see NewTriggers
	local    atomic.Pointer[localPool] // first tasks run in process; nil: through the queue (RunLocalTasks)
}

type versionKey struct {
	journeyID string
	version   int
}

// NewEngine returns an engine.
func NewEngine(cfg EngineConfig) *Engine {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, now: func() time.Time { return now().UTC() }, logger: logger, compiled: map[versionKey]*flows.Compiled{}}
}

func (e *Engine) after(d time.Duration, f func()) {
	if e.cfg.After != nil {
		e.cfg.After(d, f)
		return
	}
	time.AfterFunc(d, f)
}

// Errors returned by Enter.
var (
	ErrJourneyNotLive = errors.New("the journey is not live")
	ErrOutsideWindow  = errors.New("outside the journey's entry window")
	ErrNoSuchTrigger  = errors.New("the journey has no such trigger")
)

// compiledVersion returns a published version compiled, from the cache.
// Versions are immutable, so the cache never goes stale.
func (e *Engine) compiledVersion(ctx context.Context, workspaceID, journeyID string, version int) (*flows.Compiled, error) {
	key := versionKey{journeyID, version}
	e.mu.Lock()
	c, ok := e.compiled[key]
	e.mu.Unlock()
	if ok {
		return c, nil
	}
	v, err := e.cfg.Store.GetJourneyVersion(ctx, workspaceID, journeyID, version)
	if err != nil {
		return nil, err
	}
	j, err := flows.Parse(v.Document)
	if err != nil {
		return nil, fmt.Errorf("parsing version %d of journey %s: %w", version, journeyID, err)
	}
	// Connectors were checked at publish; a connector removed since then
	// fails at send time with a clear reason.
	c, problems := flows.Compile(e.cfg.Registry, j, flows.ValidateOptions{})
	if len(problems) > 0 {
		return nil, fmt.Errorf("compiling version %d of journey %s: %s", version, journeyID, problems[0].String())
	}
	e.mu.Lock()
	e.compiled[key] = c
	e.mu.Unlock()
	return c, nil
}

// EntryEvent is what started a run; it becomes run.entry in expressions.
type EntryEvent struct {
	Name       string            `json:"name,omitempty"`
	Properties map[string]any    `json:"properties,omitempty"`
	Body       any               `json:"body,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	OccurredAt time.Time         `json:"occurred_at"`
}

func (ev EntryEvent) expression() expression.Event {
	return expression.Event{Name: ev.Name, Properties: ev.Properties, Body: ev.Body, Headers: ev.Headers, OccurredAt: ev.OccurredAt}
}

// EnterRequest asks for one profile to enter one journey.
type EnterRequest struct {
	WorkspaceID string
	JourneyID   string
	ProfileID   string // profiles.id
	TriggerNode string // the trigger node the profile enters through; "" = the first trigger
	Event       EntryEvent
	// RunID is the new run's id ("": a new one).
	RunID string
	// Profile is what the entry knows of the profile when it commits (nil:
	// nothing): its instant steps may read that much (see walkEntry).
	Profile *EntryProfile
}

// Enter creates a run for the profile in the journey's live version,
// applying the journey's entry rules, and schedules its first step. The run
// and its outbox item commit together, so an accepted entry is never lost.
// A refused entry is a *store.EntryRefusedError or one of the Err… values.
func (e *Engine) Enter(ctx context.Context, req EnterRequest) (store.Run, error) {
	en, err := e.PrepareEntry(ctx, req)
	if err != nil {
		return store.Run{}, err
	}
	run, err := e.cfg.Store.EnterRun(ctx, en.Run, en.Policy, en.First, en.Steps...)
	if err != nil {
		return store.Run{}, err
	}
	e.Dispatch(ctx, en)
	return run, nil
}

// Entry is an entry checked against the journey's live version, ready for
// the store to commit with the entry rules (store.EnterRun, or a caller
// that commits more in the same statement, like webhook ingest): the run
// where its instant steps left it (walkEntry), their ledger, and the task
// that takes the run on from there (none when the run is final).
type Entry struct {
	Run    store.Run
	Policy store.EntryPolicy
	First  store.OutboxItem
	Steps  []store.RunStep
	local  bool // its first task runs in process (localtasks.go)
}

// PrepareEntry checks that the journey is live, inside its entry window and
// has the trigger, and builds the run, its entry rules and its first task.
func (e *Engine) PrepareEntry(ctx context.Context, req EnterRequest) (Entry, error) {
	j, err := e.journeyHead(ctx, req.WorkspaceID, req.JourneyID)
	if err != nil {
		return Entry{}, err
	}
	if j.Status != store.JourneyLive || j.LiveVersion == 0 {
		return Entry{}, fmt.Errorf("%w (status %s)", ErrJourneyNotLive, j.Status)
	}
	c, err := e.compiledVersion(ctx, req.WorkspaceID, j.ID, j.LiveVersion)
	if err != nil {
		return Entry{}, err
	}
	now := e.now()
	st := c.Settings
	if (!st.EntryStart.IsZero() && now.Before(st.EntryStart)) || (!st.EntryEnd.IsZero() && !now.Before(st.EntryEnd)) {
		return Entry{}, ErrOutsideWindow
	}
	trigger := req.TriggerNode
	if trigger == "" && len(c.Triggers) > 0 {
		trigger = c.Triggers[0].ID
	}
	if n, ok := c.Nodes[trigger]; !ok || n.Spec.Category != nodes.Trigger {
		return Entry{}, fmt.Errorf("%w: %q", ErrNoSuchTrigger, trigger)
	}
	if req.Event.OccurredAt.IsZero() {
		req.Event.OccurredAt = now
	}
	entry, err := json.Marshal(req.Event)
	if err != nil {
		return Entry{}, fmt.Errorf("encoding entry event: %w", err)
	}
	id := req.RunID
	if id == "" {
		id = store.NewID()
	}
	en := Entry{
		Run: store.Run{
			ID: id, WorkspaceID: req.WorkspaceID, JourneyID: j.ID, Version: j.LiveVersion, ProfileID: req.ProfileID,
			Status: store.RunActive, CurrentNode: trigger, Sequence: 1, EntryEvent: entry, EnteredAt: now,
		},
		Policy: store.EntryPolicy{
			Reentry: st.Reentry, MinInterval: st.ReentryMinInterval, PerProfileLimit: st.EntryLimitPerProfile, TotalLimit: st.EntryLimitTotal,
		},
		First: store.OutboxItem{Sequence: 1, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: now},
	}
	e.walkEntry(ctx, &en, c, j, req.Event, req.Profile)
	if e.localEntry(en) {
		// The first task runs in process; its outbox item is the safety
		// net, hidden from the relay, and the run from the reconciler,
		// while that attempt may still be running (localtasks.go).
		lease := now.Add(sendLease)
		en.local, en.First.VisibleAt, en.Run.NextDueAt = true, lease, &lease
	}
	return en, nil
}

// Dispatch enqueues the first task of an entry the caller committed (none
// when its instant steps finished the run).
func (e *Engine) Dispatch(ctx context.Context, en Entry) {
	if en.Run.Final() {
		return
	}
	if en.local && e.submitLocal(localTask{runID: en.Run.ID, seq: en.First.Sequence}) {
		return
	}
	e.dispatch(ctx, store.OutboxItem{RunID: en.Run.ID, Sequence: en.First.Sequence, TaskType: en.First.TaskType, Queue: en.First.Queue,
		ProcessAt: en.First.ProcessAt})
}

// dispatch enqueues an outbox item right after its commit and removes it
// from the outbox. If either step fails, the relay retries from the outbox.
func (e *Engine) dispatch(ctx context.Context, o store.OutboxItem) {
	e.dispatchAs(ctx, o, taskID(o.RunID, o.Sequence))
}

// dispatchAs is dispatch with an explicit task id: a run re-scheduled at the
// sequence of the task now running (an early wake-up) needs an id that task
// does not hold.
func (e *Engine) dispatchAs(ctx context.Context, o store.OutboxItem, id string) {
	if err := e.enqueueTask(ctx, o, id); err != nil {
		e.logger.Warn("enqueue failed; the outbox relay will retry", slog.String("run_id", o.RunID), slog.String("error", err.Error()))
		return
	}
	e.forgetOutbox(ctx, o)
}

// forgetOutbox removes an outbox item whose task is taken care of (batched
// by the cleaner when it runs).
func (e *Engine) forgetOutbox(ctx context.Context, o store.OutboxItem) {
	if ch := e.cleaned.Load(); ch != nil {
		select {
		case *ch <- store.OutboxKey{RunID: o.RunID, Sequence: o.Sequence, TaskType: o.TaskType}:
			return
		default: // the cleaner is behind: delete inline
		}
	}
	if err := e.cfg.Store.DeleteOutboxFor(ctx, o.RunID, o.Sequence, o.TaskType); err != nil {
		e.logger.Warn("deleting outbox item", slog.String("run_id", o.RunID), slog.String("error", err.Error()))
	}
}

// RunOutboxCleaner deletes enqueued outbox items in batches until ctx ends,
// saving a write per step. An item not yet deleted when the process stops
// is enqueued once more by the relay: a duplicate task, which is a no-op.
func (e *Engine) RunOutboxCleaner(ctx context.Context) {
	ch := make(chan store.OutboxKey, 4096)
	e.cleaned.Store(&ch)
	defer e.cleaned.Store(nil)
	batch := make([]store.OutboxKey, 0, 512)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.cfg.Store.DeleteOutboxKeys(dctx, batch); err != nil {
			e.logger.Warn("deleting outbox items", slog.String("error", err.Error()))
		}
		batch = batch[:0]
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case k := <-ch:
			batch = append(batch, k)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-t.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case k := <-ch:
					batch = append(batch, k)
				default:
					flush()
					return
				}
			}
		}
	}
}

type statusEntry struct {
	journey store.Journey // without its draft
	at      time.Time
}

// journeyHead returns a journey's status and name, cached for
// StatusCacheTTL: that bounds how long a worker may keep advancing the runs
// of a journey that was just paused.
func (e *Engine) journeyHead(ctx context.Context, workspaceID, journeyID string) (store.Journey, error) {
	now := time.Now()
	if e.cfg.StatusCacheTTL > 0 {
		if v, ok := e.statuses.Load(journeyID); ok {
			if se := v.(statusEntry); now.Sub(se.at) < e.cfg.StatusCacheTTL {
				return se.journey, nil
			}
		}
	}
	j, err := e.cfg.Store.GetJourney(ctx, workspaceID, journeyID)
	if err != nil {
		return store.Journey{}, err
	}
	j.Draft = nil
	if e.cfg.StatusCacheTTL > 0 {
		e.statuses.Store(journeyID, statusEntry{journey: j, at: now})
	}
	return j, nil
}

// enqueue puts a run's task on Asynq. A task that already exists with the
// same id is success: that is the point of ids derived from (run, sequence).
func (e *Engine) enqueue(ctx context.Context, o store.OutboxItem) error {
	return e.enqueueTask(ctx, o, taskID(o.RunID, o.Sequence))
}

func (e *Engine) enqueueTask(ctx context.Context, o store.OutboxItem, id string) error {
	return enqueueRunTask(ctx, e.cfg.Enqueuer, e.now(), o.RunID, o.Sequence, o.ProcessAt, id)
}

func enqueueRunTask(ctx context.Context, enq Enqueuer, now time.Time, runID string, seq int, at time.Time, id string) error {
	payload, err := json.Marshal(advancePayload{RunID: runID, Sequence: seq})
	if err != nil {
		return err
	}
	// Every run task goes to one queue: Asynq task ids are unique per
	// queue, so (run, sequence) must always name the same queue for
	// re-enqueueing to be a no-op.
	opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueDefault), asynq.MaxRetry(runTaskMaxRetry), asynq.Timeout(2 * time.Minute)}
	// Asynq scores scheduled tasks in whole seconds and may run them up to
	// a second early: the handler times such early wake-ups itself.
	if at.After(now.Add(10 * time.Millisecond)) {
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err = enq.EnqueueContext(ctx, asynq.NewTask(TaskAdvance, payload), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// runTaskMaxRetry bounds retries of one step (transient connector errors,
// database hiccups). Never 0: a crashed worker spends a retry (asynq #1015).
const runTaskMaxRetry = 12

// RetryDelay is Asynq's RetryDelayFunc for run tasks: a connector's
// Retry-After when it gave one, else exponential backoff capped at 10 minutes.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		return ce.RetryAfter
	}
	var w *waitError
	if errors.As(err, &w) {
		return w.after
	}
	d := time.Duration(1<<min(n, 10)) * time.Second
	return min(d, 10*time.Minute)
}

// waitError asks Asynq to retry the task after a fixed delay (rate limits).
type waitError struct {
	after  time.Duration
	reason string
}

func (w *waitError) Error() string { return fmt.Sprintf("%s: retry in %s", w.reason, w.after) }

// TriggerNode returns the compiled trigger node of a kind in a journey's
// live version (its expressions compiled once, from the version cache), for
// callers that map a request to an entry, like webhook triggers.
func (e *Engine) TriggerNode(ctx context.Context, j store.Journey, kind string) (*flows.CompiledNode, error) {
	c, err := e.compiledVersion(ctx, j.WorkspaceID, j.ID, j.LiveVersion)
	if err != nil {
		return nil, err
	}
	for _, t := range c.Triggers {
		if t.Kind == kind {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: no %s in version %d", ErrNoSuchTrigger, kind, j.LiveVersion)
}
