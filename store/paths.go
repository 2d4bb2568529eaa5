package store

import (
	"context"
	"strings"
)

// PathCount is how many runs of a version walked one path (node ids in
// ledger order, a node repeated in a row counted once: a deferral, a retry
// or a wake-up is not a new step on the path).
type PathCount struct {
	Nodes    []string
	Finished bool // the runs ended (completed, exited or failed)
	Count    int64
}

// maxPathRows bounds how many distinct paths JourneyPaths reads.
const maxPathRows = 10000

// JourneyPaths groups the runs of a journey version that entered within the
// period by the path their ledger took, most frequent first. At most
// 10,000 distinct paths are read (truncated says more exist); journeys that
// loop can have many.
func (s *Store) JourneyPaths(ctx context.Context, workspaceID, journeyID string, version int, p Period) (paths []PathCount, truncated bool, err error) {
	agg := "string_agg(s.node_id, '>' ORDER BY s.sequence)"
	if s.dialect == DialectSQLite {
		agg = "group_concat(s.node_id, '>' ORDER BY s.sequence)"
	}
	finished := "CASE WHEN r.status IN ('" + RunCompleted + "', '" + RunExited + "', '" + RunFailed + "') THEN 1 ELSE 0 END"
	var rows []struct {
		Path     string
		Finished int
		Count    int64
	}
	err = s.db.WithContext(ctx).Raw(`SELECT path, finished, COUNT(*) AS count FROM (
		SELECT r.id, `+agg+` AS path, `+finished+` AS finished
		FROM runs r JOIN run_steps s ON s.run_id = r.id
		WHERE r.workspace_id = ? AND r.journey_id = ? AND r.version = ? AND r.entered_at >= ? AND r.entered_at < ?
		GROUP BY r.id, r.status) t
		GROUP BY path, finished ORDER BY count DESC, path LIMIT ?`,
		workspaceID, journeyID, version, p.From.UTC(), p.To.UTC(), maxPathRows+1).Scan(&rows).Error
	if err != nil {
		return nil, false, dbErr(err, "grouping runs by path")
	}
	if len(rows) > maxPathRows {
		rows, truncated = rows[:maxPathRows], true
	}
	// Collapsing repeats can make two SQL paths one.
	index := map[string]int{}
	for _, r := range rows {
		nodes := collapseRepeats(strings.Split(r.Path, ">"))
		key := strings.Join(nodes, ">")
		if r.Finished == 1 {
			key += "|done"
		}
		if i, ok := index[key]; ok {
			paths[i].Count += r.Count
			continue
		}
		index[key] = len(paths)
		paths = append(paths, PathCount{Nodes: nodes, Finished: r.Finished == 1, Count: r.Count})
	}
	return paths, truncated, nil
}

func collapseRepeats(ids []string) []string {
	out := ids[:0]
	for _, id := range ids {
		if len(out) == 0 || out[len(out)-1] != id {
			out = append(out, id)
		}
	}
	return out
}
