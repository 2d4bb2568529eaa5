package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// A profile's event history, for the expression functions count, sum,
// last("name"), first_seen and last_seen (docs/expressions.md,
// "Behaviour over time"). Every query is served by events_profile_idx
// (profile_id, name, occurred_at) and bounded: count and sum read at
// most limit rows (MaxHistoryRows), the seen queries at most
// MaxHistoryNames distinct names.

// MaxHistoryRows bounds the rows one count or sum reads.
const MaxHistoryRows = 10000

// MaxHistoryNames bounds the distinct event names ProfileSeen looks at
// (in name order): a profile with more names than that is seen through
// the first MaxHistoryNames.
const MaxHistoryNames = 1000

func historyLimit(limit int) int {
	if limit <= 0 || limit > MaxHistoryRows {
		return MaxHistoryRows
	}
	return limit
}

// CountProfileEvents counts a profile's events of this name that
// occurred in [since, until], counting at most limit (at most
// MaxHistoryRows): a LIMITed subquery over the index's range.
func (s *Store) CountProfileEvents(ctx context.Context, profileID, name string, since, until time.Time, limit int) (int, error) {
	var n int64
	q, args := countEventsQuery(profileID, name, since, until, limit)
	if err := s.db.WithContext(ctx).Raw(q, args...).Scan(&n).Error; err != nil {
		return 0, dbErr(err, "counting events")
	}
	return int(n), nil
}

func countEventsQuery(profileID, name string, since, until time.Time, limit int) (string, []any) {
	return `SELECT COUNT(*) FROM (SELECT 1 FROM events
		WHERE profile_id = ? AND name = ? AND occurred_at >= ? AND occurred_at <= ? LIMIT ?) t`,
		[]any{profileID, name, since.UTC(), until.UTC(), historyLimit(limit)}
}

// SumProfileEvents adds the numeric values of a top-level property over
// the latest limit (at most MaxHistoryRows) events of this name that
// occurred in [since, until]. Values that are not JSON numbers (absent,
// strings, null) are skipped. The database extracts the values.
func (s *Store) SumProfileEvents(ctx context.Context, profileID, name, property string, since, until time.Time, limit int) (float64, error) {
	q, args := s.sumEventsQuery(profileID, name, property, since, until, limit)
	var sum float64
	if err := s.db.WithContext(ctx).Raw(q, args...).Scan(&sum).Error; err != nil {
		return 0, dbErr(err, "summing events")
	}
	return sum, nil
}

func (s *Store) sumEventsQuery(profileID, name, property string, since, until time.Time, limit int) (string, []any) {
	var q string
	var args []any
	if s.dialect == DialectPostgres {
		q = `SELECT COALESCE(SUM(v), 0) FROM (SELECT CASE WHEN jsonb_typeof(properties -> CAST(? AS text)) = 'number'
			THEN (properties ->> CAST(? AS text))::float8 END AS v FROM events
			WHERE profile_id = ? AND name = ? AND occurred_at >= ? AND occurred_at <= ?
			ORDER BY occurred_at DESC LIMIT ?) t`
		args = []any{property, property}
	} else {
		// A quoted key in the JSON path: property names are letters,
		// digits, _ and - (checked when the expression compiles; quoted
		// here all the same).
		path := `$."` + property + `"`
		q = `SELECT COALESCE(SUM(v), 0) FROM (SELECT CASE WHEN json_type(properties, ?) IN ('integer', 'real')
			THEN json_extract(properties, ?) END AS v FROM events
			WHERE profile_id = ? AND name = ? AND occurred_at >= ? AND occurred_at <= ?
			ORDER BY occurred_at DESC LIMIT ?) t`
		args = []any{path, path}
	}
	return q, append(args, profileID, name, since.UTC(), until.UTC(), historyLimit(limit))
}

// LastProfileEvent returns a profile's latest event of this name that
// occurred at or before until; ErrNotFound when there is none.
func (s *Store) LastProfileEvent(ctx context.Context, profileID, name string, until time.Time) (Event, error) {
	var row eventRow
	err := lastEventScope(s.db.WithContext(ctx), profileID, name, until).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, dbErr(err, "finding the last event")
	}
	return row.domain(), nil
}

func lastEventScope(db *gorm.DB, profileID, name string, until time.Time) *gorm.DB {
	return db.Where("profile_id = ? AND name = ? AND occurred_at <= ?", profileID, name, until.UTC()).Order("occurred_at DESC").Limit(1)
}

// profileSeenSQL walks events_profile_idx as a skip scan: one probe per
// distinct name of the profile (at most MaxHistoryNames), then each
// name's first (or latest) event at or before until, one probe each.
// SQLite joins each name's event by id, so that occurred_at keeps its
// column type; PostgreSQL would hash that join over the whole table, so
// it reads the time from the probe itself. The %s are ASC or DESC.
const profileSeenNames = `WITH RECURSIVE names(name, n) AS (
	SELECT (SELECT min(name) FROM events WHERE profile_id = ?), 1
	UNION ALL
	SELECT (SELECT min(e.name) FROM events e WHERE e.profile_id = ? AND e.name > names.name), names.n + 1
	FROM names WHERE names.name IS NOT NULL AND names.n < ?
)
`

const profileSeenSQLite = profileSeenNames + `SELECT e.occurred_at FROM names
JOIN events e ON e.id = (SELECT x.id FROM events x WHERE x.profile_id = ? AND x.name = names.name AND x.occurred_at <= ?
	ORDER BY x.occurred_at %s LIMIT 1)
WHERE names.name IS NOT NULL
ORDER BY e.occurred_at %s LIMIT 1`

const profileSeenPostgres = profileSeenNames + `SELECT t.occurred_at FROM (
	SELECT (SELECT x.occurred_at FROM events x WHERE x.profile_id = ? AND x.name = names.name AND x.occurred_at <= ?
		ORDER BY x.occurred_at %s LIMIT 1) AS occurred_at
	FROM names WHERE names.name IS NOT NULL) t
WHERE t.occurred_at IS NOT NULL
ORDER BY t.occurred_at %s LIMIT 1`

// ProfileSeen returns when the profile's first (first) or latest event
// of any name occurred, among those at or before until; ErrNotFound
// when it has none.
func (s *Store) ProfileSeen(ctx context.Context, profileID string, until time.Time, first bool) (time.Time, error) {
	q, args := s.profileSeenQuery(profileID, until, first)
	var rows []struct{ OccurredAt time.Time }
	err := s.db.WithContext(ctx).Raw(q, args...).Scan(&rows).Error
	if err != nil {
		return time.Time{}, dbErr(err, "finding when the profile was seen")
	}
	if len(rows) == 0 {
		return time.Time{}, ErrNotFound
	}
	return rows[0].OccurredAt.UTC(), nil
}

func (s *Store) profileSeenQuery(profileID string, until time.Time, first bool) (string, []any) {
	dir := "DESC"
	if first {
		dir = "ASC"
	}
	q := profileSeenSQLite
	if s.dialect == DialectPostgres {
		q = profileSeenPostgres
	}
	return fmt.Sprintf(q, dir, dir), []any{profileID, profileID, MaxHistoryNames, profileID, until.UTC()}
}
