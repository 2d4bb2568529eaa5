package store_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		admin := newUser(t, b, "admin@example.com", store.RoleAdmin)
		ed := newUser(t, b, "ed@example.com", store.RoleEditor)
		_, err := b.store.CreateSession(b.ctx, store.Session{ID: "s1", UserID: ed.ID, WorkspaceID: b.ws, CSRFToken: "c", ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)

		_, err = b.store.GetWorkspaceUser(b.ctx, "other", ed.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		before, after, err := b.store.SetUserRole(b.ctx, b.ws, ed.ID, store.RoleViewer)
		require.NoError(t, err)
		require.Equal(t, store.RoleEditor, before.Role)
		require.Equal(t, store.RoleViewer, after.Role)
		_, _, err = b.store.SetUserRole(b.ctx, "other", ed.ID, store.RoleAdmin)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = b.store.SetUserRole(b.ctx, b.ws, ed.ID, "root")
		require.Error(t, err)

		n, err := b.store.CountActiveAdmins(b.ctx, b.ws)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, after, err = b.store.SetUserDisabled(b.ctx, b.ws, ed.ID, true)
		require.NoError(t, err)
		require.NotNil(t, after.DisabledAt)
		_, _, err = b.store.GetSession(b.ctx, "s1")
		require.ErrorIs(t, err, store.ErrNotFound, "disabling ends sessions")
		_, after, err = b.store.SetUserDisabled(b.ctx, b.ws, ed.ID, false)
		require.NoError(t, err)
		require.Nil(t, after.DisabledAt)

		// One-time links: newest only, once, until expiry.
		_, err = b.store.CreateUserToken(b.ctx, store.UserToken{ID: "t1", UserID: ed.ID, Purpose: store.TokenReset, CreatedBy: admin.ID, ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)
		_, err = b.store.CreateUserToken(b.ctx, store.UserToken{ID: "t2", UserID: ed.ID, Purpose: store.TokenReset, CreatedBy: admin.ID, ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)
		_, _, err = b.store.PeekUserToken(b.ctx, "t1", store.TokenReset)
		require.ErrorIs(t, err, store.ErrTokenInvalid, "a newer link retires the older one")
		_, _, err = b.store.PeekUserToken(b.ctx, "t2", store.TokenInvite)
		require.ErrorIs(t, err, store.ErrTokenInvalid, "purpose must match")
		_, u, err := b.store.PeekUserToken(b.ctx, "t2", store.TokenReset)
		require.NoError(t, err)
		require.Equal(t, ed.ID, u.ID)
		_, err = b.store.CreateSession(b.ctx, store.Session{ID: "s2", UserID: ed.ID, WorkspaceID: b.ws, CSRFToken: "c", ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)
		u, err = b.store.UseUserToken(b.ctx, "t2", store.TokenReset, "newhash")
		require.NoError(t, err)
		require.Equal(t, "newhash", u.PasswordHash)
		_, _, err = b.store.GetSession(b.ctx, "s2")
		require.ErrorIs(t, err, store.ErrNotFound, "a reset ends sessions")
		_, err = b.store.UseUserToken(b.ctx, "t2", store.TokenReset, "again")
		require.ErrorIs(t, err, store.ErrTokenInvalid, "once only")
		_, err = b.store.CreateUserToken(b.ctx, store.UserToken{ID: "t3", UserID: ed.ID, Purpose: store.TokenInvite, ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)
		b.clock.Add(2 * time.Hour)
		_, err = b.store.UseUserToken(b.ctx, "t3", store.TokenInvite, "late")
		require.ErrorIs(t, err, store.ErrTokenInvalid, "expired")

		// Sessions list and revoke, scoped to the workspace.
		_, err = b.store.CreateSession(b.ctx, store.Session{ID: "s3", UserID: admin.ID, WorkspaceID: b.ws, CSRFToken: "c", IP: "10.0.0.1", ExpiresAt: b.clock.Now().Add(time.Hour)})
		require.NoError(t, err)
		list, err := b.store.ListWorkspaceSessions(b.ctx, b.ws)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "admin@example.com", list[0].UserEmail)
		_, err = b.store.DeleteWorkspaceSession(b.ctx, "other", "s3")
		require.ErrorIs(t, err, store.ErrNotFound)
		s, err := b.store.DeleteWorkspaceSession(b.ctx, b.ws, "s3")
		require.NoError(t, err)
		require.Equal(t, "10.0.0.1", s.IP)
	})
}

func TestLoginAttempts(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		start := b.clock.Now()
		for i := 0; i < 3; i++ {
			require.NoError(t, b.store.RecordLoginAttempt(b.ctx, store.LoginAttempt{Email: "Ada@Example.com", IP: "1.2.3.4"}))
			b.clock.Add(time.Second)
		}
		f, err := b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", start.Add(-time.Minute))
		require.NoError(t, err)
		require.EqualValues(t, 3, f.Count)
		require.True(t, f.Last.Equal(start.Add(2*time.Second)), "%v", f.Last)
		f, err = b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", start.Add(1500*time.Millisecond))
		require.NoError(t, err)
		require.EqualValues(t, 1, f.Count, "only since")

		// A success clears the account's run, not the address's.
		require.NoError(t, b.store.RecordLoginAttempt(b.ctx, store.LoginAttempt{Email: "ada@example.com", IP: "1.2.3.4", Succeeded: true}))
		b.clock.Add(time.Second)
		require.NoError(t, b.store.RecordLoginAttempt(b.ctx, store.LoginAttempt{Email: "ada@example.com", IP: "1.2.3.4"}))
		f, err = b.store.LoginFailuresForEmail(b.ctx, "ada@example.com", start.Add(-time.Minute))
		require.NoError(t, err)
		require.EqualValues(t, 1, f.Count)
		f, err = b.store.LoginFailuresForIP(b.ctx, "1.2.3.4", start.Add(-time.Minute))
		require.NoError(t, err)
		require.EqualValues(t, 4, f.Count)
		f, err = b.store.LoginFailuresForIP(b.ctx, "9.9.9.9", start.Add(-time.Minute))
		require.NoError(t, err)
		require.Zero(t, f.Count)

		n, err := b.store.DeleteLoginAttemptsBefore(b.ctx, start.Add(2500*time.Millisecond))
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
	})
}

