package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	ctx   context.Context
	store *store.Store
	clock *clock
	ws    string
}

// conformance runs fn against a fresh, migrated SQLite store and a fresh
// PostgreSQL schema: every repository method must behave the same on both.
func conformance(t *testing.T, fn func(t *testing.T, b testBundle)) {
	t.Helper()
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var url string
			if dialect == store.DialectSQLite {
				url = testenv.SQLiteURL(t)
			} else {
				url = testenv.PostgresURL(t)
			}
			fn(t, setup(t, url))
		})
	}
}

func setup(t *testing.T, url string) testBundle {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, err := store.Open(ctx, url, store.Options{Now: c.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	applied, err := s.Migrate(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	_, err = s.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	return testBundle{ctx: ctx, store: s, clock: c, ws: store.DefaultWorkspaceID}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, dialect, dsn, err string
	}{
		{name: "postgres", url: "postgres://u:p@localhost:5432/db?sslmode=disable", dialect: "postgres", dsn: "postgres://u:p@localhost:5432/db?sslmode=disable"},
		{name: "postgresql", url: "postgresql://localhost/db", dialect: "postgres", dsn: "postgresql://localhost/db"},
		{name: "sqlite relative", url: "sqlite:./data/waymark.db", dialect: "sqlite", dsn: "./data/waymark.db"},
		{name: "sqlite slashes", url: "sqlite:///var/lib/w.db", dialect: "sqlite", dsn: "/var/lib/w.db"},
		{name: "file", url: "file:w.db?mode=rwc", dialect: "sqlite", dsn: "w.db"},
		{name: "mysql", url: "mysql://localhost/db", err: `unsupported database URL scheme "mysql"`},
		{name: "garbage", url: "not a url", err: "unsupported database URL scheme"},
		{name: "no host", url: "postgres:///db", err: "no host"},
		{name: "bad port", url: "postgres://u:secret@localhost:99999999x/db", err: "malformed PostgreSQL URL"},
		{name: "empty sqlite", url: "sqlite:", err: "no file path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, dsn, err := store.ParseURL(tt.url)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.dialect, d)
			require.Equal(t, tt.dsn, dsn)
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		cur, latest, err := b.store.SchemaVersion(b.ctx)
		require.NoError(t, err)
		require.Equal(t, latest, cur)
		require.GreaterOrEqual(t, latest, int64(1))
		// A second run applies nothing.
		applied, err := b.store.Migrate(b.ctx)
		require.NoError(t, err)
		require.Empty(t, applied)
		require.NoError(t, b.store.Ping(b.ctx))
		require.Contains(t, []string{"sqlite", "postgres"}, b.store.Dialect())
	})
}

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		w, err := b.store.EnsureWorkspace(b.ctx, "acme", "Acme")
		require.NoError(t, err)
		require.Equal(t, "Acme", w.Name)
		again, err := b.store.EnsureWorkspace(b.ctx, "acme", "Other name")
		require.NoError(t, err)
		require.Equal(t, "Acme", again.Name, "existing workspace is returned, not renamed")
	})
}

func newUser(t *testing.T, b testBundle, email string, role store.Role) store.User {
	t.Helper()
	u, err := b.store.CreateUser(b.ctx, store.User{WorkspaceID: b.ws, Email: email, Name: "N", PasswordHash: "hash", Role: role})
	require.NoError(t, err)
	return u
}

