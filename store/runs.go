package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Run statuses. A run is "live" while active, waiting, waiting_event or
// paused; the others are final.
const (
	RunActive       = "active"        // a task is due now (next_due_at)
	RunWaiting      = "waiting"       // a delay or deferral: a task is due at next_due_at
	RunWaitingEvent = "waiting_event" // parked until an event or the timeout at next_due_at
	RunPaused       = "paused"        // the journey is paused; resumed runs get their task again
	RunCompleted    = "completed"
	RunExited       = "exited"
	RunFailed       = "failed"
)

// LiveRunStatuses are the statuses of runs that have not finished.
var LiveRunStatuses = []string{RunActive, RunWaiting, RunWaitingEvent, RunPaused}

// Run is one profile's trip through one journey version.
type Run struct {
	ID              string
	WorkspaceID     string
	JourneyID       string
	Version         int
	ProfileID       string
	Status          string
	CurrentNode     string
	Sequence        int // the ledger sequence the next step gets
	Steps           int // steps taken, for the step budget
	Port            string
	WaitUntil       *time.Time
	WaitEvent       string
	EntryEvent      json.RawMessage
	State           map[string]any
	Error           string
	EnteredAt       time.Time
	UpdatedAt       time.Time
	FinishedAt      *time.Time
	NextDueAt       *time.Time
	ConvertedAt     *time.Time
	ConversionValue float64
	ConversionPath  string
}

// Final reports whether the run has ended.
func (r Run) Final() bool {
	return r.Status == RunCompleted || r.Status == RunExited || r.Status == RunFailed
}

type runRow struct {
	ID              string
	WorkspaceID     string
	JourneyID       string
	Version         int
	ProfileID       string
	Status          string
	CurrentNode     string
	Sequence        int
	Steps           int
	Port            string
	WaitUntil       *time.Time
	WaitEvent       string
	EntryEvent      string
	State           string
	Error           string
	EnteredAt       time.Time
	UpdatedAt       time.Time
	FinishedAt      *time.Time
	NextDueAt       *time.Time
	ConvertedAt     *time.Time
	ConversionValue float64
	ConversionPath  string
}

func (runRow) TableName() string { return "runs" }

func (r runRow) domain() Run {
	return Run{
		ID: r.ID, WorkspaceID: r.WorkspaceID, JourneyID: r.JourneyID, Version: r.Version, ProfileID: r.ProfileID,
		Status: r.Status, CurrentNode: r.CurrentNode, Sequence: r.Sequence, Steps: r.Steps, Port: r.Port,
		WaitUntil: r.WaitUntil, WaitEvent: r.WaitEvent, EntryEvent: json.RawMessage(r.EntryEvent), State: decodeObject(r.State),
		Error: r.Error, EnteredAt: r.EnteredAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt, NextDueAt: r.NextDueAt,
		ConvertedAt: r.ConvertedAt, ConversionValue: r.ConversionValue, ConversionPath: r.ConversionPath,
	}
}

// RunStep is one executed node in a run's ledger, unique on (run, sequence).
type RunStep struct {
	RunID      string
	Sequence   int
	NodeID     string
	Kind       string
	Port       string
	Outcome    string
	Detail     map[string]any
	StartedAt  time.Time
	FinishedAt time.Time
}

type runStepRow struct {
	RunID      string `gorm:"primaryKey"`
	Sequence   int    `gorm:"primaryKey;autoIncrement:false"`
	NodeID     string
	Kind       string
	Port       string
	Outcome    string
	Detail     string
	StartedAt  time.Time
	FinishedAt time.Time
}

func (runStepRow) TableName() string { return "run_steps" }

// OutboxItem asks the relay to enqueue a run's task; it is written in the
// same transaction as the state that needs the task.
type OutboxItem struct {
	ID        int64
	RunID     string
	Sequence  int
	TaskType  string
	Queue     string
	ProcessAt time.Time
	// VisibleAt keeps the item from the relay until then (zero: at once):
	// the safety net of a step whose own attempt is still running.
	VisibleAt time.Time
	CreatedAt time.Time
}

