package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The engine's hot paths on PostgreSQL, each written as ONE statement:
// data-modifying CTEs keyed on the conditional update (or upsert) that
// decides whether anything happens. A single statement is its own
// transaction, so what used to be BEGIN + four or five statements + COMMIT
// (six round trips through gorm) is one round trip, with the same
// all-or-nothing outcome and the same guards: the run's expected sequence,
// the entry rules under the journey_profiles row lock. SQLite keeps the
// gorm transactions (no network, one connection). docs/performance.md
// explains the measurements behind this.

// advanceRunSQL applies a RunUpdate without profile changes or conversion.
// Every sub-statement runs only if the run was still at the expected
// sequence (EXISTS (SELECT 1 FROM u)); the row count of u is the answer.
const advanceRunSQL = `WITH u AS (
	UPDATE runs SET status = $2, current_node = $3, sequence = $4, steps = $5, port = $6, wait_until = $7,
		wait_event = $8, next_due_at = $9, error = $10, updated_at = $11,
		finished_at = CASE WHEN $12::boolean THEN $11 ELSE finished_at END
	WHERE id = $1 AND sequence = $13 AND status NOT IN ('completed', 'exited', 'failed')
	RETURNING id
), st AS (
	INSERT INTO run_steps (run_id, sequence, node_id, kind, port, outcome, detail, started_at, finished_at)
	SELECT $1, s.seq, s.node, s.kind, s.port, s.outcome, s.detail::jsonb, s.st, s.fin
	FROM unnest($14::int[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::timestamptz[], $21::timestamptz[])
		AS s(seq, node, kind, port, outcome, detail, st, fin)
	WHERE EXISTS (SELECT 1 FROM u)
), ob AS (
	INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at, visible_at)
	SELECT $1, $22, $23, $24, $25, $11, $55::timestamptz WHERE $26::boolean AND EXISTS (SELECT 1 FROM u)
	ON CONFLICT DO NOTHING
), dl AS (
	UPDATE deliveries SET status = $27, provider_id = $28, error = $29, updated_at = $11,
		attempts = CASE WHEN $30::int > 0 THEN $30::int ELSE attempts END
	WHERE $31::boolean AND id = $32 AND EXISTS (SELECT 1 FROM u)
), rel AS (
	UPDATE journey_profiles SET active_run_id = ''
	WHERE $12::boolean AND journey_id = $33 AND profile_id = $34 AND active_run_id = $1 AND EXISTS (SELECT 1 FROM u)
), dn AS (
	INSERT INTO deliveries (id, workspace_id, run_id, sequence, node_id, profile_id, idempotency_key, connector, connector_id, channel,
		recipient, subject, body, payload, status, provider_id, error, attempts, is_test, created_at, updated_at)
	SELECT $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49::jsonb, $50, $51, $52, $53, $54, $11, $11
	WHERE $35::boolean AND EXISTS (SELECT 1 FROM u)
)
SELECT count(*) FROM u`

// fastAdvance reports whether u can take the one-statement path (on
// SQLite: plain statements in a group commit, batch_sqlite.go).
func (s *Store) fastAdvance(u RunUpdate) bool {
	return (s.group != nil || s.lite != nil) && len(u.ProfileAttributes) == 0 && len(u.ProfileFields) == 0 && u.Conversion == nil
}

// ledgerArrays are ledger steps as the parallel arrays the one-statement
// writes unnest into run_steps (their SQL text stays fixed, so it stays
// prepared, however many steps there are).
type ledgerArrays struct {
	seqs                                   []int32
	nodes, kinds, ports, outcomes, details []string
	starts, ends                           []time.Time
}