func TestUsers(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		n, err := b.store.CountUsers(b.ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		u := newUser(t, b, "  Ada@Example.COM ", store.RoleAdmin)
		require.Equal(t, "ada@example.com", u.Email)
		require.NotEmpty(t, u.ID)

		_, err = b.store.CreateUser(b.ctx, store.User{WorkspaceID: b.ws, Email: "ADA@example.com", PasswordHash: "x", Role: store.RoleViewer})
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.store.GetUserByEmail(b.ctx, "ada@EXAMPLE.com")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, store.RoleAdmin, got.Role)

		got, err = b.store.GetUser(b.ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "hash", got.PasswordHash)
		require.Nil(t, got.LastLoginAt)

		_, err = b.store.GetUser(b.ctx, "missing")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.store.GetUserByEmail(b.ctx, "nobody@example.com")
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, b.store.SetUserPassword(b.ctx, u.ID, "hash2"))
		require.ErrorIs(t, b.store.SetUserPassword(b.ctx, "missing", "x"), store.ErrNotFound)
		b.clock.Add(time.Minute)
		require.NoError(t, b.store.RecordLogin(b.ctx, u.ID))
		got, err = b.store.GetUser(b.ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "hash2", got.PasswordHash)
		require.NotNil(t, got.LastLoginAt)
		require.True(t, got.LastLoginAt.Equal(b.clock.Now()), "last login %v", got.LastLoginAt)

		newUser(t, b, "bob@example.com", store.RoleViewer)
		list, err := b.store.ListUsers(b.ctx, b.ws)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "ada@example.com", list[0].Email)
		other, err := b.store.ListUsers(b.ctx, "other")
		require.NoError(t, err)
		require.Empty(t, other)

		n, err = b.store.CountUsers(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)

		// The role check is in the schema too.
		_, err = b.store.CreateUser(b.ctx, store.User{WorkspaceID: b.ws, Email: "x@example.com", PasswordHash: "x", Role: "root"})
		require.Error(t, err)
		require.True(t, store.RoleEditor.Valid())
		require.False(t, store.Role("root").Valid())
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		u := newUser(t, b, "ada@example.com", store.RoleEditor)
		exp := b.clock.Now().Add(time.Hour)
		s, err := b.store.CreateSession(b.ctx, store.Session{ID: "h1", UserID: u.ID, WorkspaceID: b.ws, CSRFToken: "c1", IP: "127.0.0.1", UserAgent: "ua", ExpiresAt: exp})
		require.NoError(t, err)
		require.True(t, s.CreatedAt.Equal(b.clock.Now()))
		_, err = b.store.CreateSession(b.ctx, store.Session{ID: "h1", UserID: u.ID, WorkspaceID: b.ws, CSRFToken: "c", ExpiresAt: exp})
		require.ErrorIs(t, err, store.ErrConflict)

		got, gotUser, err := b.store.GetSession(b.ctx, "h1")
		require.NoError(t, err)
		require.Equal(t, "c1", got.CSRFToken)
		require.Equal(t, u.ID, gotUser.ID)
		require.True(t, got.ExpiresAt.Equal(exp))

		b.clock.Add(10 * time.Minute)
		require.NoError(t, b.store.TouchSession(b.ctx, "h1"))
		got, _, err = b.store.GetSession(b.ctx, "h1")
		require.NoError(t, err)
		require.True(t, got.LastSeenAt.Equal(b.clock.Now()))
		require.ErrorIs(t, b.store.TouchSession(b.ctx, "nope"), store.ErrNotFound)

		// Expired sessions are gone for GetSession and cleaned by DeleteExpiredSessions.
		_, err = b.store.CreateSession(b.ctx, store.Session{ID: "h2", UserID: u.ID, WorkspaceID: b.ws, CSRFToken: "c2", ExpiresAt: b.clock.Now().Add(time.Minute)})
		require.NoError(t, err)
		b.clock.Add(2 * time.Minute)
		_, _, err = b.store.GetSession(b.ctx, "h2")
		require.ErrorIs(t, err, store.ErrNotFound)
		n, err := b.store.DeleteExpiredSessions(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		require.NoError(t, b.store.DeleteSession(b.ctx, "h1"))
		require.NoError(t, b.store.DeleteSession(b.ctx, "h1"), "deleting twice is fine")
		_, _, err = b.store.GetSession(b.ctx, "h1")
		require.ErrorIs(t, err, store.ErrNotFound)

		for _, id := range []string{"a", "b"} {
			_, err = b.store.CreateSession(b.ctx, store.Session{ID: id, UserID: u.ID, WorkspaceID: b.ws, CSRFToken: "c", ExpiresAt: b.clock.Now().Add(time.Hour)})
			require.NoError(t, err)
		}
		n, err = b.store.DeleteUserSessions(b.ctx, u.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		k, err := b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: b.ws, Name: "ci", Prefix: "wmk_abc", KeyHash: "hash1", Scopes: []string{"events:write", "journeys:read"}, CreatedBy: "cli"})
		require.NoError(t, err)
		require.NotEmpty(t, k.ID)
		_, err = b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: b.ws, Name: "dup", Prefix: "wmk_abc", KeyHash: "hash1", Scopes: []string{"admin"}})
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.store.GetAPIKeyByHash(b.ctx, "hash1")
		require.NoError(t, err)
		require.Equal(t, []string{"events:write", "journeys:read"}, got.Scopes)
		require.True(t, got.HasScope("events:write"))
		require.False(t, got.HasScope("admin"))
		require.True(t, got.Usable(b.clock.Now()))
		_, err = b.store.GetAPIKeyByHash(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)

		b.clock.Add(time.Second)
		require.NoError(t, b.store.TouchAPIKey(b.ctx, k.ID))
		require.ErrorIs(t, b.store.TouchAPIKey(b.ctx, "nope"), store.ErrNotFound)

		b.clock.Add(time.Second)
		k2, err := b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: b.ws, Name: "admin", Prefix: "wmk_def", KeyHash: "hash2", Scopes: []string{"admin"}})
		require.NoError(t, err)
		require.True(t, k2.HasScope("journeys:write"), "admin implies every scope")
		list, err := b.store.ListAPIKeys(b.ctx, b.ws)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, k2.ID, list[0].ID, "newest first")
		require.NotNil(t, list[1].LastUsedAt)

		require.ErrorIs(t, b.store.RevokeAPIKey(b.ctx, "other", k.ID), store.ErrNotFound, "another workspace cannot revoke")
		require.NoError(t, b.store.RevokeAPIKey(b.ctx, b.ws, k.ID))
		first, err := b.store.GetAPIKeyByHash(b.ctx, "hash1")
		require.NoError(t, err)
		require.NotNil(t, first.RevokedAt)
		require.False(t, first.Usable(b.clock.Now()))
		b.clock.Add(time.Hour)
		require.NoError(t, b.store.RevokeAPIKey(b.ctx, b.ws, k.ID))
		again, err := b.store.GetAPIKeyByHash(b.ctx, "hash1")
		require.NoError(t, err)
		require.True(t, again.RevokedAt.Equal(*first.RevokedAt), "second revoke keeps the first time")

		exp := b.clock.Now().Add(time.Minute)
		k3, err := b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: b.ws, Name: "short", Prefix: "p", KeyHash: "hash3", Scopes: []string{"admin"}, ExpiresAt: &exp})
		require.NoError(t, err)
		require.True(t, k3.Usable(b.clock.Now()))
		require.False(t, k3.Usable(exp))
	})
}

