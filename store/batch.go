package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Group commit (PostgreSQL). Every run entry, step and delivery record is a
// durable commit, and at a few hundred runs a second the database spends its
// time flushing the WAL: backends queue on WALWriteLock while one of them
// fsyncs (measured; see docs/performance.md). The committer gathers the
// one-statement writes of concurrent callers (batch_pg.go) and sends them as
// ONE pipelined batch — one round trip, one transaction, one WAL flush —
// and each caller waits for that commit before it gets its own result. So
// "committed before the caller goes on" holds exactly as before (a delivery
// row is durable before the connector is called).
//
// Each statement decides for itself whether it applies (the run's expected
// sequence, the entry rules, the delivery's idempotency key) and reports a
// row count: one caller's conflict is its own 0, not an error, and does not
// touch the others. A statement that does fail (a constraint, a bad value)
// aborts the batch's transaction; then every statement of the batch is run
// again on its own, so only the failing caller sees an error. An error that
// may have come after the commit (see rolledBack) goes to every caller.

type groupOp struct {
	sql  string
	args []any
	dest []any // where the statement's one row goes; nil: n
	n    int64
	err  error
	done chan struct{}
}

type committer struct {
	db      *sql.DB
	ops     chan *groupOp
	max     int
	stop    chan struct{}
	stopped sync.WaitGroup
	// mu guards closed: a caller queues its op under the read lock, so
	// none can queue once close has taken the write lock.
	mu     sync.RWMutex
	closed bool
	// aborted counts batches whose transaction a statement aborted.
	aborted atomic.Int64
}

// groupCommitWorkers is how many batches may be in flight at once; while
// they wait for their flush, the next callers gather into new batches.
const (
	groupCommitWorkers = 4
	groupCommitMax     = 64
)

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, ops: make(chan *groupOp, 1024), max: groupCommitMax, stop: make(chan struct{})}
	for i := 0; i < groupCommitWorkers; i++ {
		c.stopped.Add(1)
		go c.loop()
	}
	return c
}

func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.stopped.Wait()
}

var errStoreClosed = errors.New("the store is closed")

// exec runs one statement in the next group commit and returns the integer
// it selects (a row count). Once queued, the caller waits for the commit
// even if ctx ends meanwhile: a caller must never take a committed write
// for a failed one.
func (c *committer) exec(ctx context.Context, query string, args ...any) (int64, error) {
	op := &groupOp{sql: query, args: args, done: make(chan struct{})}
	err := c.do(ctx, op)
	return op.n, err
}

// queryRow is exec for a statement whose one row goes into dest.
func (c *committer) queryRow(ctx context.Context, dest []any, query string, args ...any) error {
	return c.do(ctx, &groupOp{sql: query, args: args, dest: dest, done: make(chan struct{})})
}

func (c *committer) do(ctx context.Context, op *groupOp) error {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errStoreClosed
	}
	// The loops run until close, which waits for this read lock: the op
	// is either answered by a batch or by a loop's drain at close.
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

func (c *committer) loop() {
	defer c.stopped.Done()
	batch := make([]*groupOp, 0, c.max)
	for {
		select {
		case <-c.stop:
			// Callers still queued get an answer.
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

func (c *committer) run(batch []*groupOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.send(ctx, batch)
	if notSent(err) {
		// Nothing reached the server (no connection from the pool, a
		// refused connect): the batch certainly did not commit, so one
		// more try is safe, instead of failing every caller with an
		// error they must treat as ambiguous.
		time.Sleep(100 * time.Millisecond)
		err = c.send(ctx, batch)
	}
	if errors.As(err, new(*pgconn.PgError)) {
		c.aborted.Add(1)
	}
	if rolledBack(err) && len(batch) > 1 {
		// The server refused a statement, so the batch's transaction
		// rolled back: run each statement alone, so only the one that
		// fails reports it. Any other error may have come after the
		// commit: it goes to every caller as is, like any ambiguous
		// commit.
		for _, op := range batch {
			op.err = c.send(ctx, []*groupOp{op})
		}
	} else {
		for _, op := range batch {
			op.err = err
		}
	}
	for _, op := range batch {
		close(op.done)
	}
}

// rolledBack reports whether a batch's error certainly means its
// transaction did not commit: a statement the server refused with an
// ERROR. A FATAL or PANIC (the backend is going away: an immediate
// shutdown, an administrator's terminate) or a connection or operator
// class (08, 57) may arrive after the commit record was flushed; so may
// anything that is not the server's answer (a lost connection). Running
// those statements again could apply them twice (enter a second run,
// mark a delivery that went out as never sent).
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	severity := pgErr.SeverityUnlocalized
	if severity == "" {
		severity = pgErr.Severity
	}
	if severity != "ERROR" {
		return false
	}
	switch class := pgErr.Code[:min(2, len(pgErr.Code))]; class {
	case "08", "57", "":
		return false
	}
	return true
}

// errNoConn marks send's failure to get a connection: nothing was sent.
var errNoConn = errors.New("no database connection")

// notSent reports whether a batch's error certainly came before anything
// reached the server: no connection, or an error pgx marks safe to retry
// (it wrote nothing to the wire).
func notSent(err error) bool {
	return err != nil && (errors.Is(err, errNoConn) || pgconn.SafeToRetry(err))
}

// send runs ops as one pipelined batch: PostgreSQL runs the statements up
// to the batch's single Sync as one implicit transaction.
func (c *committer) send(ctx context.Context, ops []*groupOp) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoConn, err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("group commit needs the pgx driver, not %T", dc)
		}
		b := &pgx.Batch{}
		for _, op := range ops {
			b.Queue(op.sql, op.args...)
		}
		br := sc.Conn().SendBatch(ctx, b)
		var first error
		for _, op := range ops {
			dest := op.dest
			if dest == nil {
				dest = []any{&op.n}
			}
			if err := br.QueryRow().Scan(dest...); err != nil && first == nil {
				first = err
			}
		}
		if err := br.Close(); err != nil && first == nil {
			first = err
		}
		return first
	})
}