type outboxRow struct {
	ID         int64 `gorm:"primaryKey"`
	RunID      string
	Sequence   int
	TaskType   string
	Queue      string
	ProcessAt  time.Time
	CreatedAt  time.Time
	EnqueuedAt *time.Time
	VisibleAt  *time.Time
}

func (outboxRow) TableName() string { return "outbox" }

// EntryPolicy is a journey's entry rules, enforced atomically by EnterRun.
type EntryPolicy struct {
	Reentry         string // never, after_exit, always
	MinInterval     time.Duration
	PerProfileLimit int // 0: unlimited
	TotalLimit      int // 0: unlimited
}

// EntryRefusedError says why a profile may not enter.
type EntryRefusedError struct{ Reason string }

func (e *EntryRefusedError) Error() string { return "entry refused: " + e.Reason }

type journeyProfileRow struct {
	JourneyID     string `gorm:"primaryKey"`
	ProfileID     string `gorm:"primaryKey"`
	Entries       int
	ActiveRunID   string
	LastEnteredAt *time.Time
}

func (journeyProfileRow) TableName() string { return "journey_profiles" }

type journeyCounterRow struct {
	JourneyID string `gorm:"primaryKey"`
	Entries   int64
}

func (journeyCounterRow) TableName() string { return "journey_counters" }

// EnterRun creates a run and its first outbox item in one transaction,
// after checking the entry policy under row locks, so two concurrent
// entries of one profile cannot both pass a "never" rule.
//
// The run enters at its trigger (sequence 1, active, first due now) unless
// the caller walked its instant steps before the commit (worker: the
// condition, switch or exit nodes that follow the trigger, see
// docs/performance.md): then r carries where the walk stopped (Status,
// CurrentNode, Sequence, Steps, WaitUntil, WaitEvent, NextDueAt, Error)
// and steps its ledger, which commits with the entry. first is the task
// that takes the run on from there, at r.Sequence; a run the walk
// finished has none, and its profile's active-run slot is released in the
// same commit.
func (s *Store) EnterRun(ctx context.Context, r Run, p EntryPolicy, first OutboxItem, steps ...RunStep) (Run, error) {
	now := s.nowUTC()
	if r.ID == "" {
		r.ID = NewID()
	}
	row, err := entryRow(r, first, now)
	if err != nil {
		return Run{}, err
	}
	if s.fastEnter(p) {
		return s.enterRunFast(ctx, row, p, first, steps)
	}
	if s.lite != nil && p.TotalLimit <= 0 {
		return s.enterRunLite(ctx, row, p, first, steps)
	}
	err = s.withTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&journeyProfileRow{JourneyID: r.JourneyID, ProfileID: r.ProfileID}).Error; err != nil {
			return err
		}
		q := tx.Model(&journeyProfileRow{}).Where("journey_id = ? AND profile_id = ?", r.JourneyID, r.ProfileID)
		switch p.Reentry {
		case "never", "":
			q = q.Where("entries = 0")
		case "after_exit":
			q = q.Where("active_run_id = ''")
		}
		if p.MinInterval > 0 {
			q = q.Where("(last_entered_at IS NULL OR last_entered_at <= ?)", now.Add(-p.MinInterval))
		}
		if p.PerProfileLimit > 0 {
			q = q.Where("entries < ?", p.PerProfileLimit)
		}
		res := q.Updates(map[string]any{"entries": gorm.Expr("entries + 1"), "active_run_id": activeRunID(row), "last_entered_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return s.refusal(tx, r, p, now)
		}
		if p.TotalLimit > 0 {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&journeyCounterRow{JourneyID: r.JourneyID}).Error; err != nil {
				return err
			}
			res := tx.Model(&journeyCounterRow{}).Where("journey_id = ? AND entries < ?", r.JourneyID, p.TotalLimit).
				Update("entries", gorm.Expr("entries + 1"))
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return &EntryRefusedError{Reason: fmt.Sprintf("the journey's entry limit of %d is reached", p.TotalLimit)}
			}
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := insertSteps(tx, r.ID, steps); err != nil {
			return err
		}
		if row.NextDueAt == nil {
			return nil // finished by its instant steps: no task
		}
		first.RunID, first.Sequence = r.ID, row.Sequence
		return createOutbox(tx, first, now)
	})
	if err != nil {
		var refused *EntryRefusedError
		if errors.As(err, &refused) {
			return Run{}, refused
		}
		return Run{}, dbErr(err, "entering run")
	}
	return row.domain(), nil
}

