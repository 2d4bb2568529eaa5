package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit on SQLite (embedded mode). SQLite has one writer, and the
// store one connection: every write waits for the one before it, and
// each gorm transaction pays BEGIN, its statements built by reflection,
// and COMMIT (a WAL append) on its own. The engine's hot writes (entries,
// steps, deliveries) go instead to liteCommitter, which runs the writes
// of concurrent callers in ONE transaction, each in a savepoint of its
// own: a caller's write that fails (a conflict, a constraint) is rolled
// back to its savepoint and touches no other; the others commit together.
// Each caller waits for that commit before it gets its answer, so
// "committed before the caller goes on" holds as before. The writes are
// plain SQL on the transaction (no gorm), with statements that need no
// caller's context: an answer never comes from a cancelled caller's
// half-done write, and the driver starts no goroutine per statement.
//
// A commit that fails fails every caller of the batch, each with the
// error: SQLite rolled the whole transaction back, so none of them was
// written, and each may try again. The same holds when an error leaves no
// savepoint to roll back to (SQLite rolled the transaction back itself,
// as it may on a full disk or an I/O error).
//
// Savepoints cost two statements per caller (SQLite parses each statement
// at every execution with this driver) and a statement journal, and a
// write rarely fails. So a batch first runs without them: if every write
// succeeds it commits as is; if one fails, the whole transaction is rolled
// back (nothing of the batch was kept) and the batch runs again from the
// start, each write in its savepoint, as described above. A write runs
// twice only when its batch held a failure, and the first run left no
// trace: the writes are functions of the transaction alone (their answers
// are set again by the second run).

type liteOp struct {
	fn   func(tx *sql.Tx) error
	err  error
	done chan struct{}
}

type liteCommitter struct {
	db      *sql.DB
	ops     chan *liteOp
	max     int
	stop    chan struct{}
	stopped sync.WaitGroup
	mu      sync.RWMutex // guards closed, as committer.mu does
	closed  bool
	batches atomic.Int64 // transactions committed or tried
	retried atomic.Int64 // batches run again in savepoints after a failed write
}

// liteCommitMax bounds a batch: a caller waits for the whole batch.
const liteCommitMax = 64

func newLiteCommitter(db *sql.DB) *liteCommitter {
	c := &liteCommitter{db: db, ops: make(chan *liteOp, 1024), max: liteCommitMax, stop: make(chan struct{})}
	c.stopped.Add(1)
	go c.loop()
	return c
}

func (c *liteCommitter) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.stopped.Wait()
}

// do runs fn in the next group commit and returns its error, or the
// commit's. fn must write through tx only (the store's one connection is
// the transaction's while it runs). Once queued, the caller waits for the
// commit even if ctx ends meanwhile.
func (c *liteCommitter) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
	op := &liteOp{fn: fn, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case c.ops <- op:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	<-op.done
	return op.err
}

func (c *liteCommitter) loop() {
	defer c.stopped.Done()
	batch := make([]*liteOp, 0, c.max)
	for {
		select {
		case <-c.stop:
			for {
				select {
				case op := <-c.ops:
					op.err = errStoreClosed
					close(op.done)
				default:
					return
				}
			}
		case op := <-c.ops:
			batch = append(batch[:0], op)
		gather:
			for len(batch) < c.max {
				select {
				case op := <-c.ops:
					batch = append(batch, op)
				default:
					break gather
				}
			}
			c.run(batch)
		}
	}
}

// errLiteAborted: SQLite rolled the batch's transaction back under a
// caller's write (no savepoint left to return to).
var errLiteAborted = errors.New("the transaction was rolled back by SQLite")

func (c *liteCommitter) run(batch []*liteOp) {
	defer func() {
		for _, op := range batch {
			close(op.done)
		}
	}()
	if c.runPlain(batch) {
		return
	}
	c.retried.Add(1)
	for _, op := range batch {
		op.err = nil
	}
	c.runSavepoints(batch)
}

// runPlain runs the batch's writes in one transaction without savepoints
// and commits it; false, with the transaction rolled back, when a write
// failed (the caller runs the batch again in savepoints). A failure to
// begin or commit is every caller's answer, as in runSavepoints.
func (c *liteCommitter) runPlain(batch []*liteOp) bool {
	c.batches.Add(1)
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		liteFail(batch, fmt.Errorf("beginning a transaction: %w", err))
		return true
	}
	for _, op := range batch {
		if err := op.fn(tx); err != nil {
			_ = tx.Rollback()
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		liteFail(batch, fmt.Errorf("committing: %w", err))
	}
	return true
}

