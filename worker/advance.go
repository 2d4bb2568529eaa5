package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// Step outcomes recorded in the ledger.
const (
	OutcomeEntered   = "entered"
	OutcomeOK        = "ok"
	OutcomeWaited    = "waited"
	OutcomeMatched   = "matched"
	OutcomeTimeout   = "timeout"
	OutcomeSent      = "sent"
	OutcomeFailed    = "failed"
	OutcomeUnknown   = "unknown"
	OutcomeSkipped   = "skipped"
	OutcomeDeferred  = "deferred"
	OutcomeConverted = "converted"
	OutcomeExited    = "exited"
	OutcomeCompleted = "completed"
)

// ProcessTask implements asynq.Handler for TaskAdvance.
func (e *Engine) ProcessTask(ctx context.Context, t *asynq.Task) error {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = runTaskMaxRetry
	}
	return e.ProcessAttempt(ctx, t, retried, maxRetry)
}

// ProcessAttempt runs attempt retried+1 of a TaskAdvance task whose retry
// limit is maxRetry (ProcessTask reads both from Asynq's context).
func (e *Engine) ProcessAttempt(ctx context.Context, t *asynq.Task, retried, maxRetry int) error {
	var p advancePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.RunID == "" {
		return fmt.Errorf("bad %s payload: %w", TaskAdvance, asynq.SkipRetry)
	}
	step, err := e.advance(ctx, p.RunID, p.Sequence)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		return err
	}
	// On the last attempt a step that keeps failing fails its run visibly
	// instead of disappearing into Asynq's archive.
	if retried >= maxRetry {
		if ferr := e.failRun(ctx, p.RunID, step, fmt.Sprintf("gave up after %d attempts: %v", retried+1, err)); ferr != nil {
			return ferr
		}
		// Revoked, not archived: an archived task would keep holding its
		// id and block a later retry of the run.
		return fmt.Errorf("%v: %w", err, asynq.RevokeTask)
	}
	return err
}

// exec is one task's walk through a run.
type exec struct {
	e       *Engine
	run     store.Run
	journey store.Journey
	c       *flows.Compiled
	profile store.Profile
	env     *expression.Env
	now     time.Time

	seq     int
	steps   int
	ledger  []store.RunStep
	attrs   map[string]any    // update_profile: custom attributes to write
	fields  map[string]string // update_profile: built-in fields to write
	first   bool              // the node about to run is the first of this task
	update  store.RunUpdate
	outbox  *store.OutboxItem
	convert *store.Conversion
	// pendingDelivery is the action's delivery outcome, committed with the step.
	pendingDelivery *store.DeliveryOutcome
	// retryAt re-runs this same step later without a ledger entry (rate limits).
	retryAt *time.Time
	// noCommit: nothing changed (an early wake-up timed in-process).
	noCommit bool
	// delivery is this step's delivery as loaded with the run (nil: none
	// yet); deliveryKnown says it was loaded, so act need not read it.
	delivery      *store.Delivery
	deliveryKnown bool
	// nextAction is the action the walk stopped before, so that it runs as
	// a step of its own; the task runs that step itself after the commit.
	nextAction *flows.CompiledNode
	committed  bool // the walk's result is committed
	conflicted bool // the run had moved on: nothing was committed
	keepOutbox bool // do not dispatch the committed outbox item (runInline)
	// prev is the walk before this one in the same task, not committed yet
	// (runInline): it commits with this action's delivery record.
	prev *exec
	// atEntry: the walk of a new run's instant steps before its entry
	// commits (walkEntry); it stops before the first node that is not
	// instant (instantAtEntry), given what entry knows of the profile.
	atEntry bool
	entry   *EntryProfile
}

// Advance runs a run from ledger sequence seq until it waits, reaches an
// action that is not its first node, or ends, and commits the result. A
// task for a sequence the run has left is a no-op.
func (e *Engine) Advance(ctx context.Context, runID string, seq int) error {
	_, err := e.advance(ctx, runID, seq)
	return err
}