// entryRow is the row of a run entering: at its trigger, or where the
// instant steps walked before the commit left it (see EnterRun). A run
// that is not final is due at r.NextDueAt when set, else at
// first.ProcessAt.
func entryRow(r Run, first OutboxItem, now time.Time) (runRow, error) {
	entry := string(r.EntryEvent)
	if entry == "" {
		entry = "{}"
	}
	state, err := encodeObject(r.State)
	if err != nil {
		return runRow{}, err
	}
	row := runRow{
		ID: r.ID, WorkspaceID: r.WorkspaceID, JourneyID: r.JourneyID, Version: r.Version, ProfileID: r.ProfileID,
		Status: r.Status, CurrentNode: r.CurrentNode, Sequence: max(r.Sequence, 1), Steps: r.Steps, WaitEvent: r.WaitEvent,
		EntryEvent: entry, State: state, Error: r.Error, EnteredAt: now, UpdatedAt: now,
	}
	if row.Status == "" {
		row.Status = RunActive
	}
	if r.WaitUntil != nil {
		t := r.WaitUntil.UTC()
		row.WaitUntil = &t
	}
	if !r.EnteredAt.IsZero() {
		row.EnteredAt = r.EnteredAt.UTC()
	}
	switch {
	case (Run{Status: row.Status}).Final():
		row.FinishedAt = &now
	case r.NextDueAt != nil: // later than its task (a lease: the worker's localtasks.go)
		due := r.NextDueAt.UTC()
		row.NextDueAt = &due
	default:
		due := first.ProcessAt.UTC()
		row.NextDueAt = &due
	}
	return row, nil
}

// activeRunID is what an entry writes to journey_profiles.active_run_id:
// the run, or nothing when its instant steps finished it (the slot is
// taken and released in one commit).
func activeRunID(row runRow) string {
	if row.FinishedAt != nil {
		return ""
	}
	return row.ID
}

func (s *Store) refusal(tx *gorm.DB, r Run, p EntryPolicy, now time.Time) error {
	var jp journeyProfileRow
	if err := tx.Where("journey_id = ? AND profile_id = ?", r.JourneyID, r.ProfileID).Take(&jp).Error; err != nil {
		return err
	}
	switch {
	case (p.Reentry == "never" || p.Reentry == "") && jp.Entries > 0:
		return &EntryRefusedError{Reason: "the profile has already entered this journey (re-entry: never)"}
	case p.Reentry == "after_exit" && jp.ActiveRunID != "":
		return &EntryRefusedError{Reason: "the profile is still in this journey (re-entry: after exit)"}
	case p.PerProfileLimit > 0 && jp.Entries >= p.PerProfileLimit:
		return &EntryRefusedError{Reason: fmt.Sprintf("the profile has entered %d times, the limit", jp.Entries)}
	default:
		return &EntryRefusedError{Reason: "the profile entered less than the minimum re-entry interval ago"}
	}
}

func createOutbox(tx *gorm.DB, o OutboxItem, now time.Time) error {
	if o.Queue == "" {
		o.Queue = "default"
	}
	// The same (run, sequence, type) already waiting in the outbox is the same task.
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&outboxRow{RunID: o.RunID, Sequence: o.Sequence, TaskType: o.TaskType, Queue: o.Queue,
		ProcessAt: o.ProcessAt.UTC(), CreatedAt: now, VisibleAt: visibleAt(o)}).Error
}