func doc(name string) json.RawMessage {
	return json.RawMessage(`{"format": 1, "name": "` + name + `", "nodes": [], "edges": []}`)
}

func TestJourneys(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Welcome", Draft: doc("Welcome"), CreatedBy: "u1", HookKey: "hk1"})
		require.NoError(t, err)
		require.Equal(t, store.JourneyDraft, j.Status)
		require.Equal(t, 1, j.DraftRevision)
		require.Zero(t, j.LiveVersion)
		require.Equal(t, "hk1", j.HookKey)
		_, err = b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Dup hook", Draft: doc("x"), HookKey: "hk1"})
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.store.GetJourney(b.ctx, b.ws, j.ID)
		require.NoError(t, err)
		require.JSONEq(t, string(doc("Welcome")), string(got.Draft))
		_, err = b.store.GetJourney(b.ctx, "other", j.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another workspace sees nothing")
		byHook, err := b.store.GetJourneyByHookKey(b.ctx, "hk1")
		require.NoError(t, err)
		require.Equal(t, j.ID, byHook.ID)
		_, err = b.store.GetJourneyByHookKey(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, b.store.SetJourneyHookKey(b.ctx, b.ws, j.ID, "hk2"))
		_, err = b.store.GetJourneyByHookKey(b.ctx, "hk1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.store.SetJourneyHookKey(b.ctx, "other", j.ID, "hk3"), store.ErrNotFound)

		// Drafts: optimistic concurrency on the revision.
		j2, err := b.store.UpdateDraft(b.ctx, b.ws, j.ID, 1, "Welcome v2", doc("Welcome v2"), "u2")
		require.NoError(t, err)
		require.Equal(t, 2, j2.DraftRevision)
		require.Equal(t, "Welcome v2", j2.Name)
		require.Equal(t, "u2", j2.UpdatedBy)
		_, err = b.store.UpdateDraft(b.ctx, b.ws, j.ID, 1, "stale", doc("stale"), "u3")
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, "stale")
		_, err = b.store.UpdateDraft(b.ctx, b.ws, "missing", 1, "x", doc("x"), "u3")
		require.ErrorIs(t, err, store.ErrNotFound)

		// Status changes need a published version.
		_, err = b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, store.JourneyPaused, "u1")
		require.ErrorIs(t, err, store.ErrConflict)

		v1, err := b.store.PublishJourney(b.ctx, b.ws, j.ID, doc("v1"), "u1")
		require.NoError(t, err)
		require.Equal(t, 1, v1.Version)
		v2, err := b.store.PublishJourney(b.ctx, b.ws, j.ID, doc("v2"), "u1")
		require.NoError(t, err)
		require.Equal(t, 2, v2.Version)
		_, err = b.store.PublishJourney(b.ctx, "other", j.ID, doc("v3"), "u1")
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err = b.store.GetJourney(b.ctx, b.ws, j.ID)
		require.NoError(t, err)
		require.Equal(t, store.JourneyLive, got.Status)
		require.Equal(t, 2, got.LiveVersion)

		versions, err := b.store.ListJourneyVersions(b.ctx, b.ws, j.ID)
		require.NoError(t, err)
		require.Len(t, versions, 2)
		require.Equal(t, 2, versions[0].Version)
		require.Nil(t, versions[0].Document)
		_, err = b.store.ListJourneyVersions(b.ctx, "other", j.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		gv, err := b.store.GetJourneyVersion(b.ctx, b.ws, j.ID, 1)
		require.NoError(t, err)
		require.JSONEq(t, string(doc("v1")), string(gv.Document))
		_, err = b.store.GetJourneyVersion(b.ctx, b.ws, j.ID, 9)
		require.ErrorIs(t, err, store.ErrNotFound)

		paused, err := b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, store.JourneyPaused, "u1")
		require.NoError(t, err)
		require.Equal(t, store.JourneyPaused, paused.Status)
		_, err = b.store.PublishJourney(b.ctx, b.ws, j.ID, doc("v3"), "u1")
		require.NoError(t, err)
		got, err = b.store.GetJourney(b.ctx, b.ws, j.ID)
		require.NoError(t, err)
		require.Equal(t, store.JourneyPaused, got.Status, "publishing keeps a paused journey paused")
		require.Equal(t, 3, got.LiveVersion)
		_, err = b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, "bogus", "u1")
		require.Error(t, err)
		_, err = b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, store.JourneyArchived, "u1")
		require.NoError(t, err)
		_, err = b.store.PublishJourney(b.ctx, b.ws, j.ID, doc("v4"), "u1")
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, store.JourneyLive, "u1")
		require.ErrorIs(t, err, store.ErrConflict)

		// Listing: archived hidden by default, search, paging.
		for _, n := range []string{"Cart 100%", "Birthday", "Cart_reminder"} {
			_, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: n, Draft: doc(n)})
			require.NoError(t, err)
		}
		list, next, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{})
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Empty(t, next)
		require.Equal(t, "Cart_reminder", list[0].Name, "newest first")
		all, _, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Status: "all"})
		require.NoError(t, err)
		require.Len(t, all, 4)
		arch, _, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Status: store.JourneyArchived})
		require.NoError(t, err)
		require.Len(t, arch, 1)
		found, _, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Search: "CART"})
		require.NoError(t, err)
		require.Len(t, found, 2)
		found, _, err = b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Search: "100%"})
		require.NoError(t, err)
		require.Len(t, found, 1, "%% is matched literally")
		found, _, err = b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Search: "t_r"})
		require.NoError(t, err)
		require.Len(t, found, 1, "_ is matched literally")
		page1, next, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page1, 2)
		require.NotEmpty(t, next)
		page2, next, err := b.store.ListJourneys(b.ctx, b.ws, store.JourneyFilter{Limit: 2, After: next})
		require.NoError(t, err)
		require.Len(t, page2, 1)
		require.Empty(t, next)
		none, _, err := b.store.ListJourneys(b.ctx, "other", store.JourneyFilter{Status: "all"})
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