func TestAuditQueryAndExport(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		start := b.clock.Now()
		for i, a := range []string{"user.invite", "user.role_change", "journey.publish", "api_key.create"} {
			_, err := b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: b.ws, ActorType: "user", ActorID: []string{"u1", "u2"}[i%2], Action: a, TargetType: "user", TargetID: "t" + a})
			require.NoError(t, err)
			b.clock.Add(24 * time.Hour)
		}
		_, err := b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: "default", ActorType: "system", Action: "user.invite"})
		require.NoError(t, err)
		got, err := b.store.QueryAudit(b.ctx, b.ws, store.AuditQuery{Action: "user."})
		require.NoError(t, err)
		require.Len(t, got, 3)
		got, err = b.store.QueryAudit(b.ctx, b.ws, store.AuditQuery{ActorID: "u2"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		got, err = b.store.QueryAudit(b.ctx, b.ws, store.AuditQuery{From: start.Add(24 * time.Hour), To: start.Add(72 * time.Hour)})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "journey.publish", got[0].Action)
		page, err := b.store.QueryAudit(b.ctx, b.ws, store.AuditQuery{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		rest, err := b.store.QueryAudit(b.ctx, b.ws, store.AuditQuery{BeforeID: page[1].ID})
		require.NoError(t, err)
		require.Len(t, rest, 3)
		var n int
		require.NoError(t, b.store.EachAudit(b.ctx, b.ws, store.AuditQuery{TargetID: "user"}, func(e store.AuditEntry) error { n++; return nil }))
		require.Equal(t, 4, n)
		none, err := b.store.QueryAudit(b.ctx, "other", store.AuditQuery{})
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

// TestAuditAppendOnly: the store offers no way to change or remove audit
// entries.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeOf(&store.Store{})
	for i := 0; i < typ.NumMethod(); i++ {
		name := typ.Method(i).Name
		if strings.Contains(name, "Audit") {
			for _, verb := range []string{"Update", "Delete", "Remove", "Set", "Edit", "Purge", "Truncate"} {
				require.False(t, strings.HasPrefix(name, verb), "%s would make the audit log mutable", name)
			}
		}
	}
}
