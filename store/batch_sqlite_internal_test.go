package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
)

// SQLite's group commit runs concurrent callers' writes in one
// transaction, each in a savepoint: a caller whose write fails sees its
// error and nothing of its write is kept; the others commit together.
func TestLiteGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, testenv.SQLiteURL(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.sqlDB.Exec(`CREATE TABLE gc (k TEXT PRIMARY KEY)`)
	require.NoError(t, err)

	// The first write holds the committer until every other caller is
	// queued, so that they all go in the next batch.
	const callers = 30
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.lite.do(ctx, func(tx *sql.Tx) error {
			<-release
			_, err := tx.Exec(`INSERT INTO gc (k) VALUES ('first')`)
			return err
		})
	}()
	for s.lite.batches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.lite.do(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO gc (k) VALUES (?)`, fmt.Sprint(i)); err != nil {
					return err
				}
				if i%3 == 0 {
					// A second write that fails: a duplicate key.
					_, err := tx.Exec(`INSERT INTO gc (k) VALUES ('first')`)
					return err
				}
				if i%3 == 1 {
					return errors.New("the caller gives up")
				}
				return nil
			})
		}()
	}
	for len(s.lite.ops) < callers {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	require.NoError(t, <-first)
	require.Equal(t, int64(3), s.lite.batches.Load(), "the waiting callers share one transaction: tried without savepoints, then run again in them")
	require.Equal(t, int64(1), s.lite.retried.Load())

	var kept []string
	rows, err := s.sqlDB.Query(`SELECT k FROM gc WHERE k <> 'first' ORDER BY CAST(k AS INTEGER)`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		kept = append(kept, k)
	}
	require.NoError(t, rows.Err())
	var want []string
	for i := range callers {
		switch i % 3 {
		case 0:
			require.True(t, isUniqueViolation(errs[i]), "caller %d: %v", i, errs[i])
		case 1:
			require.EqualError(t, errs[i], "the caller gives up")
		default:
			require.NoError(t, errs[i])
			want = append(want, fmt.Sprint(i))
		}
	}
	require.Equal(t, want, kept, "only the writes of the callers that succeeded are kept, each whole")
}

// A batch whose writes all succeed commits without savepoints, once; each
// caller's writes are kept.
func TestLiteGroupCommitWithoutFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, testenv.SQLiteURL(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.sqlDB.Exec(`CREATE TABLE gc (k TEXT PRIMARY KEY)`)
	require.NoError(t, err)
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.lite.do(ctx, func(tx *sql.Tx) error {
			<-release
			_, err := tx.Exec(`INSERT INTO gc (k) VALUES ('first')`)
			return err
		})
	}()
	for s.lite.batches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const callers = 20
	runs := make([]int, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.lite.do(ctx, func(tx *sql.Tx) error {
				runs[i]++
				_, err := tx.Exec(`INSERT INTO gc (k) VALUES (?)`, fmt.Sprint(i))
				return err
			})
		}()
	}
	for len(s.lite.ops) < callers {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	require.NoError(t, <-first)
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, 1, runs[i], "caller %d's write ran once", i)
	}
	require.Equal(t, int64(2), s.lite.batches.Load())
	require.Zero(t, s.lite.retried.Load())
	var n int
	require.NoError(t, s.sqlDB.QueryRow(`SELECT count(*) FROM gc`).Scan(&n))
	require.Equal(t, callers+1, n)
}

// A caller arriving while the store closes gets "the store is closed",
// never a wait.
func TestLiteGroupCommitClosed(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), testenv.SQLiteURL(t), Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	err = s.lite.do(context.Background(), func(*sql.Tx) error { return nil })
	require.ErrorIs(t, err, errStoreClosed)
}

// The statement journals of the group commit's savepoints stay in memory
// (temp_store = MEMORY, 2), not in temporary files.
func TestLiteTempStoreInMemory(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), testenv.SQLiteURL(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var mode int
	require.NoError(t, s.sqlDB.QueryRow(`PRAGMA temp_store`).Scan(&mode))
	require.Equal(t, 2, mode)
}