// advance is Advance for an attempt of a task. It returns the sequence of
// the step it ran (for failRun).
func (e *Engine) advance(ctx context.Context, runID string, seq int) (int, error) {
	// One read: the run, its profile and whether this step already has a
	// delivery (a retry).
	sc, err := e.cfg.Store.LoadStep(ctx, runID, deliveryKey(runID, seq))
	if errors.Is(err, store.ErrNotFound) {
		return seq, nil // erased profile or deleted journey: nothing to do
	}
	if err != nil {
		return seq, err
	}
	run := sc.Run
	if run.Final() || run.Sequence != seq || run.Status == store.RunPaused {
		return seq, nil
	}
	j, err := e.journeyHead(ctx, run.WorkspaceID, run.JourneyID)
	if err != nil {
		return seq, err
	}
	if j.Status == store.JourneyPaused {
		return seq, e.pauseRun(ctx, run)
	}
	c, err := e.compiledVersion(ctx, run.WorkspaceID, run.JourneyID, run.Version)
	if err != nil {
		return seq, err
	}
	x := &exec{e: e, run: run, journey: j, c: c, profile: sc.Profile, now: e.now(), seq: run.Sequence, steps: run.Steps, first: true,
		delivery: sc.Delivery, deliveryKnown: true}
	entry, err := entryOf(run)
	if err != nil {
		// Never walk with an empty event in its place: the run fails
		// where it is, saying why.
		x.finish(store.RunFailed, err.Error())
		return seq, x.commit(ctx)
	}
	x.env = e.envWith(run, entry, j, sc.Profile, x.now)
	bindContext(x.env, ctx)
	if err := x.walk(ctx); err != nil {
		return seq, err
	}
	if x.inline() {
		return seq, e.runInline(ctx, x)
	}
	return seq, x.commit(ctx)
}

// inline reports whether the walk stopped before an action whose step this
// task runs itself (the profile unchanged by the walk).
func (x *exec) inline() bool {
	return x.e.cfg.InlineActions && x.nextAction != nil && x.attrs == nil && x.fields == nil && x.outbox != nil && !x.noCommit
}

// runInline runs the action step the walk x stopped before, in this task,
// as exactly the step its own task would run: at its own sequence, after
// the steps before it are committed (so a retry never repeats them). Those
// steps commit together with the action's delivery record, before the
// connector call; when the action ends without one (a policy), they commit
// first, then the action's outcome. This saves a trip through the queue, a
// read and a commit per action.
//
// The step's outbox item commits with the steps before it as its safety
// net, hidden from the relay for sendLease (the run's next_due_at says the
// same to the reconciler): if this process dies, the step gets its own
// task once this attempt is certainly over, never while it may still be
// sending. If the step fails with an error worth retrying, it gets its own
// task (handOff) and this task ends: the step's retries are those of its
// own task, as without inline actions.
func (e *Engine) runInline(ctx context.Context, x *exec) error {
	n := x.nextAction
	x.keepOutbox = true
	lease := x.now.Add(sendLease)
	x.outbox.ProcessAt, x.outbox.VisibleAt = x.now, lease
	x.update.NextDueAt = &lease
	o := store.OutboxItem{RunID: x.run.ID, Sequence: x.seq, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: x.now}
	run := x.run
	run.Sequence, run.Steps, run.Status, run.CurrentNode = x.seq, x.steps, store.RunActive, n.ID
	run.Port, run.WaitUntil, run.WaitEvent, run.NextDueAt, run.Error = "", nil, "", &lease, ""
	y := &exec{e: e, run: run, journey: x.journey, c: x.c, profile: x.profile, now: e.now(), seq: run.Sequence, steps: run.Steps, first: true,
		// The step's sequence is new: no attempt of it can have written a
		// delivery before the steps before it commit; one written since
		// makes ours conflict ("another attempt is in flight").
		deliveryKnown: true, prev: x}
	y.env = e.env(run, x.journey, x.profile, y.now)
	bindContext(y.env, ctx)
	err := y.walk(ctx)
	if !x.committed {
		if !x.conflicted {
			if cerr := x.commit(ctx); cerr != nil {
				return cerr
			}
		}
		if !x.committed {
			return nil // the run moved on elsewhere: this task's work is dropped
		}
	}
	if err == nil {
		err = y.commit(ctx)
	} else {
		err = y.handOff(ctx, err)
	}
	if err != nil {
		// The safety net stays: the relay (after the lease) or the
		// reconciler gives the step its task. This task's retries find
		// the run at another sequence and do nothing.
		return err
	}
	// The step needs no safety net now.
	e.forgetOutbox(ctx, o)
	return nil
}