// liteFail gives err to every caller of the batch without an answer yet.
func liteFail(batch []*liteOp, err error) {
	for _, op := range batch {
		if op.err == nil {
			op.err = err
		}
	}
}

// runSavepoints runs the batch's writes in one transaction, each in a
// savepoint of its own, and commits it.
func (c *liteCommitter) runSavepoints(batch []*liteOp) {
	fail := func(err error) { liteFail(batch, err) }
	c.batches.Add(1)
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("beginning a transaction: %w", err))
		return
	}
	for _, op := range batch {
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("%w: %w", errLiteAborted, err))
			return
		}
		op.err = op.fn(tx)
		if op.err != nil {
			if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
				_ = tx.Rollback()
				for _, o := range batch {
					if o.err == nil || o == op {
						o.err = fmt.Errorf("%w: %w", errLiteAborted, errors.Join(o.err, err))
					}
				}
				return
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("%w: %w", errLiteAborted, err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("committing: %w", err))
	}
}

// liteValues is "(?, ?, …), (…)" for rows of n values each.
func liteValues(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// insertStepsLite writes ledger steps in one statement.
func insertStepsLite(tx *sql.Tx, runID string, steps []RunStep) error {
	if len(steps) == 0 {
		return nil
	}
	args := make([]any, 0, 9*len(steps))
	for _, st := range steps {
		d, err := encodeObject(st.Detail)
		if err != nil {
			return err
		}
		args = append(args, runID, st.Sequence, st.NodeID, st.Kind, st.Port, st.Outcome, d, st.StartedAt.UTC(), st.FinishedAt.UTC())
	}
	_, err := tx.Exec(`INSERT INTO run_steps (run_id, sequence, node_id, kind, port, outcome, detail, started_at, finished_at) VALUES `+
		liteValues(len(steps), 9), args...)
	return err
}

// insertOutboxLite writes an outbox item; the same (run, sequence, type)
// already waiting is the same task.
func insertOutboxLite(tx *sql.Tx, o OutboxItem, runID string, seq int, now any) error {
	queue := o.Queue
	if queue == "" {
		queue = "default"
	}
	_, err := tx.Exec(`INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, runID, seq, o.TaskType, queue, o.ProcessAt.UTC(), now, visibleAt(o))
	return err
}

// insertDeliveryLite writes a delivery row.
func insertDeliveryLite(tx *sql.Tx, r deliveryRow) error {
	_, err := tx.Exec(`INSERT INTO deliveries (id, workspace_id, run_id, sequence, node_id, profile_id, idempotency_key, connector, connector_id, channel,
		recipient, subject, body, payload, status, provider_id, error, attempts, is_test, created_at, updated_at) VALUES `+liteValues(1, 21),
		r.ID, r.WorkspaceID, r.RunID, r.Sequence, r.NodeID, r.ProfileID, r.IdempotencyKey, r.Connector, r.ConnectorID, r.Channel,
		r.Recipient, r.Subject, r.Body, r.Payload, r.Status, r.ProviderID, r.Error, r.Attempts, r.IsTest, r.CreatedAt, r.UpdatedAt)
	return err
}

// advanceRunLite is AdvanceRun on SQLite without profile changes or a
// conversion: the conditional update of the run decides, and everything
// else is written only if it applied, in the caller's savepoint.
func (s *Store) advanceRunLite(ctx context.Context, u RunUpdate, now time.Time) error {
	err := s.lite.do(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status = ?, current_node = ?, sequence = ?, steps = ?, port = ?, wait_until = ?, wait_event = ?,
			next_due_at = ?, error = ?, updated_at = ?, finished_at = CASE WHEN ? THEN ? ELSE finished_at END
			WHERE id = ? AND sequence = ? AND status NOT IN ('completed', 'exited', 'failed')`,
			u.Status, u.CurrentNode, u.Sequence, u.Steps, u.Port, utcPtr(u.WaitUntil), u.WaitEvent, utcPtr(u.NextDueAt), u.Error, now,
			u.Finished, now, u.RunID, u.ExpectSequence)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("advancing run: run %s is no longer at step %d: %w", u.RunID, u.ExpectSequence, ErrConflict))
		}
		if err := insertStepsLite(tx, u.RunID, u.Ledger); err != nil {
			return err
		}
		if u.Outbox != nil {
			if err := insertOutboxLite(tx, *u.Outbox, u.RunID, u.Outbox.Sequence, now); err != nil {
				return err
			}
		}
		if u.NewDelivery != nil {
			if err := insertDeliveryLite(tx, s.newDeliveryRow(*u.NewDelivery, now)); err != nil {
				return err
			}
		}
		if d := u.Delivery; d != nil {
			if _, err := tx.Exec(`UPDATE deliveries SET status = ?, provider_id = ?, error = ?, updated_at = ?,
				attempts = CASE WHEN ? > 0 THEN ? ELSE attempts END WHERE id = ?`,
				d.Status, d.ProviderID, d.Error, now, d.Attempts, d.Attempts, d.ID); err != nil {
				return err
			}
		}
		if u.Finished {
			if _, err := tx.Exec(`UPDATE journey_profiles SET active_run_id = '' WHERE journey_id = ? AND profile_id = ? AND active_run_id = ?`,
				u.JourneyID, u.ProfileID, u.RunID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		if isUniqueViolation(err) {
			// Ledger steps or the delivery's key written by another
			// attempt: the savepoint wrote nothing.
			return fmt.Errorf("advancing run %s: %w", u.RunID, ErrConflict)
		}
		return dbErr(err, "advancing run")
	}
	return nil
}

