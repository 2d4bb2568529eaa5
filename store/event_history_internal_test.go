package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/waymarkhq/waymark/internal/testenv"
)

// The history queries behind count, sum, last("name"), first_seen and
// last_seen are range scans of events_profile_idx (profile_id, name,
// occurred_at) on both stores, never a scan of the events table
// (PostgreSQL is told not to scan tables, so the plan shows whether the
// index can serve the query at all).
func TestEventHistoryPlans(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if dialect == DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			ctx := context.Background()
			s, err := Open(ctx, url, Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			_, err = s.Migrate(ctx)
			require.NoError(t, err)

			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			since := now.Add(-30 * 24 * time.Hour)
			raw := func(q string, args []any) (string, []any) {
				var n int64
				st := s.db.Session(&gorm.Session{DryRun: true}).Raw(q, args...).Scan(&n).Statement
				return st.SQL.String(), st.Vars
			}
			for _, tc := range []struct {
				name  string
				query func() (string, []any)
			}{
				{"count", func() (string, []any) { return raw(countEventsQuery("p", "purchase", since, now, 0)) }},
				{"sum", func() (string, []any) { return raw(s.sumEventsQuery("p", "purchase", "total", since, now, 0)) }},
				{"last", func() (string, []any) {
					st := lastEventScope(s.db.Session(&gorm.Session{DryRun: true}), "p", "purchase", now).Take(&eventRow{}).Statement
					return st.SQL.String(), st.Vars
				}},
				{"first_seen", func() (string, []any) { return raw(s.profileSeenQuery("p", now, true)) }},
				{"last_seen", func() (string, []any) { return raw(s.profileSeenQuery("p", now, false)) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					q, vars := tc.query()
					plan := explain(t, s, q, vars)
					require.Contains(t, plan, "events_profile_idx", plan)
					for _, bad := range []string{"Seq Scan on events", "SCAN events\n", "SCAN e\n", "SCAN x\n", "Hash Join", "Seq Scan"} {
						require.NotContains(t, plan+"\n", bad, plan)
					}
					if tc.name != "sum" && tc.name != "first_seen" && tc.name != "last_seen" {
						require.False(t, strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "Sort"), plan)
					}
				})
			}
		})
	}
}
