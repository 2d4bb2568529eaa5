// Package testenv finds the services that integration tests need.
//
// Tests that need PostgreSQL or Redis read WAYMARK_TEST_DATABASE_URL and
// WAYMARK_TEST_REDIS_URL. Without them a test skips with a loud reason,
// except under CI=true, where a missing service fails the run.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// CI reports whether the tests run in CI, where every service must be present.
func CI() bool { return os.Getenv("CI") == "true" }

func require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if CI() {
			t.Fatalf("%s is not set and CI=true: this test needs the service (see .ci/run)", name)
		}
		t.Skipf("SKIPPING: %s is not set; set it to run this test against the real service", name)
	}
	return v
}

// Redis logical databases by test package: Asynq servers in one package
// must not take another package's tasks when `go test ./...` runs packages
// in parallel.
const (
	RedisDBWorker = 1
	RedisDBCmd    = 2
	RedisDBUI     = 3
	// RedisDBConnectors: connector rate limits and resolver tests.
	RedisDBConnectors = 4
	// RedisDBEngine: the engine's end-to-end tests, which flush their DB.
	RedisDBEngine = 5
	// RedisDBFault: cmd's process-kill test, which flushes its DB.
	RedisDBFault = 6
	// RedisDBTriggers: segment and schedule trigger leader tests.
	RedisDBTriggers = 7
	// RedisDBScale: cmd's 1 web + 3 workers test, which flushes its DB.
	RedisDBScale = 8
)

// RedisURL returns the test Redis URL pointed at logical database db.
func RedisURL(t testing.TB, db int) string {
	t.Helper()
	u, err := url.Parse(require(t, "WAYMARK_TEST_REDIS_URL"))
	if err != nil {
		t.Fatalf("WAYMARK_TEST_REDIS_URL: %v", err)
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

// PostgresURL returns a URL for a fresh, empty schema in the test PostgreSQL
// database; the schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := require(t, "WAYMARK_TEST_DATABASE_URL")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("WAYMARK_TEST_DATABASE_URL: %v", err)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating test schema (is PostgreSQL running at %s?): %v", u.Host, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLiteURL returns a URL for a fresh SQLite file in the test's temp dir.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + t.TempDir() + "/waymark.db"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Chromium returns the path of the Chromium binary for browser tests, from
// WAYMARK_TEST_CHROMIUM (e.g. /usr/bin/chromium). Without it the test skips
// loudly, or fails under CI=true.
func Chromium(t testing.TB) string {
	t.Helper()
	p := require(t, "WAYMARK_TEST_CHROMIUM")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("WAYMARK_TEST_CHROMIUM=%s: %v (install it with `apt-get install -y chromium`)", p, err)
	}
	return p
}

// Binary returns the path of a program a test runs (e.g. redis-server for
// the Sentinel and Cluster tests). Without it the test skips loudly, or
// fails under CI=true (.ci/run installs it).
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if CI() {
			t.Fatalf("%s is not installed and CI=true: this test needs it (see .ci/run)", name)
		}
		t.Skipf("SKIPPING: %s is not installed; install it to run this test", name)
	}
	return p
}
