package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Migration planner storage (issue 10): counting a version's runs by node,
// reading the runs a plan would move with the time each started waiting,
// and publishing a version together with moving or exiting runs, in one
// transaction.

// NodeRunCount is how many runs of a version are at a node in a status.
type NodeRunCount struct {
	NodeID string
	Status string
	Count  int64
}

// CountVersionRuns counts a version's live runs by node and status.
func (s *Store) CountVersionRuns(ctx context.Context, journeyID string, version int) ([]NodeRunCount, error) {
	var rows []struct {
		CurrentNode string
		Status      string
		N           int64
	}
	err := s.db.WithContext(ctx).Model(&runRow{}).Select("current_node, status, COUNT(*) AS n").
		Where("journey_id = ? AND version = ? AND status IN ?", journeyID, version, LiveRunStatuses).
		Group("current_node, status").Order("current_node, status").Scan(&rows).Error
	if err != nil {
		return nil, dbErr(err, "counting runs by node")
	}
	out := make([]NodeRunCount, len(rows))
	for i, r := range rows {
		out[i] = NodeRunCount{NodeID: r.CurrentNode, Status: r.Status, Count: r.N}
	}
	return out, nil
}

// MigrationCandidate is a parked run a plan may move, with the time it
// started waiting at its node (for recomputing delays from it).
type MigrationCandidate struct {
	Run
	// WaitingSince is when the run started waiting at its current node:
	// the start of the task that parked it (its last ledger step), or, for
	// a run migrated before, the time carried over by that migration.
	WaitingSince time.Time
	// MigratedFrom is the node and version the run left when a migration
	// moved it to where it is (a rollback moves it back); "" otherwise.
	MigratedFrom        string
	MigratedFromVersion int
}

// MigratableStatuses are the statuses of runs a plan moves or exits:
// parked runs, whose next task lies in the future (or, paused, nowhere).
// Active runs are in the middle of a step and stay on their version.
var MigratableStatuses = []string{RunWaiting, RunWaitingEvent, RunPaused}

// ListMigrationCandidates pages (by id) through a version's parked runs at
// the given nodes.
func (s *Store) ListMigrationCandidates(ctx context.Context, journeyID string, version int, nodeIDs []string, afterID string, limit int) ([]MigrationCandidate, error) {
	if len(nodeIDs) == 0 {
		return nil, nil
	}
	q := s.db.WithContext(ctx).Where("journey_id = ? AND version = ? AND status IN ? AND current_node IN ?", journeyID, version, MigratableStatuses, nodeIDs)
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []runRow
	if err := q.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing runs to migrate")
	}
	if len(rows) == 0 {
		return nil, nil
	}
	// The last ledger step of each run is (run, sequence-1).
	keys := make([][]any, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, []any{r.ID, r.Sequence - 1})
	}
	var steps []runStepRow
	if err := s.db.WithContext(ctx).Where("(run_id, sequence) IN ?", keys).Find(&steps).Error; err != nil {
		return nil, dbErr(err, "reading the runs' last steps")
	}
	last := make(map[string]runStepRow, len(steps))
	for _, st := range steps {
		last[st.RunID] = st
	}
	out := make([]MigrationCandidate, len(rows))
	for i, r := range rows {
		c := MigrationCandidate{Run: r.domain(), WaitingSince: r.UpdatedAt}
		if st, ok := last[r.ID]; ok {
			c.WaitingSince = st.StartedAt
			if st.Outcome == OutcomeMigrated {
				d := decodeObject(st.Detail)
				if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d["waiting_since"])); err == nil {
					c.WaitingSince = t
				}
				c.MigratedFrom, _ = d["from_node"].(string)
				if v, ok := d["from_version"].(float64); ok {
					c.MigratedFromVersion = int(v)
				}
			}
		}
		out[i] = c
	}
	return out, nil
}

// Ledger outcomes of the planner's steps (kind "migrate").
const (
	OutcomeMigrated     = "migrated"
	OutcomeMigratedExit = "exited"
)

// RunMigration moves one run to a node of the new version, or ends it.
// It applies only if the run is still at ExpectSequence in ExpectStatus;
// otherwise it is skipped (the run moved on, on its own version).
type RunMigration struct {
	RunID          string
	ExpectSequence int
	ExpectStatus   string
	FromNode       string
	Exit           bool

	ToNode    string
	Status    string     // the run's status at ToNode (waiting, waiting_event, active, paused)
	WaitUntil *time.Time // a delay's wake time or a wait_event's timeout
	WaitEvent string
	NextDueAt *time.Time // when its task runs (nil: no task, a paused run)
	Detail    map[string]any
}