// handOff gives the inline step y, which failed with cause (an error worth
// retrying), a task of its own, due after the delay Asynq would have
// waited (a provider's Retry-After included): task id (run, step), so
// that the reconciler finds it, and the run's next_due_at set to match in
// the same commit as the delivery's outcome. The caller's task then ends.
func (y *exec) handOff(ctx context.Context, cause error) error {
	at := y.e.now().Add(RetryDelay(0, cause, nil))
	u := store.RunUpdate{
		RunID: y.run.ID, JourneyID: y.run.JourneyID, ProfileID: y.run.ProfileID, ExpectSequence: y.run.Sequence,
		Status: store.RunActive, CurrentNode: y.run.CurrentNode, Sequence: y.run.Sequence, Steps: y.run.Steps, NextDueAt: &at,
		Delivery: y.pendingDelivery,
	}
	if err := y.commitWith(ctx, u); err != nil {
		return err
	}
	if !y.committed {
		return nil // the run moved on (an exit event): nothing to retry
	}
	y.e.logger.Debug("inline step failed; retrying in its own task", slog.String("run_id", y.run.ID), slog.Int("seq", y.run.Sequence),
		slog.Time("at", at), slog.String("error", cause.Error()))
	// The step's safety net (its outbox item, visible after the send
	// lease) moves to the retry time first: if the enqueue below is lost,
	// the relay then runs the step at that time, not before a provider's
	// Retry-After. Should this fail, the lease still bounds it.
	if err := y.e.cfg.Store.RescheduleOutbox(ctx, y.run.ID, y.run.Sequence, TaskAdvance, at); err != nil {
		y.e.logger.Warn("rescheduling a step's safety net", slog.String("run_id", y.run.ID), slog.String("error", err.Error()))
	}
	return y.e.enqueueTask(ctx, store.OutboxItem{RunID: y.run.ID, Sequence: y.run.Sequence, ProcessAt: at}, taskID(y.run.ID, y.run.Sequence))
}

// entryOf decodes the event that started a run (none: a run entered
// without one, or a journey-level evaluation with no run).
func entryOf(run store.Run) (EntryEvent, error) {
	var entry EntryEvent
	if len(run.EntryEvent) == 0 {
		return entry, nil
	}
	if err := json.Unmarshal(run.EntryEvent, &entry); err != nil {
		return EntryEvent{}, fmt.Errorf("the run's entry event does not decode: %v", err)
	}
	return entry, nil
}

// env is the expression environment of a run. A run whose entry event does
// not decode takes no step: advance fails it at the first it tries, which
// is its trigger step, before it can wait for an event or a goal. Until
// then (an event evaluated against it in between) it is seen without one.
func (e *Engine) env(run store.Run, j store.Journey, p store.Profile, now time.Time) *expression.Env {
	entry, _ := entryOf(run)
	return e.envWith(run, entry, j, p, now)
}

// Its Facts reads the profile's event history from the engine's store
// (and saved segments through cfg.Segments), with a context of its own
// per lookup; a step binds its context (bindContext).
func (e *Engine) envWith(run store.Run, entry EntryEvent, j store.Journey, p store.Profile, now time.Time) *expression.Env {
	env := &expression.Env{
		Profile: expression.Profile(expression.ProfileFields{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale}, p.Attributes),
		Event:   entry.expression(),
		Run:     expression.Run{ID: run.ID, EnteredAt: run.EnteredAt, Steps: run.Steps, Entry: entry.expression()},
		Journey: expression.Journey{ID: j.ID, Name: j.Name, Version: run.Version},
		Now:     now,
		Change:  entryChange(entry.expression()),
	}
	if p.ID == "" {
		p.ID = run.ProfileID // an entry's walk may know the profile by its run only
	}
	return e.withHistory(context.Background(), env, j.WorkspaceID, p)
}

// withHistory attaches the profile's history to env.
func (e *Engine) withHistory(ctx context.Context, env *expression.Env, workspaceID string, p store.Profile) *expression.Env {
	if workspaceID == "" {
		workspaceID = p.WorkspaceID
	}
	var st HistoryStore
	if e.cfg.Store != nil {
		st = e.cfg.Store
	}
	return AttachHistory(ctx, env, st, e.cfg.Segments, workspaceID, p.ID)
}

// WithHistory gives env the history of profile p as the engine reads it
// (the simulator's environments), bounded by ctx.
func (e *Engine) WithHistory(ctx context.Context, env *expression.Env, p store.Profile) *expression.Env {
	return e.withHistory(ctx, env, p.WorkspaceID, p)
}