// visibleAt is an item's visible_at column (NULL: visible at once).
func visibleAt(o OutboxItem) *time.Time {
	if o.VisibleAt.IsZero() {
		return nil
	}
	t := o.VisibleAt.UTC()
	return &t
}

// GetRun returns a run by id (engine use: tasks carry ids only).
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	var row runRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Run{}, dbErr(err, "loading run "+id)
	}
	return row.domain(), nil
}

// GetWorkspaceRun returns a workspace's run by id.
func (s *Store) GetWorkspaceRun(ctx context.Context, workspaceID, id string) (Run, error) {
	var row runRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Run{}, dbErr(err, "loading run "+id)
	}
	return row.domain(), nil
}

// RunUpdate moves a run forward: it applies only if the run is still at
// ExpectSequence and not final, so two workers (or an event and a timeout)
// racing for one step cannot both win. Everything in it commits together.
type RunUpdate struct {
	RunID          string
	JourneyID      string // with Finished: whose active-run slot to release
	ExpectSequence int

	Status      string
	CurrentNode string
	Sequence    int
	Steps       int
	Port        string
	WaitUntil   *time.Time
	WaitEvent   string
	NextDueAt   *time.Time
	Error       string
	Finished    bool // sets finished_at and releases the profile's active-run slot

	Ledger   []RunStep
	Outbox   *OutboxItem
	Delivery *DeliveryOutcome
	// NewDelivery, when set, is inserted in the same commit (the delivery
	// of the action the run now stands at, written before its connector
	// call). Its key already taken is ErrConflict, and nothing is written.
	NewDelivery *Delivery

	// ProfileID is the run's profile; ProfileAttributes merges attribute
	// changes into it and ProfileFields sets its built-in fields
	// (update_profile), recorded as a profile change of ChangeDepth made
	// by this journey and run (see ProfileChange).
	ProfileID         string
	ProfileAttributes map[string]any
	ProfileFields     map[string]string
	ChangeDepth       int

	// Conversion, when set and the run has none yet, records it.
	Conversion *Conversion
}

// DeliveryOutcome updates a delivery in the same transaction as the step.
type DeliveryOutcome struct {
	ID string
	DeliveryUpdate
}

// Conversion is a recorded goal.
type Conversion struct {
	At    time.Time
	Value float64
	Path  string
}

// AdvanceRun commits u. A run no longer at u.ExpectSequence (or final) is
// ErrConflict, and nothing is written.
func (s *Store) AdvanceRun(ctx context.Context, u RunUpdate) error {
	now := s.nowUTC()
	if s.fastAdvance(u) {
		if s.lite != nil {
			return s.advanceRunLite(ctx, u, now)
		}
		return s.advanceRunPG(ctx, u, now)
	}
	return dbErr(s.withTx(ctx, func(tx *gorm.DB) error {
		fields := map[string]any{
			"status": u.Status, "current_node": u.CurrentNode, "sequence": u.Sequence, "steps": u.Steps, "port": u.Port,
			"wait_until": utcPtr(u.WaitUntil), "wait_event": u.WaitEvent, "next_due_at": utcPtr(u.NextDueAt),
			"error": u.Error, "updated_at": now,
		}
		if u.Finished {
			fields["finished_at"] = now
		}
		if u.Conversion != nil {
			fields["converted_at"] = gorm.Expr("COALESCE(converted_at, ?)", u.Conversion.At.UTC())
			fields["conversion_value"] = gorm.Expr("CASE WHEN converted_at IS NULL THEN ? ELSE conversion_value END", u.Conversion.Value)
			fields["conversion_path"] = gorm.Expr("CASE WHEN converted_at IS NULL THEN ? ELSE conversion_path END", u.Conversion.Path)
		}
		res := tx.Model(&runRow{}).Where("id = ? AND sequence = ? AND status NOT IN ?", u.RunID, u.ExpectSequence,
			[]string{RunCompleted, RunExited, RunFailed}).Updates(fields)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("run %s is no longer at step %d: %w", u.RunID, u.ExpectSequence, ErrConflict)
		}
		if err := insertSteps(tx, u.RunID, u.Ledger); err != nil {
			return err
		}
		if u.Outbox != nil {
			o := *u.Outbox
			o.RunID = u.RunID
			if err := createOutbox(tx, o, now); err != nil {
				return err
			}
		}
		if u.NewDelivery != nil {
			row := s.newDeliveryRow(*u.NewDelivery, now)
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
		}
		if u.Delivery != nil {
			f := map[string]any{"status": u.Delivery.Status, "provider_id": u.Delivery.ProviderID, "error": u.Delivery.Error, "updated_at": now}
			if u.Delivery.Attempts > 0 {
				f["attempts"] = u.Delivery.Attempts
			}
			if err := tx.Model(&deliveryRow{}).Where("id = ?", u.Delivery.ID).Updates(f).Error; err != nil {
				return err
			}
		}
		if pu := (ProfileUpdate{Fields: u.ProfileFields, Attributes: u.ProfileAttributes}); !pu.Empty() {
			src := ChangeSource{Source: "journey", JourneyID: u.JourneyID, RunID: u.RunID, Depth: u.ChangeDepth}
			if err := updateProfileTx(tx, s.dialect, u.ProfileID, pu, src, now); err != nil {
				return err
			}
		}
		if u.Finished {
			return releaseEntry(tx, u.JourneyID, u.ProfileID, u.RunID)
		}
		return nil
	}), "advancing run")
}