// createStepDeliveryLite is CreateStepDelivery on SQLite: the delivery is
// written only if the run is still at its sequence, neither finished nor
// paused, and no delivery holds the key; the run becomes active until
// lease in the same savepoint.
func (s *Store) createStepDeliveryLite(ctx context.Context, row deliveryRow, lease any) error {
	return s.lite.do(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status = 'active', next_due_at = ?, updated_at = ?
			WHERE id = ? AND sequence = ? AND status NOT IN ('completed', 'exited', 'failed', 'paused')
				AND NOT EXISTS (SELECT 1 FROM deliveries WHERE idempotency_key = ?)`, lease, row.CreatedAt, row.RunID, row.Sequence, row.IdempotencyKey)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("creating delivery %s: the run moved on or the key is taken: %w", row.IdempotencyKey, ErrConflict))
		}
		return insertDeliveryLite(tx, row)
	})
}

// enterRunLite is EnterRun on SQLite without a total entry limit, in the
// next group commit: the entry rules are one upsert of journey_profiles
// (as enterWebhookLite applies them), and the run, the ledger of its
// instant steps and its outbox item are written only if it let the run
// in. A refusal says why, as the other paths do.
func (s *Store) enterRunLite(ctx context.Context, row runRow, p EntryPolicy, first OutboxItem, steps []RunStep) (Run, error) {
	now := row.UpdatedAt
	reentry, since, queue := entryArgs(p, first, now)
	var entered int64
	err := s.lite.do(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO journey_profiles (journey_id, profile_id, entries, active_run_id, last_entered_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (journey_id, profile_id) DO UPDATE SET entries = entries + 1, active_run_id = excluded.active_run_id,
				last_entered_at = excluded.last_entered_at
			WHERE (?5 <> 'never' OR entries = 0) AND (?5 <> 'after_exit' OR active_run_id = '')
				AND (?6 IS NULL OR last_entered_at IS NULL OR last_entered_at <= ?6) AND (?7 = 0 OR entries < ?7)`,
			row.JourneyID, row.ProfileID, activeRunID(row), now, reentry, since, p.PerProfileLimit)
		if err != nil {
			return err
		}
		if entered, err = res.RowsAffected(); err != nil || entered == 0 {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, current_node, sequence, steps, wait_until,
			wait_event, entry_event, state, error, entered_at, updated_at, finished_at, next_due_at) VALUES `+liteValues(1, 18),
			row.ID, row.WorkspaceID, row.JourneyID, row.Version, row.ProfileID, row.Status, row.CurrentNode, row.Sequence, row.Steps, row.WaitUntil,
			row.WaitEvent, row.EntryEvent, row.State, row.Error, row.EnteredAt, now, row.FinishedAt, row.NextDueAt); err != nil {
			return err
		}
		if err := insertStepsLite(tx, row.ID, steps); err != nil {
			return err
		}
		if row.NextDueAt == nil {
			return nil // finished by its instant steps: no task
		}
		o := first
		o.Queue = queue
		return insertOutboxLite(tx, o, row.ID, row.Sequence, now)
	})
	if err != nil {
		return Run{}, dbErr(err, "entering run")
	}
	if entered == 0 {
		err := s.refusal(s.db.WithContext(ctx), Run{JourneyID: row.JourneyID, ProfileID: row.ProfileID}, p, now)
		var refused *EntryRefusedError
		if errors.As(err, &refused) {
			return Run{}, refused
		}
		return Run{}, dbErr(err, "entering run")
	}
	return row.domain(), nil
}
