package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// GroupAborted is how many group-commit batches a statement aborted (0
// without group commit), for tests in store_test.
func (s *Store) GroupAborted() int64 {
	if s.group == nil {
		return 0
	}
	return s.group.aborted.Load()
}

func TestRolledBack(t *testing.T) {
	pg := func(severity, code string) error {
		return fmt.Errorf("wrapped: %w", &pgconn.PgError{Severity: severity, SeverityUnlocalized: severity, Code: code})
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{pg("ERROR", "23505"), true},  // a unique violation: refused, rolled back
		{pg("ERROR", "22P02"), true},  // a bad value
		{pg("ERROR", "40001"), true},  // serialization failure
		{pg("FATAL", "57P01"), false}, // admin shutdown: may follow the commit
		{pg("FATAL", "57P02"), false}, // crash shutdown
		{pg("ERROR", "57014"), false}, // query cancelled: operator class
		{pg("FATAL", "08006"), false}, // connection failure
		{pg("PANIC", "XX000"), false}, // the server is going down
		{&pgconn.PgError{Severity: "ERREUR", SeverityUnlocalized: "ERROR", Code: "23505"}, true}, // a localized server
		{errors.New("unexpected EOF"), false},                                                    // not the server's answer
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		require.Equal(t, c.want, rolledBack(c.err), "%v", c.err)
	}
}

// A caller arriving after close gets an error instead of waiting forever
// on an op no loop will take.
func TestCommitterClosed(t *testing.T) {
	c := newCommitter(nil)
	c.close()
	done := make(chan error, 1)
	go func() {
		_, err := c.exec(context.Background(), "SELECT 1")
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, errStoreClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("exec after close never returned")
	}
}

type safeToRetry struct{ safe bool }

func (e safeToRetry) Error() string     { return "write failed" }
func (e safeToRetry) SafeToRetry() bool { return e.safe }

// Only an error that certainly came before anything reached the server
// lets the committer send a batch again.
func TestNotSent(t *testing.T) {
	require.True(t, notSent(fmt.Errorf("%w: %w", errNoConn, errors.New("connection refused"))))
	require.True(t, notSent(fmt.Errorf("sending: %w", safeToRetry{true})))
	require.False(t, notSent(safeToRetry{false}), "maybe sent")
	require.False(t, notSent(errors.New("unexpected EOF")))
	require.False(t, notSent(&pgconn.PgError{Severity: "ERROR", Code: "23505"}))
	require.False(t, notSent(nil))
}

// A batch that cannot get a connection is answered (after one more try)
// with an error that says nothing was sent.
func TestCommitterNoConnection(t *testing.T) {
	db, err := sql.Open("pgx", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1&sslmode=disable")
	require.NoError(t, err)
	defer db.Close()
	c := newCommitter(db)
	defer c.close()
	_, err = c.exec(context.Background(), "SELECT 1")
	require.Error(t, err)
	require.True(t, notSent(err), "%v", err)
}