func releaseEntry(tx *gorm.DB, journeyID, profileID, runID string) error {
	return tx.Model(&journeyProfileRow{}).Where("journey_id = ? AND profile_id = ? AND active_run_id = ?", journeyID, profileID, runID).
		Update("active_run_id", "").Error
}

func insertSteps(tx *gorm.DB, runID string, steps []RunStep) error {
	if len(steps) == 0 {
		return nil
	}
	rows := make([]runStepRow, len(steps))
	for i, st := range steps {
		detail, err := encodeObject(st.Detail)
		if err != nil {
			return err
		}
		rows[i] = runStepRow{RunID: runID, Sequence: st.Sequence, NodeID: st.NodeID, Kind: st.Kind, Port: st.Port,
			Outcome: st.Outcome, Detail: detail, StartedAt: st.StartedAt.UTC(), FinishedAt: st.FinishedAt.UTC()}
	}
	return tx.Create(&rows).Error
}

func utcPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// ListRunSteps returns a run's ledger in order.
func (s *Store) ListRunSteps(ctx context.Context, runID string) ([]RunStep, error) {
	var rows []runStepRow
	if err := s.db.WithContext(ctx).Where("run_id = ?", runID).Order("sequence").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing run steps")
	}
	out := make([]RunStep, len(rows))
	for i, r := range rows {
		out[i] = RunStep{RunID: r.RunID, Sequence: r.Sequence, NodeID: r.NodeID, Kind: r.Kind, Port: r.Port, Outcome: r.Outcome,
			Detail: decodeObject(r.Detail), StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	}
	return out, nil
}

// ListRunsWaitingForEvent returns a profile's runs parked on this event name.
func (s *Store) ListRunsWaitingForEvent(ctx context.Context, profileID, eventName string) ([]Run, error) {
	var rows []runRow
	err := s.db.WithContext(ctx).Where("profile_id = ? AND status = ? AND wait_event = ?", profileID, RunWaitingEvent, eventName).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing waiting runs")
	}
	return runDomains(rows), nil
}

// ListProfileRuns returns a profile's runs in one journey that entered at or
// after since (live and finished), oldest first: goal and exit checks.
func (s *Store) ListProfileRuns(ctx context.Context, profileID, journeyID string, since time.Time) ([]Run, error) {
	var rows []runRow
	q := s.db.WithContext(ctx).Where("profile_id = ? AND entered_at >= ?", profileID, since.UTC())
	if journeyID != "" {
		q = q.Where("journey_id = ?", journeyID)
	}
	if err := q.Order("id").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing profile runs")
	}
	return runDomains(rows), nil
}