func (e *Engine) pauseRun(ctx context.Context, run store.Run) error {
	err := e.cfg.Store.AdvanceRun(ctx, store.RunUpdate{
		RunID: run.ID, ExpectSequence: run.Sequence, Status: store.RunPaused, CurrentNode: run.CurrentNode,
		Sequence: run.Sequence, Steps: run.Steps, Port: run.Port, WaitUntil: run.WaitUntil, WaitEvent: run.WaitEvent,
	})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// location is the time zone for a profile: its own, else the journey's.
func (x *exec) location() *time.Location {
	if x.profile.Timezone != "" {
		if loc, err := nodes.LoadTimezone(x.profile.Timezone); err == nil {
			return loc
		}
	}
	if x.c.Settings.Location != nil {
		return x.c.Settings.Location
	}
	return time.UTC
}

// record appends a ledger step for node n.
func (x *exec) record(n *flows.CompiledNode, port, outcome string, detail map[string]any) {
	x.ledger = append(x.ledger, store.RunStep{
		Sequence: x.seq, NodeID: n.ID, Kind: n.Kind, Port: port, Outcome: outcome, Detail: detail,
		StartedAt: x.now, FinishedAt: x.e.now(),
	})
	x.seq++
	x.steps++
	x.env.Run.Steps = x.steps
}

// walk executes nodes from the run's current node.
func (x *exec) walk(ctx context.Context) error {
	n, ok := x.c.Nodes[x.run.CurrentNode]
	if !ok {
		x.finish(store.RunFailed, fmt.Sprintf("node %q is not in version %d", x.run.CurrentNode, x.run.Version))
		return nil
	}
	budget := x.c.Settings.StepBudget
	if budget <= 0 {
		budget = flows.DefaultStepBudget
	}
	for n != nil {
		if x.steps >= budget {
			x.finishAt(n, store.RunFailed, fmt.Sprintf("step budget of %d steps exhausted at node %q (a loop that never ends?)", budget, n.ID))
			return nil
		}
		if x.atEntry && !x.instantAtEntry(n) {
			// The run's first task takes it on from this node.
			x.schedule(n, store.RunActive, x.now, nil, "")
			return nil
		}
		port, stop, err := x.step(ctx, n)
		if err != nil {
			return err
		}
		if stop {
			return nil
		}
		next, end, err := x.c.Follow(n, port)
		if err != nil {
			x.finishAt(n, store.RunFailed, err.Error())
			return nil
		}
		if next == nil {
			switch end {
			case nodes.Fail:
				reason := fmt.Sprintf("node %q left through %q, which is not connected", n.ID, port)
				if last := x.lastDetail("reason"); last != "" {
					reason += ": " + last
				}
				x.finishAt(n, store.RunFailed, reason)
			default:
				x.finishAt(n, store.RunCompleted, "")
			}
			return nil
		}
		n = next
		x.first = false
	}
	return nil
}

func (x *exec) lastDetail(key string) string {
	if len(x.ledger) == 0 {
		return ""
	}
	s, _ := x.ledger[len(x.ledger)-1].Detail[key].(string)
	return s
}

// step runs one node and returns the port it leaves through, or stop when
// the run waits or ends here.
func (x *exec) step(ctx context.Context, n *flows.CompiledNode) (port string, stop bool, err error) {
	switch {
	case n.Spec.Category == nodes.Trigger:
		x.record(n, "out", OutcomeEntered, nil)
		return "out", false, nil
	case n.Spec.Acts:
		if !x.first {
			// Each action is a step of its own (committed first), so its
			// retries never repeat the steps before it.
			x.schedule(n, store.RunActive, x.now, nil, "")
			x.nextAction = n
			return "", true, nil
		}
		return x.act(ctx, n)
	}
	switch n.Kind {
	case "condition":
		ok, err := n.Program("expr").EvalBool(x.env)
		p := "no"
		if ok {
			p = "yes"
		}
		x.record(n, p, OutcomeOK, evalDetail("value", ok, err))
		return p, false, nil
	case "switch":
		cases := n.Config.List("cases")
		detail := map[string]any{}
		for i, cs := range cases {
			ok, err := n.Program(fmt.Sprintf("cases[%d].expr", i)).EvalBool(x.env)
			if err != nil {
				detail[cs.String("name")+"_error"] = err.Error()
			}
			if ok {
				detail["matched"] = cs.String("name")
				x.record(n, cs.String("name"), OutcomeOK, detail)
				return cs.String("name"), false, nil
			}
		}
		x.record(n, "default", OutcomeOK, detail)
		return "default", false, nil
	case "split":
		p, detail, err := x.splitNode(ctx, n)
		if err != nil {
			return "", false, err
		}
		x.record(n, p, OutcomeOK, detail)
		return p, false, nil
	case "update_profile":
		return x.updateProfile(n)
	case "goal":
		return x.goal(ctx, n)
	case "exit":
		x.record(n, "", OutcomeCompleted, map[string]any{"reason": n.Config.String("reason")})
		x.finish(store.RunCompleted, "")
		return "", true, nil
	case "delay":
		return x.delay(n)
	case "wait_event":
		return x.waitEvent(n)
	}
	x.finishAt(n, store.RunFailed, fmt.Sprintf("node kind %q cannot run", n.Kind))
	return "", true, nil
}

// updateProfile runs an update_profile node: its assignments in order,
// each seeing the ones before it. Custom attributes take any value (nil
// removes one); the built-in fields email, phone, timezone and locale
// take a string (nil or "" clears one), checked as every profile write
// checks it (internal/profiles). An invalid built-in value sends the run
// through "failed" with the reason, and nothing of the node is written.
// An assignment whose expression fails is skipped and recorded, as a
// condition's error counts as false. The changes commit with the step
// (RunUpdate.ProfileAttributes / ProfileFields), and the walk goes on with
// them: a delay after the node uses the new time zone.
func (x *exec) updateProfile(n *flows.CompiledNode) (string, bool, error) {
	detail := map[string]any{}
	attrs := map[string]any{}
	fields := map[string]string{}
	env := *x.env
	env.Profile = maps.Clone(x.env.Profile)
	for i, a := range n.Config.List("assignments") {
		name := a.String("attribute")
		v, err := n.Program(fmt.Sprintf("assignments[%d].expr", i)).Eval(&env)
		if err != nil {
			detail[name+"_error"] = err.Error()
			continue
		}
		v = jsonValue(v)
		if !profiles.IsBuiltinField(name) {
			attrs[name] = v
			env.Profile[name] = v
			detail[name] = v
			continue
		}
		s, err := builtinValue(name, v)
		if err != nil {
			reason := fmt.Sprintf("assignments[%d]: %s: %v", i, name, err)
			x.record(n, "failed", OutcomeFailed, map[string]any{"reason": reason, "attribute": name})
			return "failed", false, nil
		}
		fields[name] = s
		env.Profile[name] = nilIfEmpty(s)
		detail[name] = s
	}
	if x.attrs == nil {
		x.attrs = map[string]any{}
	}
	maps.Copy(x.attrs, attrs)
	if len(fields) > 0 {
		if x.fields == nil {
			x.fields = map[string]string{}
		}
		maps.Copy(x.fields, fields)
	}
	for name, v := range fields {
		switch name {
		case "email":
			x.profile.Email = v
		case "phone":
			x.profile.Phone = v
		case "timezone":
			x.profile.Timezone = v
		case "locale":
			x.profile.Locale = v
		}
	}
	x.env.Profile = env.Profile
	x.record(n, "out", OutcomeOK, detail)
	return "out", false, nil
}

// builtinValue checks an expression's value for a built-in profile field.
func builtinValue(field string, v any) (string, error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return profiles.CheckField(field, strings.TrimSpace(s))
	}
	return "", fmt.Errorf("want a string, got %s", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// changeDepth is the depth of the profile changes this run makes: one
// more than the change an attribute trigger entered it on, 1 otherwise
// (see store.ChangeSource).
func (x *exec) changeDepth() int {
	return entryChangeDepth(x.env.Run.Entry) + 1
}

// evalDetail records an expression's value, or its error (which counts as false).
func evalDetail(key string, v any, err error) map[string]any {
	if err != nil {
		return map[string]any{key: v, "error": err.Error()}
	}
	return map[string]any{key: v}
}

// jsonValue normalises an expression result for JSON storage.
func jsonValue(v any) any {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(time.RFC3339)
	case int:
		return float64(t)
	case int64:
		return float64(t)
	}
	return v
}

// split picks a variant by weight from a stable hash of (run, node), so the
// choice is random across runs but sticky within one.
func (x *exec) split(n *flows.CompiledNode) (string, map[string]any) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(x.run.ID + "/" + n.ID))
	bucket := int(h.Sum32() % 100)
	acc := 0
	for _, v := range n.Config.List("variants") {
		acc += int(v.Int("weight"))
		if bucket < acc {
			return v.String("name"), map[string]any{"bucket": bucket, "variant": v.String("name")}
		}
	}
	return "holdout", map[string]any{"bucket": bucket, "variant": "holdout"}
}

