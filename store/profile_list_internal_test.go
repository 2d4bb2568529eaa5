package store

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/waymarkhq/waymark/internal/testenv"
)

// The Profiles page's queries are index range scans in the index's order
// on both stores: no table scan, no sort, whatever the table holds
// (PostgreSQL is told not to scan the table, so the plan shows whether an
// index can serve the query at all).
func TestProfileListPlans(t *testing.T) {
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

			parts := profileParts("+1 415")
			require.Len(t, parts, 3)
			all := profileParts("")[0]
			cond := &AttributeCondition{Name: "plan", Op: AttrIs, Value: "pro"}
			for _, tc := range []struct {
				name  string
				query func() *gorm.DB
				index string
			}{
				{"every profile", func() *gorm.DB {
					return s.partRows(ctx, "w", all, &profileCursor{Key: "ada"}, nil, nil).Session(&gorm.Session{DryRun: true}).Limit(51).Find(&[]profileRow{})
				}, map[string]string{DialectSQLite: "profiles_external_key", DialectPostgres: "profiles_list_external_idx"}[dialect]},
				{"external id prefix, with a condition", func() *gorm.DB {
					return s.partRows(ctx, "w", parts[0], nil, &profileCursor{Key: "+1 415z"}, cond).Session(&gorm.Session{DryRun: true}).Limit(51).Find(&[]profileRow{})
				}, map[string]string{DialectSQLite: "profiles_external_key", DialectPostgres: "profiles_list_external_idx"}[dialect]},
				{"email prefix after a cursor", func() *gorm.DB {
					return s.partRows(ctx, "w", parts[1], &profileCursor{Part: 1, Key: "+1 415", ID: "x"}, nil, nil).Session(&gorm.Session{DryRun: true}).Limit(51).Find(&[]profileRow{})
				}, "profiles_list_email_idx"},
				{"phone prefix", func() *gorm.DB {
					return s.partRows(ctx, "w", parts[2], nil, nil, nil).Session(&gorm.Session{DryRun: true}).Limit(51).Find(&[]profileRow{})
				}, "profiles_list_phone_idx"},
				{"a condition's window", func() *gorm.DB {
					var row struct{ Key, ID string }
					return s.windowScope(ctx, "w", parts[2], &profileCursor{Part: 2, Key: "+1", ID: "x"}, 5000).Session(&gorm.Session{DryRun: true}).Take(&row)
				}, "profiles_list_phone_idx"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := tc.query().Statement
					plan := explain(t, s, st.SQL.String(), st.Vars)
					require.Contains(t, plan, tc.index, plan)
					for _, bad := range []string{"Sort", "TEMP B-TREE", "Seq Scan", "SCAN profiles\n"} {
						require.NotContains(t, plan+"\n", bad, plan)
					}
				})
			}
		})
	}
}

func explain(t *testing.T, s *Store, sql string, vars []any) string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	q := "EXPLAIN QUERY PLAN " + sql
	if s.dialect == DialectPostgres {
		_, err = tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off")
		require.NoError(t, err)
		q = "EXPLAIN " + sql
	}
	rows, err := tx.QueryContext(ctx, q, vars...)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		line := vals[len(vals)-1]
		if b, ok := line.([]byte); ok {
			line = string(b)
		}
		lines = append(lines, strings.TrimSpace(toString(line)))
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