func runDomains(rows []runRow) []Run {
	out := make([]Run, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}

// RunFilter narrows ListRuns.
type RunFilter struct {
	JourneyID string
	ProfileID string
	// ProfileIDs, when not nil, keeps runs of these profiles (none when empty).
	ProfileIDs []string
	NodeID     string // current node
	Status     string
	Limit      int
	After      string
}

// ListRuns returns a page of a workspace's runs, newest first.
func (s *Store) ListRuns(ctx context.Context, workspaceID string, f RunFilter) ([]Run, string, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if f.JourneyID != "" {
		q = q.Where("journey_id = ?", f.JourneyID)
	}
	if f.ProfileID != "" {
		q = q.Where("profile_id = ?", f.ProfileID)
	}
	if f.ProfileIDs != nil {
		if len(f.ProfileIDs) == 0 {
			return nil, "", nil
		}
		q = q.Where("profile_id IN ?", f.ProfileIDs)
	}
	if f.NodeID != "" {
		q = q.Where("current_node = ?", f.NodeID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.After != "" {
		q = q.Where("id < ?", f.After)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	var rows []runRow
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", dbErr(err, "listing runs")
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].ID
	}
	return runDomains(rows), next, nil
}

// DueRun is what the reconciler needs to re-enqueue a run's task.
type DueRun struct {
	ID        string
	Sequence  int
	NextDueAt time.Time
}

// ListDueRuns pages through live runs whose next task is due at or before
// `before` (all scheduled runs when before is zero), in id order after afterID.
func (s *Store) ListDueRuns(ctx context.Context, before time.Time, afterID string, limit int) ([]DueRun, error) {
	q := s.db.WithContext(ctx).Model(&runRow{}).Select("id, sequence, next_due_at").
		Where("next_due_at IS NOT NULL AND status IN ?", []string{RunActive, RunWaiting, RunWaitingEvent})
	if !before.IsZero() {
		q = q.Where("next_due_at <= ?", before.UTC())
	}
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []runRow
	if err := q.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing due runs")
	}
	out := make([]DueRun, len(rows))
	for i, r := range rows {
		out[i] = DueRun{ID: r.ID, Sequence: r.Sequence, NextDueAt: *r.NextDueAt}
	}
	return out, nil
}

// ListOutbox returns outbox items created at or before `before` and visible
// by then (see OutboxItem.VisibleAt), oldest first.
func (s *Store) ListOutbox(ctx context.Context, before time.Time, limit int) ([]OutboxItem, error) {
	var rows []outboxRow
	err := s.db.WithContext(ctx).Where("created_at <= ? AND (visible_at IS NULL OR visible_at <= ?)", before.UTC(), before.UTC()).
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing outbox")
	}
	out := make([]OutboxItem, len(rows))
	for i, r := range rows {
		out[i] = OutboxItem{ID: r.ID, RunID: r.RunID, Sequence: r.Sequence, TaskType: r.TaskType, Queue: r.Queue, ProcessAt: r.ProcessAt, CreatedAt: r.CreatedAt}
		if r.VisibleAt != nil {
			out[i].VisibleAt = *r.VisibleAt
		}
	}
	return out, nil
}

// DeleteOutbox removes items that have been enqueued.
func (s *Store) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return dbErr(s.db.WithContext(ctx).Where("id IN ?", ids).Delete(&outboxRow{}).Error, "deleting outbox items")
}

// DeleteOutboxFor removes the outbox item of (run, sequence, task type).
func (s *Store) DeleteOutboxFor(ctx context.Context, runID string, sequence int, taskType string) error {
	return dbErr(s.db.WithContext(ctx).Where("run_id = ? AND sequence = ? AND task_type = ?", runID, sequence, taskType).
		Delete(&outboxRow{}).Error, "deleting outbox item")
}

