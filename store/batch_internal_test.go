package store

import (
	"context"
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