func newLedgerArrays(steps []RunStep) (ledgerArrays, error) {
	n := len(steps)
	a := ledgerArrays{seqs: make([]int32, n), nodes: make([]string, n), kinds: make([]string, n), ports: make([]string, n),
		outcomes: make([]string, n), details: make([]string, n), starts: make([]time.Time, n), ends: make([]time.Time, n)}
	for i, st := range steps {
		d, err := encodeObject(st.Detail)
		if err != nil {
			return ledgerArrays{}, err
		}
		a.seqs[i], a.nodes[i], a.kinds[i], a.ports[i], a.outcomes[i], a.details[i] = int32(st.Sequence), st.NodeID, st.Kind, st.Port, st.Outcome, d
		a.starts[i], a.ends[i] = st.StartedAt.UTC(), st.FinishedAt.UTC()
	}
	return a, nil
}

func (s *Store) advanceRunPG(ctx context.Context, u RunUpdate, now time.Time) error {
	l, err := newLedgerArrays(u.Ledger)
	if err != nil {
		return err
	}
	var (
		hasOutbox                bool
		oSeq                     int
		oType, oQueue            string
		oAt                      = now
		oVisible                 *time.Time
		hasDelivery              bool
		dStatus, dProvider, dErr string
		dAttempts                int
		dID                      string
	)
	if o := u.Outbox; o != nil {
		hasOutbox, oSeq, oType, oQueue, oAt, oVisible = true, o.Sequence, o.TaskType, o.Queue, o.ProcessAt.UTC(), visibleAt(*o)
		if oQueue == "" {
			oQueue = "default"
		}
	}
	if d := u.Delivery; d != nil {
		hasDelivery, dID, dStatus, dProvider, dErr, dAttempts = true, d.ID, d.Status, d.ProviderID, d.Error, d.Attempts
	}
	nd := deliveryRow{Payload: "{}"}
	if u.NewDelivery != nil {
		nd = s.newDeliveryRow(*u.NewDelivery, now)
	}
	applied, err := s.group.exec(ctx, advanceRunSQL,
		u.RunID, u.Status, u.CurrentNode, u.Sequence, u.Steps, u.Port, utcPtr(u.WaitUntil),
		u.WaitEvent, utcPtr(u.NextDueAt), u.Error, now, u.Finished, u.ExpectSequence,
		l.seqs, l.nodes, l.kinds, l.ports, l.outcomes, l.details, l.starts, l.ends,
		oSeq, oType, oQueue, oAt, hasOutbox,
		dStatus, dProvider, dErr, dAttempts, hasDelivery, dID,
		u.JourneyID, u.ProfileID,
		u.NewDelivery != nil, nd.ID, nd.WorkspaceID, nd.RunID, nd.Sequence, nd.NodeID, nd.ProfileID, nd.IdempotencyKey,
		nd.Connector, nd.ConnectorID, nd.Channel, nd.Recipient, nd.Subject, nd.Body, nd.Payload, nd.Status, nd.ProviderID, nd.Error, nd.Attempts, nd.IsTest,
		oVisible,
	)
	if err != nil {
		if isUniqueViolation(err) {
			// Ledger steps or the delivery's key written by another
			// attempt: the statement wrote nothing.
			return fmt.Errorf("advancing run %s: %w", u.RunID, ErrConflict)
		}
		return dbErr(err, "advancing run")
	}
	if applied == 0 {
		return fmt.Errorf("advancing run: run %s is no longer at step %d: %w", u.RunID, u.ExpectSequence, ErrConflict)
	}
	return nil
}