// RescheduleOutbox moves an outbox item to at (process_at and visible_at):
// a step whose retry time was committed keeps its safety net in line with
// it, so a relay that picks the item up does not run the step early.
func (s *Store) RescheduleOutbox(ctx context.Context, runID string, sequence int, taskType string, at time.Time) error {
	t := at.UTC()
	return dbErr(s.db.WithContext(ctx).Model(&outboxRow{}).Where("run_id = ? AND sequence = ? AND task_type = ?", runID, sequence, taskType).
		Updates(map[string]any{"process_at": t, "visible_at": t}).Error, "rescheduling outbox item")
}

// PauseJourneyRuns marks a journey's live runs paused and takes their tasks
// off the schedule (next_due_at = NULL); tasks still in Redis find the run
// paused and do nothing. It reports how many runs it paused.
func (s *Store) PauseJourneyRuns(ctx context.Context, journeyID string) (int64, error) {
	res := s.db.WithContext(ctx).Model(&runRow{}).
		Where("journey_id = ? AND status IN ?", journeyID, []string{RunActive, RunWaiting, RunWaitingEvent}).
		Updates(map[string]any{"status": RunPaused, "next_due_at": nil, "updated_at": s.nowUTC()})
	return res.RowsAffected, dbErr(res.Error, "pausing runs")
}

