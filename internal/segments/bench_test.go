package segments_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

// seedProfiles inserts n profiles straight into the SQLite file (one
// transaction; the store's upsert would take minutes for 100,000):
// plan pro/free/team, age 18–77, signed_up within the last 400 days,
// email consent granted for a third.
func seedProfiles(b *testing.B, url string, n int) {
	b.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:"))
	require.NoError(b, err)
	defer db.Close()
	tx, err := db.Begin()
	require.NoError(b, err)
	stmt, err := tx.Prepare(`INSERT INTO profiles (id, workspace_id, external_id, email, phone, timezone, locale, attributes, consent, created_at, updated_at)
		VALUES (?, ?, ?, ?, '', '', '', ?, ?, ?, ?)`)
	require.NoError(b, err)
	plans := []string{"pro", "free", "team"}
	for i := range n {
		attrs, _ := json.Marshal(map[string]any{"plan": plans[i%3], "age": 18 + i%60,
			"signed_up": now.AddDate(0, 0, -(i % 400)).Format(time.DateOnly)})
		consent := "{}"
		if i%3 == 1 {
			consent = `{"email": {"status": "granted", "source": "bench", "at": "2026-01-01T00:00:00Z"}}`
		}
		_, err := stmt.Exec(store.NewID(), store.DefaultWorkspaceID, fmt.Sprintf("u%06d", i), fmt.Sprintf("u%06d@example.com", i),
			string(attrs), consent, now, now)
		require.NoError(b, err)
	}
	require.NoError(b, stmt.Close())
	require.NoError(b, tx.Commit())
}

// BenchmarkSegmentEstimate: the audience estimate of a 3-condition rule
// over 100,000 SQLite profiles, counted in SQL (plan is pro, age ≥ 30,
// no email consent), of an email prefix the (workspace_id, email) index
// serves, and of a date rule, which has no SQL form and
// is evaluated profile by profile within the scan budget. Time per
// estimate is the figure (goal: under 1 s); it is reported, never
// asserted.
func BenchmarkSegmentEstimate(b *testing.B) {
	url := testenv.SQLiteURL(b)
	bd := open(b, url, segments.Options{ScanTime: 30 * time.Second, ScanRows: 1_000_000})
	seedProfiles(b, url, 100_000)
	cases := []struct{ name, rules string }{
		{"sql_3_conditions", `{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"},
			{"attribute":"age","type":"number","op":"gte","value":30},{"consent":"email","op":"not_granted"}]}`},
		{"sql_email_prefix_index", `{"match":"all","rules":[{"field":"email","op":"starts_with","value":"u0001"},
			{"attribute":"plan","type":"string","op":"is","value":"pro"}]}`},
		{"scan_date_rule", `{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"},
			{"attribute":"signed_up","type":"date","op":"within_days","value":30}]}`},
	}
	for _, c := range cases {
		r, err := segments.ParseRules(c.rules)
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) {
			var est segments.Estimate
			for b.Loop() {
				est, err = bd.svc.Estimate(bd.ctx, bd.ws, segments.EstimateInput{Rules: &r})
				require.NoError(b, err)
			}
			b.ReportMetric(float64(est.Count), "matched")
			b.ReportMetric(float64(est.Scanned), "scanned")
			b.Logf("%s: %s by %s", c.name, est, est.Method)
		})
	}
}