// enterRunSQL is EnterRun without a total entry limit: the journey_profiles
// upsert applies the entry rules to the existing row under its lock (a new
// row always passes), and the run, the ledger of the instant steps walked
// before the commit and the run's outbox item (none when those steps
// finished it) are written only if it did.
const enterRunSQL = `WITH jp AS (
	INSERT INTO journey_profiles AS j (journey_id, profile_id, entries, active_run_id, last_entered_at)
	VALUES ($1, $2, 1, $17, $4)
	ON CONFLICT (journey_id, profile_id) DO UPDATE SET entries = j.entries + 1, active_run_id = $17, last_entered_at = $4
	WHERE ($5 <> 'never' OR j.entries = 0)
		AND ($5 <> 'after_exit' OR j.active_run_id = '')
		AND ($6::timestamptz IS NULL OR j.last_entered_at IS NULL OR j.last_entered_at <= $6)
		AND ($7::int = 0 OR j.entries < $7::int)
	RETURNING 1
), r AS (
	INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, current_node, sequence, steps, wait_until, wait_event,
		entry_event, state, error, entered_at, updated_at, finished_at, next_due_at)
	SELECT $3, $8, $1, $9, $2, $18, $10, $19, $20, $21, $22, $11::jsonb, $12::jsonb, $23, $13, $4, $24, $14
	WHERE EXISTS (SELECT 1 FROM jp)
), st AS (
	INSERT INTO run_steps (run_id, sequence, node_id, kind, port, outcome, detail, started_at, finished_at)
	SELECT $3, s.seq, s.node, s.kind, s.port, s.outcome, s.detail::jsonb, s.st, s.fin
	FROM unnest($25::int[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::timestamptz[], $32::timestamptz[])
		AS s(seq, node, kind, port, outcome, detail, st, fin)
	WHERE EXISTS (SELECT 1 FROM jp)
), ob AS (
	INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at, visible_at)
	SELECT $3, $19, $15, $16, $33, $4, $34::timestamptz WHERE $14::timestamptz IS NOT NULL AND EXISTS (SELECT 1 FROM jp)
	ON CONFLICT DO NOTHING
)
SELECT count(*) FROM jp`

func (s *Store) fastEnter(p EntryPolicy) bool {
	return s.group != nil && p.TotalLimit <= 0
}

// entryArgs are the entry-rule parameters of the one-statement entries
// (enterRunSQL, enterRunsSQL, enterWebhookSQL): the re-entry rule (default
// "never"), the earliest last entry that still allows a new one (nil: no
// minimum interval) and the first task's queue.
func entryArgs(p EntryPolicy, first OutboxItem, now time.Time) (reentry string, since *time.Time, queue string) {
	reentry, queue = p.Reentry, first.Queue
	if reentry == "" {
		reentry = "never"
	}
	if queue == "" {
		queue = "default"
	}
	if p.MinInterval > 0 {
		t := now.Add(-p.MinInterval)
		since = &t
	}
	return reentry, since, queue
}

// enterRunPG runs enterRunSQL in the next group commit and reports
// whether the entry rules let the run in.
func (s *Store) enterRunPG(ctx context.Context, row runRow, p EntryPolicy, first OutboxItem, steps []RunStep) (bool, error) {
	l, err := newLedgerArrays(steps)
	if err != nil {
		return false, err
	}
	reentry, since, queue := entryArgs(p, first, row.UpdatedAt)
	n, err := s.group.exec(ctx, enterRunSQL,
		row.JourneyID, row.ProfileID, row.ID, row.UpdatedAt, reentry, since, p.PerProfileLimit,
		row.WorkspaceID, row.Version, row.CurrentNode, row.EntryEvent, row.State, row.EnteredAt, row.NextDueAt,
		first.TaskType, queue, activeRunID(row),
		row.Status, row.Sequence, row.Steps, row.WaitUntil, row.WaitEvent, row.Error, row.FinishedAt,
		l.seqs, l.nodes, l.kinds, l.ports, l.outcomes, l.details, l.starts, l.ends,
		first.ProcessAt.UTC(), visibleAt(first),
	)
	return n > 0, err
}

// enterRunFast is EnterRun's one-statement path; a refusal costs one more
// read to say why.
func (s *Store) enterRunFast(ctx context.Context, row runRow, p EntryPolicy, first OutboxItem, steps []RunStep) (Run, error) {
	ok, err := s.enterRunPG(ctx, row, p, first, steps)
	if err != nil {
		return Run{}, dbErr(err, "entering run")
	}
	if !ok {
		err := s.refusal(s.db.WithContext(ctx), Run{JourneyID: row.JourneyID, ProfileID: row.ProfileID}, p, row.UpdatedAt)
		var refused *EntryRefusedError
		if errors.As(err, &refused) {
			return Run{}, refused
		}
		return Run{}, dbErr(err, "entering run")
	}
	return row.domain(), nil
}