// PublishPlan is a version to publish and the runs to move with it.
type PublishPlan struct {
	WorkspaceID string
	JourneyID   string
	Document    json.RawMessage
	By          string
	// ExpectLive is the live version the plan was made against; if another
	// publish got there first, nothing is written (ErrConflict).
	ExpectLive int
	// RollbackOf is the version being rolled back (0: a normal publish).
	RollbackOf int
	// Draft, when set, replaces the journey's draft (a rollback of a draft
	// nobody had edited since).
	Draft json.RawMessage
	// DraftRevision, when set, is the draft revision the plan was made
	// from, checked under the journey's lock: a publish of a draft saved
	// again meanwhile writes nothing (ErrConflict); a rollback leaves such
	// a draft as it is instead of replacing it.
	DraftRevision int
	Plan          map[string]any
	Moves         []RunMigration
	TaskType      string
	// Audit, when set, is written in the same transaction; its summary
	// gains version, previous_version, moved, exited and skipped.
	Audit *AuditEntry
}

// PublishOutcome is what PublishWithMigration did.
type PublishOutcome struct {
	Version JourneyVersion
	Moved   int
	Exited  int
	// Skipped lists runs that moved on by themselves between planning and
	// applying: they stay on their version.
	Skipped []string
}

type journeyPublishRow struct {
	JourneyID       string `gorm:"primaryKey"`
	Version         int    `gorm:"primaryKey;autoIncrement:false"`
	PreviousVersion int
	RollbackOf      int
	Moved           int
	Exited          int
	Plan            string
	PublishedBy     string
	PublishedAt     time.Time
}

func (journeyPublishRow) TableName() string { return "journey_publishes" }

// JourneyPublish records a publish made through the planner.
type JourneyPublish struct {
	JourneyID       string
	Version         int
	PreviousVersion int
	RollbackOf      int
	Moved           int
	Exited          int
	Plan            map[string]any
	PublishedBy     string
	PublishedAt     time.Time
}

// GetJourneyPublish returns the planner's record of a version's publish.
func (s *Store) GetJourneyPublish(ctx context.Context, journeyID string, version int) (JourneyPublish, error) {
	var r journeyPublishRow
	if err := s.db.WithContext(ctx).Where("journey_id = ? AND version = ?", journeyID, version).Take(&r).Error; err != nil {
		return JourneyPublish{}, dbErr(err, fmt.Sprintf("loading the publish record of version %d", version))
	}
	return JourneyPublish{JourneyID: r.JourneyID, Version: r.Version, PreviousVersion: r.PreviousVersion, RollbackOf: r.RollbackOf,
		Moved: r.Moved, Exited: r.Exited, Plan: decodeObject(r.Plan), PublishedBy: r.PublishedBy, PublishedAt: r.PublishedAt}, nil
}