func TestPublishConcurrently(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Race", Draft: doc("Race")})
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := b.store.PublishJourney(b.ctx, b.ws, j.ID, doc("v"), "u")
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		versions, err := b.store.ListJourneyVersions(b.ctx, b.ws, j.ID)
		require.NoError(t, err)
		require.Len(t, versions, 8, "each publish gets its own number")
		require.Equal(t, 8, versions[0].Version)
	})
}

func TestAudit(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		e, err := b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: b.ws, ActorType: "user", ActorID: "u1", Action: "journey.publish", TargetType: "journey", TargetID: "j1", Summary: map[string]any{"version": 2}, IP: "127.0.0.1"})
		require.NoError(t, err)
		require.NotZero(t, e.ID)
		_, err = b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: b.ws, ActorType: "system", Action: "user.create", TargetType: "user", TargetID: "u2"})
		require.NoError(t, err)
		list, err := b.store.ListAudit(b.ctx, b.ws, store.AuditFilter{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "user.create", list[0].Action, "newest first")
		require.EqualValues(t, 2, list[1].Summary["version"])
		only, err := b.store.ListAudit(b.ctx, b.ws, store.AuditFilter{Action: "journey.publish"})
		require.NoError(t, err)
		require.Len(t, only, 1)
		byTarget, err := b.store.ListAudit(b.ctx, b.ws, store.AuditFilter{TargetID: "u2", Limit: 10})
		require.NoError(t, err)
		require.Len(t, byTarget, 1)
		other, err := b.store.ListAudit(b.ctx, "other", store.AuditFilter{})
		require.NoError(t, err)
		require.Empty(t, other)
	})
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", store.Options{})
	require.Error(t, err)
	require.True(t, !errors.Is(err, store.ErrNotFound))
	require.ErrorContains(t, err, "connecting to postgres database")
}

func TestConnectorTypes(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		got, err := b.store.ConnectorTypes(b.ctx, b.ws)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"sandbox": "sandbox"}, got, "the sandbox always exists")
		now := b.clock.Now()
		for _, c := range []struct {
			name, typ string
			enabled   bool
		}{{"mail", "smtp", true}, {"old-sms", "twilio", false}} {
			require.NoError(t, b.store.DB().Exec(
				"INSERT INTO connectors (id, workspace_id, name, type, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				store.NewID(), b.ws, c.name, c.typ, c.enabled, now, now).Error)
		}
		got, err = b.store.ConnectorTypes(b.ctx, b.ws)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"sandbox": "sandbox", "mail": "smtp"}, got, "disabled connectors are left out")
		other, err := b.store.ConnectorTypes(b.ctx, "other")
		require.NoError(t, err)
		require.Len(t, other, 1)
	})
}