// StepContext is what one engine task needs to run a step: the run, its
// profile and, when the step has one already, the delivery of this step
// (an earlier attempt's).
type StepContext struct {
	Run      Run
	Profile  Profile
	Delivery *Delivery
}

const loadStepSQL = `SELECT r.id, r.workspace_id, r.journey_id, r.version, r.profile_id, r.status, r.current_node, r.sequence, r.steps, r.port,
	r.wait_until, r.wait_event, r.entry_event, r.state, r.error, r.entered_at, r.updated_at, r.finished_at, r.next_due_at,
	r.converted_at, r.conversion_value, r.conversion_path,
	p.id, p.workspace_id, p.external_id, p.email, p.phone, p.timezone, p.locale, p.attributes, p.consent, p.created_at, p.updated_at, p.erased_at,
	(SELECT d.id FROM deliveries d WHERE d.idempotency_key = $2)
FROM runs r JOIN profiles p ON p.id = r.profile_id WHERE r.id = $1`

// LoadStep returns a run with its profile and the delivery recorded under
// deliveryKey (nil when there is none), in one query. A missing run or
// profile is ErrNotFound.
func (s *Store) LoadStep(ctx context.Context, runID, deliveryKey string) (StepContext, error) {
	if s.dialect == DialectSQLite {
		// One connection, no network: the statement finishes in
		// microseconds, and the driver would start a goroutine per
		// statement to watch a cancellable context.
		ctx = context.WithoutCancel(ctx)
	}
	var r runRow
	var p profileRow
	var did sql.NullString
	err := s.sqlDB.QueryRowContext(ctx, loadStepSQL, runID, deliveryKey).Scan(
		&r.ID, &r.WorkspaceID, &r.JourneyID, &r.Version, &r.ProfileID, &r.Status, &r.CurrentNode, &r.Sequence, &r.Steps, &r.Port,
		&r.WaitUntil, &r.WaitEvent, &r.EntryEvent, &r.State, &r.Error, &r.EnteredAt, &r.UpdatedAt, &r.FinishedAt, &r.NextDueAt,
		&r.ConvertedAt, &r.ConversionValue, &r.ConversionPath,
		&p.ID, &p.WorkspaceID, &p.ExternalID, &p.Email, &p.Phone, &p.Timezone, &p.Locale, &p.Attributes, &p.Consent, &p.CreatedAt, &p.UpdatedAt, &p.ErasedAt,
		&did)
	if err != nil {
		return StepContext{}, dbErr(err, "loading run "+runID)
	}
	out := StepContext{Run: r.domain(), Profile: p.domain()}
	if did.Valid {
		// Only retries get here: read the whole delivery.
		d, err := s.GetDeliveryByKey(ctx, deliveryKey)
		if err != nil {
			return StepContext{}, err
		}
		out.Delivery = &d
	}
	return out, nil
}

const createDeliverySQL = `WITH i AS (
	INSERT INTO deliveries (id, workspace_id, run_id, sequence, node_id, profile_id, idempotency_key, connector, connector_id, channel,
		recipient, subject, body, payload, status, provider_id, error, attempts, is_test, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19, $20, $20)
	ON CONFLICT DO NOTHING
	RETURNING 1
)
SELECT count(*) FROM i`