// goal checks whether the profile did the event (matching the filter)
// within the window before reaching this node.
func (x *exec) goal(ctx context.Context, n *flows.CompiledNode) (string, bool, error) {
	since := x.run.EnteredAt
	if w := n.Config.Duration("window"); w > 0 {
		since = x.now.Add(-w)
	}
	events, err := x.e.cfg.Store.ListProfileEvents(ctx, x.profile.ID, n.Config.String("event"), since, 100)
	if err != nil {
		return "", false, err
	}
	filter := n.Program("filter")
	for _, ev := range events {
		if filter != nil {
			env := *x.env
			env.Event = expression.Event{Name: ev.Name, Properties: ev.Properties, OccurredAt: ev.OccurredAt}
			if ok, _ := filter.EvalBool(&env); !ok {
				continue
			}
		}
		x.convert = &store.Conversion{At: ev.OccurredAt, Path: x.path(n.ID)}
		if n.Config.Bool("exit_on_conversion") {
			x.record(n, "", OutcomeConverted, map[string]any{"event_id": ev.ID, "exit": true})
			x.finish(store.RunExited, "")
			return "", true, nil
		}
		x.record(n, "out", OutcomeConverted, map[string]any{"event_id": ev.ID})
		return "out", false, nil
	}
	x.record(n, "out", OutcomeOK, map[string]any{"converted": false})
	return "out", false, nil
}