// PublishWithMigration freezes p.Document as the journey's next version,
// makes it live and applies p.Moves, all in one transaction: either the new
// version is live and the chosen runs have moved or exited, or nothing
// changed. Each moved run gets a new sequence (so a task queued for its old
// step finds it gone and does nothing), a ledger step (kind "migrate") and
// an outbox item for its next task.
func (s *Store) PublishWithMigration(ctx context.Context, p PublishPlan) (PublishOutcome, error) {
	var out PublishOutcome
	now := s.nowUTC()
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		out = PublishOutcome{}
		var row journeyRow
		err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", p.WorkspaceID, p.JourneyID).Take(&row).Error
		if err != nil {
			return dbErr(err, "loading journey "+p.JourneyID)
		}
		if row.Status == JourneyArchived {
			return fmt.Errorf("journey %s is archived: %w", p.JourneyID, ErrConflict)
		}
		live := 0
		if row.LiveVersion != nil {
			live = *row.LiveVersion
		}
		if live != p.ExpectLive {
			return fmt.Errorf("version %d went live while this plan was made against version %d: %w", live, p.ExpectLive, ErrConflict)
		}
		draft := p.Draft
		if p.DraftRevision > 0 && row.DraftRevision != p.DraftRevision {
			if p.RollbackOf == 0 {
				return fmt.Errorf("the draft was saved again (revision %d, not %d) while it was being published: %w", row.DraftRevision, p.DraftRevision, ErrConflict)
			}
			draft = nil // edits saved during the rollback stay
		}
		var maxV int
		if err := tx.Model(&journeyVersionRow{}).Where("journey_id = ?", p.JourneyID).Select("COALESCE(MAX(version), 0)").Scan(&maxV).Error; err != nil {
			return err
		}
		next := maxV + 1
		v := journeyVersionRow{JourneyID: p.JourneyID, Version: next, Document: string(p.Document), PublishedBy: p.By, PublishedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return err
		}
		out.Version = v.domain()
		status := JourneyLive
		if row.Status == JourneyPaused {
			status = JourneyPaused
		}
		fields := map[string]any{"live_version": next, "status": status, "updated_by": p.By, "updated_at": now}
		if draft != nil {
			fields["draft"] = string(draft)
			fields["draft_revision"] = row.DraftRevision + 1
		}
		if err := tx.Model(&journeyRow{}).Where("id = ?", p.JourneyID).Updates(fields).Error; err != nil {
			return err
		}

		var steps []runStepRow
		var outbox []outboxRow
		for _, m := range p.Moves {
			ok, err := applyMigration(tx, p, m, next, now, &steps, &outbox)
			if err != nil {
				return err
			}
			switch {
			case !ok:
				out.Skipped = append(out.Skipped, m.RunID)
			case m.Exit:
				out.Exited++
			default:
				out.Moved++
			}
		}
		if len(steps) > 0 {
			if err := tx.CreateInBatches(&steps, 500).Error; err != nil {
				return err
			}
		}
		if len(outbox) > 0 {
			if err := tx.CreateInBatches(&outbox, 500).Error; err != nil {
				return err
			}
		}
		plan, err := encodeObject(p.Plan)
		if err != nil {
			return err
		}
		rec := journeyPublishRow{JourneyID: p.JourneyID, Version: next, PreviousVersion: live, RollbackOf: p.RollbackOf,
			Moved: out.Moved, Exited: out.Exited, Plan: plan, PublishedBy: p.By, PublishedAt: now}
		if err := tx.Create(&rec).Error; err != nil {
			return err
		}
		if p.Audit != nil {
			summary := map[string]any{}
			for k, val := range p.Audit.Summary {
				summary[k] = val
			}
			summary["version"], summary["previous_version"] = next, live
			summary["moved"], summary["exited"], summary["skipped"] = out.Moved, out.Exited, len(out.Skipped)
			if p.RollbackOf > 0 {
				summary["rollback_of"] = p.RollbackOf
			}
			b, err := json.Marshal(summary)
			if err != nil {
				return err
			}
			a := auditRow{WorkspaceID: p.WorkspaceID, ActorType: p.Audit.ActorType, ActorID: p.Audit.ActorID, Action: p.Audit.Action,
				TargetType: p.Audit.TargetType, TargetID: p.Audit.TargetID, Summary: string(b), IP: p.Audit.IP, CreatedAt: now}
			if err := tx.Create(&a).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return PublishOutcome{}, dbErr(err, "publishing with migration")
	}
	return out, nil
}

// applyMigration moves or exits one run inside the publish transaction; it
// reports false when the run is no longer where the plan found it.
func applyMigration(tx *gorm.DB, p PublishPlan, m RunMigration, version int, now time.Time, steps *[]runStepRow, outbox *[]outboxRow) (bool, error) {
	var fields map[string]any
	if m.Exit {
		fields = map[string]any{"status": RunExited, "sequence": m.ExpectSequence + 1, "wait_until": nil, "wait_event": "",
			"next_due_at": nil, "finished_at": now, "updated_at": now}
	} else {
		fields = map[string]any{"status": m.Status, "version": version, "current_node": m.ToNode, "sequence": m.ExpectSequence + 1,
			"wait_until": utcPtr(m.WaitUntil), "wait_event": m.WaitEvent, "next_due_at": utcPtr(m.NextDueAt), "port": "", "updated_at": now}
	}
	// A run whose step already wrote its delivery is in the middle of
	// sending (a pause can catch it there): it stays, or it could send
	// again from its new step.
	res := tx.Model(&runRow{}).Where("id = ? AND journey_id = ? AND sequence = ? AND status = ?", m.RunID, p.JourneyID, m.ExpectSequence, m.ExpectStatus).
		Where("NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.run_id = runs.id AND deliveries.sequence = runs.sequence)").Updates(fields)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	detail := map[string]any{}
	for k, v := range m.Detail {
		detail[k] = v
	}
	outcome := OutcomeMigrated
	if m.Exit {
		outcome = OutcomeMigratedExit
	} else {
		detail["to_version"] = version
	}
	enc, err := encodeObject(detail)
	if err != nil {
		return false, err
	}
	*steps = append(*steps, runStepRow{RunID: m.RunID, Sequence: m.ExpectSequence, NodeID: m.FromNode, Kind: "migrate", Outcome: outcome,
		Detail: enc, StartedAt: now, FinishedAt: now})
	if m.Exit {
		var profileID string
		if err := tx.Model(&runRow{}).Where("id = ?", m.RunID).Pluck("profile_id", &profileID).Error; err != nil {
			return false, err
		}
		return true, releaseEntry(tx, p.JourneyID, profileID, m.RunID)
	}
	if m.NextDueAt != nil {
		*outbox = append(*outbox, outboxRow{RunID: m.RunID, Sequence: m.ExpectSequence + 1, TaskType: p.TaskType, Queue: "default",
			ProcessAt: m.NextDueAt.UTC(), CreatedAt: now})
	}
	return true, nil
}