// createStepDeliverySQL is createDeliverySQL behind the claim of the run
// (see CreateStepDelivery): the delivery is written only if the run is
// still at its sequence, neither finished nor paused, and no delivery holds
// the key; the run becomes active until $21 in the same statement, unless
// it is active and leased until $22 or later already (an entry's first task
// run in process, whose entry leased the run for the send): then the row
// is only locked, as the update would have locked it, and not rewritten —
// an update of runs is never HOT (status and next_due_at are indexed), so
// it would add an entry to every index of runs.
const createStepDeliverySQL = `WITH c AS (
	SELECT id, (status <> 'active' OR next_due_at IS NULL OR next_due_at < $22) AS bump FROM runs
	WHERE id = $3 AND sequence = $4 AND status NOT IN ('completed', 'exited', 'failed', 'paused')
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE idempotency_key = $7)
	FOR NO KEY UPDATE
), u AS (
	UPDATE runs SET status = 'active', next_due_at = $21, updated_at = $20
	FROM c WHERE runs.id = c.id AND c.bump
), i AS (
	INSERT INTO deliveries (id, workspace_id, run_id, sequence, node_id, profile_id, idempotency_key, connector, connector_id, channel,
		recipient, subject, body, payload, status, provider_id, error, attempts, is_test, created_at, updated_at)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19, $20, $20 FROM c
	ON CONFLICT DO NOTHING
	RETURNING 1
)
SELECT count(*) FROM i`

// createDeliveryPG is CreateDelivery in the next group commit; a reused
// key (or id) is ErrConflict.
func (s *Store) createDeliveryPG(ctx context.Context, r deliveryRow) error {
	n, err := s.group.exec(ctx, createDeliverySQL, r.ID, r.WorkspaceID, r.RunID, r.Sequence, r.NodeID, r.ProfileID, r.IdempotencyKey,
		r.Connector, r.ConnectorID, r.Channel, r.Recipient, r.Subject, r.Body, r.Payload, r.Status, r.ProviderID, r.Error, r.Attempts,
		r.IsTest, r.CreatedAt)
	if err != nil {
		return dbErr(err, "creating delivery")
	}
	if n == 0 {
		return fmt.Errorf("creating delivery: idempotency key %s is taken: %w", r.IdempotencyKey, ErrConflict)
	}
	return nil
}