// ResumeJourneyRuns makes a journey's paused runs active again and writes an
// outbox item for each, in one transaction. The engine re-parks runs whose
// wait is not over. It reports how many runs it resumed.
func (s *Store) ResumeJourneyRuns(ctx context.Context, journeyID, taskType string) (int64, error) {
	now := s.nowUTC()
	var n int64
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at)
			SELECT id, sequence, ?, 'default', ?, ? FROM runs WHERE journey_id = ? AND status = ?
			ON CONFLICT DO NOTHING`, taskType, now, now, journeyID, RunPaused).Error
		if err != nil {
			return err
		}
		res := tx.Model(&runRow{}).Where("journey_id = ? AND status = ?", journeyID, RunPaused).
			Updates(map[string]any{"status": RunActive, "next_due_at": now, "updated_at": now})
		n = res.RowsAffected
		return res.Error
	})
	return n, dbErr(err, "resuming runs")
}

// ListLiveRunIDs pages through a journey's live runs (for exiting them).
func (s *Store) ListLiveRunIDs(ctx context.Context, journeyID, afterID string, limit int) ([]string, error) {
	var ids []string
	q := s.db.WithContext(ctx).Model(&runRow{}).Where("journey_id = ? AND status IN ?", journeyID, LiveRunStatuses)
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	err := q.Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, dbErr(err, "listing live runs")
}

// ReviveRun puts a failed run back to active at its current node (retry from
// the failed node) with an outbox item for its task.
func (s *Store) ReviveRun(ctx context.Context, workspaceID, runID, taskType string) (Run, error) {
	now := s.nowUTC()
	var out runRow
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, runID).Take(&out).Error; err != nil {
			return err
		}
		if out.Status != RunFailed {
			return fmt.Errorf("run %s is %s, only failed runs can be retried: %w", runID, out.Status, ErrConflict)
		}
		// The retry is a step of its own: a new sequence gives it a fresh
		// task id and a fresh delivery key (the failed delivery stays as
		// the record of the failure).
		step := runStepRow{RunID: runID, Sequence: out.Sequence, NodeID: out.CurrentNode, Kind: "retry", Outcome: "retried",
			Detail: `{"error":` + jsonString(out.Error) + `}`, StartedAt: now, FinishedAt: now}
		if err := tx.Create(&step).Error; err != nil {
			return err
		}
		err := tx.Model(&runRow{}).Where("id = ?", runID).Updates(map[string]any{
			"status": RunActive, "error": "", "finished_at": nil, "next_due_at": now, "updated_at": now, "sequence": out.Sequence + 1,
		}).Error
		if err != nil {
			return err
		}
		out.Status, out.Error, out.FinishedAt, out.NextDueAt = RunActive, "", nil, &now
		out.Sequence++
		return createOutbox(tx, OutboxItem{RunID: runID, Sequence: out.Sequence, TaskType: taskType, ProcessAt: now}, now)
	})
	if err != nil {
		return Run{}, dbErr(err, "retrying run")
	}
	return out.domain(), nil
}

// RecordConversion records a goal conversion on a run (live or finished)
// unless it already has one, and reports whether it recorded this one.
func (s *Store) RecordConversion(ctx context.Context, runID string, c Conversion) (bool, error) {
	res := s.db.WithContext(ctx).Model(&runRow{}).Where("id = ? AND converted_at IS NULL", runID).Updates(map[string]any{
		"converted_at": c.At.UTC(), "conversion_value": c.Value, "conversion_path": c.Path,
	})
	return res.RowsAffected == 1, dbErr(res.Error, "recording conversion")
}

// CountRuns counts a journey's runs in a status ("" for all).
func (s *Store) CountRuns(ctx context.Context, journeyID, status string) (int64, error) {
	q := s.db.WithContext(ctx).Model(&runRow{}).Where("journey_id = ?", journeyID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var n int64
	return n, dbErr(q.Count(&n).Error, "counting runs")
}

// DelayLateness returns, for every completed wait at a delay node of a
// journey, how long after its due time the run moved on.
func (s *Store) DelayLateness(ctx context.Context, journeyID, nodeID string) ([]time.Duration, error) {
	var rows []runStepRow
	err := s.db.WithContext(ctx).Table("run_steps").Select("run_steps.detail, run_steps.finished_at").
		Joins("JOIN runs ON runs.id = run_steps.run_id").
		Where("runs.journey_id = ? AND run_steps.node_id = ? AND run_steps.outcome = ?", journeyID, nodeID, "waited").
		Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "measuring delay lateness")
	}
	out := make([]time.Duration, 0, len(rows))
	for _, r := range rows {
		until, ok := decodeObject(r.Detail)["until"].(string)
		if !ok {
			continue
		}
		due, err := time.Parse(time.RFC3339Nano, until)
		if err != nil {
			continue
		}
		out = append(out, r.FinishedAt.Sub(due))
	}
	return out, nil
}

// OutboxKey names an outbox item by (run, sequence, task type).
type OutboxKey struct {
	RunID    string
	Sequence int
	TaskType string
}

// DeleteOutboxKeys removes enqueued items in one statement.
func (s *Store) DeleteOutboxKeys(ctx context.Context, keys []OutboxKey) error {
	if len(keys) == 0 {
		return nil
	}
	if s.group != nil {
		return s.deleteOutboxKeysPG(ctx, keys)
	}
	tuples := make([][]any, len(keys))
	for i, k := range keys {
		tuples[i] = []any{k.RunID, k.Sequence, k.TaskType}
	}
	return dbErr(s.db.WithContext(ctx).Where("(run_id, sequence, task_type) IN ?", tuples).Delete(&outboxRow{}).Error, "deleting outbox items")
}

// ResumeLiveJourneyRuns gives paused runs of journeys that are live again
// their tasks back (outbox items in the same transaction). The reconciler
// calls it, so a journey resumed by any path picks its runs up.
func (s *Store) ResumeLiveJourneyRuns(ctx context.Context, taskType string) (int64, error) {
	now := s.nowUTC()
	var n int64
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		// Archived journeys' runs finish too (archiving a paused journey
		// must not strand its runs).
		live := tx.Model(&journeyRow{}).Select("id").Where("status IN ?", []string{JourneyLive, JourneyArchived})
		err := tx.Exec(`INSERT INTO outbox (run_id, sequence, task_type, queue, process_at, created_at)
			SELECT id, sequence, ?, 'default', ?, ? FROM runs WHERE status = ? AND journey_id IN (?)
			ON CONFLICT DO NOTHING`, taskType, now, now, RunPaused, live).Error
		if err != nil {
			return err
		}
		res := tx.Model(&runRow{}).Where("status = ? AND journey_id IN (?)", RunPaused, live).
			Updates(map[string]any{"status": RunActive, "next_due_at": now, "updated_at": now})
		n = res.RowsAffected
		return res.Error
	})
	return n, dbErr(err, "resuming runs of live journeys")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