// path is the node ids this task has walked, for conversion attribution;
// the full path is in the ledger.
func (x *exec) path(last string) string {
	ids := make([]string, 0, len(x.ledger)+1)
	for _, s := range x.ledger {
		ids = append(ids, s.NodeID)
	}
	return strings.Join(append(ids, last), ">")
}

// soon handles a wake-up that came early by less than earlyWindow: Asynq
// scores scheduled tasks in whole seconds, so a task due at :10.9 may run
// at :10.0. Rather than hold a worker or re-schedule (rounded again), it
// sets an in-process timer that enqueues the task at the exact time and
// leaves the run as it is. If this process dies first, the reconciler finds
// the run overdue.
func (x *exec) soon(at time.Time) bool {
	wait := at.Sub(x.now)
	if wait > earlyWindow {
		return false
	}
	x.noCommit = true
	o := store.OutboxItem{RunID: x.run.ID, Sequence: x.run.Sequence, Queue: QueueDefault, ProcessAt: at}
	id := fmt.Sprintf("%s@%d-%d", taskID(x.run.ID, x.run.Sequence), at.UnixNano(), x.now.UnixNano())
	x.e.after(wait, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := x.e.enqueueTask(ctx, o, id); err != nil {
			x.e.logger.Warn("enqueueing an early wake-up", slog.String("run_id", o.RunID), slog.String("error", err.Error()))
		}
	})
	return true
}

// earlyWindow is how early a wake-up may come and still be timed in-process.
const earlyWindow = 2 * time.Second

// woken reports whether this task is the wake-up of a wait at node n.
func (x *exec) woken(n *flows.CompiledNode) bool {
	return x.first && x.run.CurrentNode == n.ID && x.run.WaitUntil != nil
}

func (x *exec) delay(n *flows.CompiledNode) (string, bool, error) {
	if x.woken(n) {
		if x.now.Before(*x.run.WaitUntil) {
			if x.soon(*x.run.WaitUntil) {
				return "", true, nil
			}
			// Resumed (or woken by a skewed clock) well before the wait
			// is over: wait again.
			x.park(n, store.RunWaiting, *x.run.WaitUntil, "")
			return "", true, nil
		}
		x.record(n, "out", OutcomeWaited, map[string]any{"until": x.run.WaitUntil.UTC().Format(time.RFC3339Nano)})
		return "out", false, nil
	}
	wake, ok, detail := x.wakeTime(n)
	if !ok || !wake.After(x.now) {
		x.record(n, "out", OutcomeWaited, detail)
		return "out", false, nil
	}
	if detail != nil {
		x.record(n, "", OutcomeScheduled, detail) // best_time: why this hour
	}
	x.park(n, store.RunWaiting, wake, "")
	return "", true, nil
}