// enterRunsSQL is enterRunSQL for a page of profiles entering one journey
// through one trigger: the entry rules are applied per profile by the same
// upsert (rows locked in profile id order, so concurrent pages cannot
// deadlock), and the runs and outbox items of those let in are written by
// the same statement. It returns the runs that entered.
const enterRunsSQL = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[]) AS i(run_id, profile_id) ORDER BY profile_id
), jp AS (
	INSERT INTO journey_profiles AS j (journey_id, profile_id, entries, active_run_id, last_entered_at)
	SELECT $3, profile_id, 1, run_id, $4 FROM input
	ON CONFLICT (journey_id, profile_id) DO UPDATE SET entries = j.entries + 1, active_run_id = EXCLUDED.active_run_id,
		last_entered_at = EXCLUDED.last_entered_at
	WHERE ($5 <> 'never' OR j.entries = 0)
		AND ($5 <> 'after_exit' OR j.active_run_id = '')
		AND ($6::timestamptz IS NULL OR j.last_entered_at IS NULL OR j.last_entered_at <= $6)
		AND ($7::int = 0 OR j.entries < $7::int)
	RETURNING j.active_run_id AS run_id, j.profile_id
), r AS (
	INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, current_node, sequence, steps, entry_event, state, entered_at, updated_at, next_due_at)
	SELECT jp.run_id, $8, $3, $9, jp.profile_id, 'active', $10, 1, 0, $11::jsonb, '{}'::jsonb, $12, $4, $13 FROM jp
), ob AS (
	INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at)
	SELECT jp.run_id, 1, $14, $15, $13, $4 FROM jp
	ON CONFLICT DO NOTHING
)
SELECT run_id, profile_id FROM jp`

// EntryBatch is a page of profiles entering one journey version through
// one trigger with one entry event.
type EntryBatch struct {
	WorkspaceID string
	JourneyID   string
	Version     int
	TriggerNode string
	EntryEvent  []byte
	EnteredAt   time.Time
	ProfileIDs  []string
	Policy      EntryPolicy
	First       OutboxItem // the first task (RunID and Sequence are set per run)
}

// EnterRuns enters a page of profiles, applying the entry rules to each as
// EnterRun does, and returns the runs that entered (each with its outbox
// item committed); the others were refused. On PostgreSQL without a total
// entry limit the page is one statement; otherwise each profile is its own
// EnterRun.
func (s *Store) EnterRuns(ctx context.Context, b EntryBatch) ([]Run, error) {
	now := s.nowUTC()
	entered := b.EnteredAt.UTC()
	if b.EnteredAt.IsZero() {
		entered = now
	}
	entry := string(b.EntryEvent)
	if entry == "" {
		entry = "{}"
	}
	seen := make(map[string]bool, len(b.ProfileIDs))
	ids, profiles := make([]string, 0, len(b.ProfileIDs)), make([]string, 0, len(b.ProfileIDs))
	for _, p := range b.ProfileIDs {
		if !seen[p] {
			seen[p] = true
			ids, profiles = append(ids, NewID()), append(profiles, p)
		}
	}
	run := func(id, profileID string) Run {
		due := b.First.ProcessAt
		return Run{ID: id, WorkspaceID: b.WorkspaceID, JourneyID: b.JourneyID, Version: b.Version, ProfileID: profileID, Status: RunActive,
			CurrentNode: b.TriggerNode, Sequence: 1, EntryEvent: []byte(entry), State: map[string]any{}, EnteredAt: entered, UpdatedAt: now, NextDueAt: &due}
	}
	if !s.fastEnter(b.Policy) {
		var out []Run
		for i, p := range profiles {
			r, err := s.EnterRun(ctx, Run{ID: ids[i], WorkspaceID: b.WorkspaceID, JourneyID: b.JourneyID, Version: b.Version, ProfileID: p,
				CurrentNode: b.TriggerNode, EntryEvent: []byte(entry), EnteredAt: entered}, b.Policy, b.First)
			var refused *EntryRefusedError
			switch {
			case errors.As(err, &refused):
			case err != nil:
				return out, err
			default:
				out = append(out, r)
			}
		}
		return out, nil
	}
	reentry, since, queue := entryArgs(b.Policy, b.First, now)
	rows, err := s.sqlDB.QueryContext(ctx, enterRunsSQL, ids, profiles, b.JourneyID, now, reentry, since, b.Policy.PerProfileLimit,
		b.WorkspaceID, b.Version, b.TriggerNode, entry, entered, b.First.ProcessAt.UTC(), b.First.TaskType, queue)
	if err != nil {
		return nil, dbErr(err, "entering runs")
	}
	defer rows.Close()
	out := make([]Run, 0, len(ids))
	for rows.Next() {
		var id, profileID string
		if err := rows.Scan(&id, &profileID); err != nil {
			return nil, dbErr(err, "entering runs")
		}
		out = append(out, run(id, profileID))
	}
	return out, dbErr(rows.Err(), "entering runs")
}

// BatchesEntries reports whether EnterRuns enters a page in one statement
// under this policy (else callers do better entering profiles concurrently).
func (s *Store) BatchesEntries(p EntryPolicy) bool { return s.fastEnter(p) }

// deleteOutboxKeysPG deletes outbox items by key with three array
// parameters: a thousand keys as one small statement instead of a
// three-thousand-parameter IN list.
func (s *Store) deleteOutboxKeysPG(ctx context.Context, keys []OutboxKey) error {
	runs, seqs, types := make([]string, len(keys)), make([]int32, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		runs[i], seqs[i], types[i] = k.RunID, int32(k.Sequence), k.TaskType
	}
	_, err := s.sqlDB.ExecContext(ctx, `DELETE FROM outbox o USING unnest($1::text[], $2::int[], $3::text[]) AS k(run_id, sequence, task_type)
		WHERE o.run_id = k.run_id AND o.sequence = k.sequence AND o.task_type = k.task_type`, runs, seqs, types)
	return dbErr(err, "deleting outbox items")
}
