package store

import (
	"context"
)

// StepCount is how many ledger steps of one journey version went through
// (node, port) with an outcome. Port is "" for steps that did not leave the
// node (exits, deferrals, retries).
type StepCount struct {
	NodeID  string
	Kind    string
	Port    string
	Outcome string
	Count   int64
}

// PositionCount is how many runs of one journey version are in a status
// with their current node at NodeID.
type PositionCount struct {
	NodeID string
	Status string
	Count  int64
}

// RunTotals are journey-level run counts.
type RunTotals struct {
	Entries   int64
	Converted int64
	Revenue   float64
	ByStatus  map[string]int64
}

// JourneyStats is the raw material of a journey's report: the ledger
// grouped by (node, port, outcome), and the runs grouped by where they are
// and in which status. Version 0 means every version.
type JourneyStats struct {
	Steps     []StepCount
	Positions []PositionCount
	Totals    RunTotals
}

// JourneyStats aggregates a journey's ledger and runs in three GROUP BY
// queries (runs_journey_idx narrows the runs; run_steps is joined on its
// primary key).
func (s *Store) JourneyStats(ctx context.Context, workspaceID, journeyID string, version int) (JourneyStats, error) {
	db := s.db.WithContext(ctx)
	var out JourneyStats

	steps := db.Table("run_steps").
		Select("run_steps.node_id AS node_id, run_steps.kind AS kind, run_steps.port AS port, run_steps.outcome AS outcome, COUNT(*) AS count").
		Joins("JOIN runs ON runs.id = run_steps.run_id").
		Where("runs.workspace_id = ? AND runs.journey_id = ?", workspaceID, journeyID)
	if version > 0 {
		steps = steps.Where("runs.version = ?", version)
	}
	if err := steps.Group("run_steps.node_id, run_steps.kind, run_steps.port, run_steps.outcome").
		Order("run_steps.node_id, run_steps.port, run_steps.outcome").Scan(&out.Steps).Error; err != nil {
		return JourneyStats{}, dbErr(err, "counting run steps")
	}

	pos := db.Table("runs").Select("current_node AS node_id, status, COUNT(*) AS count").
		Where("workspace_id = ? AND journey_id = ?", workspaceID, journeyID)
	if version > 0 {
		pos = pos.Where("version = ?", version)
	}
	if err := pos.Group("current_node, status").Order("current_node, status").Scan(&out.Positions).Error; err != nil {
		return JourneyStats{}, dbErr(err, "counting run positions")
	}

	var tot struct {
		Entries   int64
		Converted int64
		Revenue   float64
	}
	q := db.Table("runs").Select("COUNT(*) AS entries, COUNT(converted_at) AS converted, COALESCE(SUM(CASE WHEN converted_at IS NULL THEN 0 ELSE conversion_value END), 0) AS revenue").
		Where("workspace_id = ? AND journey_id = ?", workspaceID, journeyID)
	if version > 0 {
		q = q.Where("version = ?", version)
	}
	if err := q.Scan(&tot).Error; err != nil {
		return JourneyStats{}, dbErr(err, "totalling runs")
	}
	out.Totals = RunTotals{Entries: tot.Entries, Converted: tot.Converted, Revenue: tot.Revenue, ByStatus: map[string]int64{}}
	for _, p := range out.Positions {
		out.Totals.ByStatus[p.Status] += p.Count
	}
	return out, nil
}