// wakeTime computes a delay node's wake time; ok is false when the run
// should continue at once (a missing or past date).
func (x *exec) wakeTime(n *flows.CompiledNode) (time.Time, bool, map[string]any) {
	cfg := n.Config
	loc := x.location()
	if tz := cfg.String("timezone"); tz != "" {
		if l, err := nodes.LoadTimezone(tz); err == nil {
			loc = l
		}
	}
	switch cfg.String("mode") {
	case "best_time":
		return x.bestTimeWake(n)
	case "until_time":
		clock, _ := cfg.Clock("time")
		return nextLocalTime(x.now, loc, clock, cfg.Weekdays("weekdays")), true, nil
	case "until_date":
		v, err := n.Program("date").Eval(x.env)
		if err != nil {
			return time.Time{}, false, map[string]any{"error": err.Error()}
		}
		clock, hasClock := cfg.Clock("time")
		w, ok, err := dateWake(v, x.now, loc, clock, hasClock, cfg.Duration("offset"), cfg.Bool("yearly"))
		if err != nil {
			return time.Time{}, false, map[string]any{"error": err.Error()}
		}
		if !ok {
			return time.Time{}, false, map[string]any{"skipped": "no date"}
		}
		return w, true, nil
	default:
		return x.now.Add(cfg.Duration("duration")), true, nil
	}
}

func (x *exec) waitEvent(n *flows.CompiledNode) (string, bool, error) {
	if x.woken(n) {
		if x.now.Before(*x.run.WaitUntil) {
			if x.soon(*x.run.WaitUntil) {
				return "", true, nil
			}
			x.park(n, store.RunWaitingEvent, *x.run.WaitUntil, n.Config.String("event"))
			return "", true, nil
		}
		x.record(n, "timeout", OutcomeTimeout, nil)
		return "timeout", false, nil
	}
	x.park(n, store.RunWaitingEvent, x.now.Add(n.Config.Duration("timeout")), n.Config.String("event"))
	return "", true, nil
}

// park stops the run at node n until `until` (delay, wait_event, deferral).
func (x *exec) park(n *flows.CompiledNode, status string, until time.Time, waitEvent string) {
	x.schedule(n, status, until, &until, waitEvent)
}

// schedule stops the walk at node n with a task due at `at`.
func (x *exec) schedule(n *flows.CompiledNode, status string, at time.Time, waitUntil *time.Time, waitEvent string) {
	due := at
	x.update = store.RunUpdate{Status: status, CurrentNode: n.ID, WaitUntil: waitUntil, WaitEvent: waitEvent, NextDueAt: &due}
	queue := QueueDefault
	x.outbox = &store.OutboxItem{Sequence: x.seq, TaskType: TaskAdvance, Queue: queue, ProcessAt: at}
}

// finish ends the run at the current node.
func (x *exec) finish(status, reason string) {
	x.update = store.RunUpdate{Status: status, CurrentNode: x.run.CurrentNode, Error: reason, Finished: true}
	if len(x.ledger) > 0 {
		x.update.CurrentNode = x.ledger[len(x.ledger)-1].NodeID
	}
}

// finishAt ends the run at node n.
func (x *exec) finishAt(n *flows.CompiledNode, status, reason string) {
	x.finish(status, reason)
	x.update.CurrentNode = n.ID
}

// commit writes the walk's result; a conflict means another worker (or an
// event) advanced the run first, and this task's work is dropped.
func (x *exec) commit(ctx context.Context) error {
	if x.noCommit {
		return nil
	}
	return x.commitWith(ctx, x.updateOf())
}

// updateOf is the walk's result as a RunUpdate.
func (x *exec) updateOf() store.RunUpdate {
	u := x.update
	u.RunID, u.JourneyID, u.ProfileID = x.run.ID, x.run.JourneyID, x.run.ProfileID
	u.ExpectSequence = x.run.Sequence
	u.Sequence, u.Steps = x.seq, x.steps
	u.Ledger = x.ledger
	u.ProfileAttributes, u.ProfileFields = x.attrs, x.fields
	if len(x.attrs) > 0 || len(x.fields) > 0 {
		u.ChangeDepth = x.changeDepth()
	}
	u.Conversion = x.convert
	if x.outbox != nil {
		o := *x.outbox
		o.Sequence = x.seq
		u.Outbox = &o
	}
	if x.pendingDelivery != nil {
		u.Delivery = x.pendingDelivery
	}
	return u
}

