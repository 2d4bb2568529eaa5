package store

import (
	"context"
	"sort"
	"time"
)

// EventName is an event name a workspace has received, with when it last
// arrived.
type EventName struct {
	Name     string
	LastSeen time.Time
}

// MaxEventNamesScanned bounds how many distinct names RecentEventNames
// looks at (in name order).
const MaxEventNamesScanned = 500

// recentEventNamesSQL walks events_workspace_name_idx (workspace_id, name,
// received_at) as a skip scan: each step of the recursion is one index
// probe for the next name, and each name's latest event another, so the
// cost follows the number of distinct names (at most
// MaxEventNamesScanned), not the number of events.
const recentEventNamesSQL = `WITH RECURSIVE names(name, n) AS (
	SELECT (SELECT min(name) FROM events WHERE workspace_id = ?), 1
	UNION ALL
	SELECT (SELECT min(e.name) FROM events e WHERE e.workspace_id = ? AND e.name > names.name), names.n + 1
	FROM names WHERE names.name IS NOT NULL AND names.n < ?
)
SELECT e.name, e.received_at FROM names
JOIN events e ON e.id = (SELECT x.id FROM events x WHERE x.workspace_id = ? AND x.name = names.name ORDER BY x.received_at DESC LIMIT 1)
WHERE names.name IS NOT NULL`

// RecentEventNames returns the event names the workspace has received,
// most recently seen first, at most limit. It looks at the first
// MaxEventNamesScanned distinct names (in name order): a workspace with
// more names than that gets a list from those.
func (s *Store) RecentEventNames(ctx context.Context, workspaceID string, limit int) ([]EventName, error) {
	if limit <= 0 || limit > MaxEventNamesScanned {
		limit = 20
	}
	var rows []struct {
		Name       string
		ReceivedAt time.Time
	}
	err := s.db.WithContext(ctx).Raw(recentEventNamesSQL, workspaceID, workspaceID, MaxEventNamesScanned, workspaceID).Scan(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing event names")
	}
	out := make([]EventName, len(rows))
	for i, r := range rows {
		out[i] = EventName{Name: r.Name, LastSeen: r.ReceivedAt}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
