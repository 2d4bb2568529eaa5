package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

// allowBelow lets an attempt go ahead while the account has fewer than acc
// failures and the IP fewer than ip; otherwise it must wait a minute.
func allowBelow(acc, ip int64) store.LoginCheck {
	return func(a, i store.LoginFailures) time.Duration {
		if a.Count >= acc || i.Count >= ip {
			return time.Minute
		}
		return 0
	}
}

func TestReserveLoginAttempt(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		since := b.clock.Now().Add(-time.Hour)
		check := allowBelow(3, 5)
		var ids []int64
		for i := 0; i < 3; i++ {
			r, err := b.store.ReserveLoginAttempt(b.ctx, " Ada@Example.com", "1.2.3.4", since, check)
			require.NoError(t, err)
			require.NotZero(t, r.ID)
			require.Zero(t, r.Wait)
			ids = append(ids, r.ID)
			b.clock.Add(time.Second)
		}
		// A reservation counts as a failure at once, under the normalised email.
		f, err := b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", since)
		require.NoError(t, err)
		require.EqualValues(t, 3, f.Count)
		r, err := b.store.ReserveLoginAttempt(b.ctx, "ada@example.com", "5.6.7.8", since, check)
		require.NoError(t, err)
		require.Zero(t, r.ID, "refused")
		require.Equal(t, time.Minute, r.Wait)
		f, err = b.store.LoginFailuresForIP(b.ctx, "5.6.7.8", since)
		require.NoError(t, err)
		require.Zero(t, f.Count, "a refused attempt records nothing")

		// Released: counts against no one.
		require.NoError(t, b.store.ReleaseLoginAttempt(b.ctx, ids[2]))
		f, err = b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", since)
		require.NoError(t, err)
		require.EqualValues(t, 2, f.Count)

		// Succeeded: clears the account's run, not the IP's.
		r, err = b.store.ReserveLoginAttempt(b.ctx, "ada@example.com", "1.2.3.4", since, check)
		require.NoError(t, err)
		require.NotZero(t, r.ID)
		require.NoError(t, b.store.MarkLoginAttemptSucceeded(b.ctx, r.ID))
		f, err = b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", since)
		require.NoError(t, err)
		require.Zero(t, f.Count)
		f, err = b.store.LoginFailuresForIP(b.ctx, "1.2.3.4", since)
		require.NoError(t, err)
		require.EqualValues(t, 2, f.Count)
		require.ErrorIs(t, b.store.MarkLoginAttemptSucceeded(b.ctx, ids[2]), store.ErrNotFound, "released rows are gone")
	})
}

// TestReserveLoginAttemptConcurrently races reservations from two Store
// handles on one database, as two `waymark web` processes would: exactly
// the allowance goes ahead, per account and per IP.
func TestReserveLoginAttemptConcurrently(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if dialect == store.DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			b := setup(t, url)
			other, err := store.Open(b.ctx, url, store.Options{Now: b.clock.Now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = other.Close() })
			stores := []*store.Store{b.store, other}
			since := b.clock.Now().Add(-time.Hour)

			race := func(n int, email, ip func(i int) string, check store.LoginCheck) int {
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					reserved int
				)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := stores[i%2].ReserveLoginAttempt(context.Background(), email(i), ip(i), since, check)
						if !assert.NoError(t, err) { // not require: this is not the test's goroutine
							return
						}
						if r.ID != 0 {
							mu.Lock()
							reserved++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				return reserved
			}
			same := func(s string) func(int) string { return func(int) string { return s } }

			// One account from many IPs: 5 go ahead.
			got := race(30, same("t2@example.com"), func(i int) string { return fmt.Sprintf("10.0.0.%d", i) }, allowBelow(5, 20))
			require.Equal(t, 5, got)
			// Many accounts from one IP: 20 go ahead.
			got = race(30, func(i int) string { return fmt.Sprintf("u%d@example.com", i) }, same("10.9.9.9"), allowBelow(5, 20))
			require.Equal(t, 20, got)
			f, err := b.store.LoginFailuresForIP(b.ctx, "10.9.9.9", since)
			require.NoError(t, err)
			require.EqualValues(t, 20, f.Count)
		})
	}
}