func (x *exec) commitWith(ctx context.Context, u store.RunUpdate) error {
	err := x.e.cfg.Store.AdvanceRun(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		x.e.logger.Debug("run advanced elsewhere", slog.String("run_id", x.run.ID), slog.Int("seq", x.run.Sequence))
		x.conflicted = true
		// The step's work is dropped, but a message that went out stays
		// recorded as such (without overwriting the outcome the attempt
		// that won recorded, unless this one knows better).
		if d := x.pendingDelivery; d != nil {
			return x.e.cfg.Store.SettleLateDelivery(ctx, d.ID, d.DeliveryUpdate)
		}
		return nil
	}
	if err != nil {
		return err
	}
	x.committed = true
	if len(u.ProfileAttributes) > 0 || len(u.ProfileFields) > 0 {
		// Segment and attribute triggers see the change at once (the
		// leader's pass catches up if this process stops first).
		x.e.profileWritten(ctx, x.run.ProfileID)
	}
	if u.Outbox != nil && x.keepOutbox {
		return nil // runInline runs the step; the outbox item is its safety net
	}
	if u.Outbox != nil {
		o := *u.Outbox
		o.RunID = x.run.ID
		id := taskID(o.RunID, o.Sequence)
		if o.Sequence == x.run.Sequence {
			// The running task holds (run, seq): this one needs its own id.
			id = fmt.Sprintf("%s@%d-%d", id, o.ProcessAt.UnixNano(), x.now.UnixNano())
		}
		x.e.dispatchAs(ctx, o, id)
	}
	if x.retryAt != nil {
		// A distinct task id: the current task still holds (run, seq). If
		// this enqueue is lost, the reconciler finds the run overdue.
		id := fmt.Sprintf("%s@%d-%d", taskID(x.run.ID, x.seq), x.retryAt.UnixNano(), x.now.UnixNano())
		if err := x.e.enqueueTask(ctx, store.OutboxItem{RunID: x.run.ID, Sequence: x.seq, Queue: QueueDefault, ProcessAt: *x.retryAt}, id); err != nil {
			x.e.logger.Warn("re-scheduling run", slog.String("run_id", x.run.ID), slog.String("error", err.Error()))
		}
	}
	return nil
}

// createDelivery writes the delivery of this task's action before its
// connector call. When the steps before the action are not committed yet
// (runInline), they commit together with it: one commit instead of two.
// A conflict is ErrConflict, and then nothing was written.
func (x *exec) createDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	p := x.prev
	if p == nil || p.committed || p.conflicted {
		if d.Status != store.DeliveryPending {
			return x.e.cfg.Store.CreateDelivery(ctx, d) // a record only: nothing is sent
		}
		// The run is claimed for the send in the same commit, so a
		// migration or a pause that got there first stops it here.
		return x.e.cfg.Store.CreateStepDelivery(ctx, d, x.now.Add(sendLease))
	}
	if d.ID == "" {
		d.ID = store.NewID()
	}
	u := p.updateOf()
	u.NewDelivery = &d
	if err := x.e.cfg.Store.AdvanceRun(ctx, u); err != nil {
		// The run moved on, or the key is taken: runInline sorts out which.
		return store.Delivery{}, err
	}
	p.committed = true
	return d, nil
}

// failRun marks a run failed at its current node (a step that kept failing).
func (e *Engine) failRun(ctx context.Context, runID string, seq int, reason string) error {
	run, err := e.cfg.Store.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if run.Final() || run.Sequence != seq {
		return nil
	}
	// A delivery left pending by the failing attempts failed with the run.
	if d, err := e.cfg.Store.GetDeliveryByKey(ctx, deliveryKey(run.ID, seq)); err == nil && d.Status == store.DeliveryPending {
		status := store.DeliveryFailed
		if d.Error == "" && d.Attempts > 0 {
			// The last attempt stopped during the send: it may have gone out.
			status = store.DeliveryUnknown
		}
		if err := e.cfg.Store.UpdateDelivery(ctx, d.ID, store.DeliveryUpdate{Status: status, Error: reason, ProviderID: d.ProviderID}); err != nil {
			return err
		}
	}
	err = e.cfg.Store.AdvanceRun(ctx, store.RunUpdate{
		RunID: run.ID, JourneyID: run.JourneyID, ProfileID: run.ProfileID, ExpectSequence: run.Sequence,
		Status: store.RunFailed, CurrentNode: run.CurrentNode, Sequence: run.Sequence, Steps: run.Steps, Error: reason, Finished: true,
	})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	e.logger.Warn("run failed", slog.String("run_id", run.ID), slog.String("reason", reason))
	return err
}
