package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SplitAssignment is a run's sticky variant at a bandit split node.
type SplitAssignment struct {
	RunID      string
	NodeID     string
	JourneyID  string
	EntryIndex int64 // 0-based: the how-manieth entry into this node
	Variant    string
	Detail     map[string]any // the estimates and allocation that decided it
	AssignedAt time.Time
}

type splitAssignmentRow struct {
	RunID      string `gorm:"primaryKey"`
	NodeID     string `gorm:"primaryKey"`
	JourneyID  string
	EntryIndex int64
	Variant    string
	Detail     string
	AssignedAt time.Time
}

func (splitAssignmentRow) TableName() string { return "split_assignments" }

func (r splitAssignmentRow) domain() SplitAssignment {
	return SplitAssignment{RunID: r.RunID, NodeID: r.NodeID, JourneyID: r.JourneyID, EntryIndex: r.EntryIndex,
		Variant: r.Variant, Detail: decodeObject(r.Detail), AssignedAt: r.AssignedAt}
}

// GetSplitAssignment returns the run's assignment at a split node, or
// ErrNotFound.
func (s *Store) GetSplitAssignment(ctx context.Context, runID, nodeID string) (SplitAssignment, error) {
	var row splitAssignmentRow
	err := s.db.WithContext(ctx).Where("run_id = ? AND node_id = ?", runID, nodeID).Take(&row).Error
	if err != nil {
		return SplitAssignment{}, dbErr(err, "loading split assignment")
	}
	return row.domain(), nil
}

// SplitDecider chooses the variant for the entry with this 0-based index.
// It runs inside the assigning transaction: keep it cheap.
type SplitDecider func(index int64) (variant string, detail map[string]any)

// AssignSplit gives the run its assignment at a split node, once: an
// existing assignment is returned as it is (a retried step never re-draws);
// otherwise the node's entry counter is incremented and decide picks the
// variant for that entry index, both in one transaction. When two workers
// race for the same run, the loser's counter increment is rolled back, so
// the indexes stay dense and a holdout computed from them exact.
func (s *Store) AssignSplit(ctx context.Context, journeyID, nodeID, runID string, decide SplitDecider) (SplitAssignment, bool, error) {
	if a, err := s.GetSplitAssignment(ctx, runID, nodeID); err == nil {
		return a, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return SplitAssignment{}, false, err
	}
	var out splitAssignmentRow
	errRaced := errors.New("assigned concurrently")
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var entries int64
		err := tx.Raw(`INSERT INTO split_counters (journey_id, node_id, entries) VALUES (?, ?, 1)
			ON CONFLICT (journey_id, node_id) DO UPDATE SET entries = split_counters.entries + 1
			RETURNING entries`, journeyID, nodeID).Scan(&entries).Error
		if err != nil {
			return err
		}
		variant, detail := decide(entries - 1)
		enc, err := encodeObject(detail)
		if err != nil {
			return err
		}
		out = splitAssignmentRow{RunID: runID, NodeID: nodeID, JourneyID: journeyID, EntryIndex: entries - 1,
			Variant: variant, Detail: enc, AssignedAt: s.nowUTC()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&out)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errRaced
		}
		return nil
	})
	if errors.Is(err, errRaced) {
		a, err := s.GetSplitAssignment(ctx, runID, nodeID)
		return a, false, err
	}
	if err != nil {
		return SplitAssignment{}, false, dbErr(err, "assigning split")
	}
	return out.domain(), true, nil
}

// ArmCount is how many runs a bandit split assigned to a variant and how
// many of them converted (on the journey's goal or a goal node).
type ArmCount struct {
	Variant     string
	Runs        int64
	Conversions int64
}

// SplitCounts counts a bandit split node's assignments and their
// conversions per variant (the holdout included).
func (s *Store) SplitCounts(ctx context.Context, journeyID, nodeID string) ([]ArmCount, error) {
	var out []ArmCount
	err := s.db.WithContext(ctx).Table("split_assignments AS a").
		Select("a.variant AS variant, COUNT(*) AS runs, COUNT(r.converted_at) AS conversions").
		Joins("JOIN runs r ON r.id = a.run_id").
		Where("a.journey_id = ? AND a.node_id = ?", journeyID, nodeID).
		Group("a.variant").Order("a.variant").Scan(&out).Error
	return out, dbErr(err, "counting split assignments")
}

// SplitFreeze sends all non-holdout traffic of a bandit split to Variant.
type SplitFreeze struct {
	JourneyID string
	NodeID    string
	Variant   string
	FrozenBy  string
	FrozenAt  time.Time
}

type splitFreezeRow struct {
	JourneyID string `gorm:"primaryKey"`
	NodeID    string `gorm:"primaryKey"`
	Variant   string
	FrozenBy  string
	FrozenAt  time.Time
}

func (splitFreezeRow) TableName() string { return "split_freezes" }

// FreezeSplit freezes (or re-freezes) a split node on a variant.
func (s *Store) FreezeSplit(ctx context.Context, f SplitFreeze) (SplitFreeze, error) {
	row := splitFreezeRow{JourneyID: f.JourneyID, NodeID: f.NodeID, Variant: f.Variant, FrozenBy: f.FrozenBy, FrozenAt: s.nowUTC()}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "journey_id"}, {Name: "node_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"variant", "frozen_by", "frozen_at"}),
	}).Create(&row).Error
	if err != nil {
		return SplitFreeze{}, dbErr(err, "freezing split")
	}
	return SplitFreeze(row), nil
}

// UnfreezeSplit lets the bandit decide again; false when it was not frozen.
func (s *Store) UnfreezeSplit(ctx context.Context, journeyID, nodeID string) (bool, error) {
	res := s.db.WithContext(ctx).Where("journey_id = ? AND node_id = ?", journeyID, nodeID).Delete(&splitFreezeRow{})
	return res.RowsAffected > 0, dbErr(res.Error, "unfreezing split")
}

// SplitFreezes lists a journey's frozen split nodes.
func (s *Store) SplitFreezes(ctx context.Context, journeyID string) ([]SplitFreeze, error) {
	var rows []splitFreezeRow
	if err := s.db.WithContext(ctx).Where("journey_id = ?", journeyID).Order("node_id").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing split freezes")
	}
	out := make([]SplitFreeze, len(rows))
	for i, r := range rows {
		out[i] = SplitFreeze(r)
	}
	return out, nil
}
