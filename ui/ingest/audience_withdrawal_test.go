package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// removals records the audience removals the profile service queues; down
// makes the queue refuse (Redis unreachable).
type removals struct {
	mu      sync.Mutex
	members []connectors.Member
	down    bool
}

func (r *removals) queue(_ context.Context, _ string, m connectors.Member) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("redis: connection refused")
	}
	r.members = append(r.members, m)
	return nil
}

func (r *removals) emails() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.members {
		out = append(out, m.Email)
	}
	return out
}

func (r *removals) setDown(v bool) { r.mu.Lock(); r.down = v; r.mu.Unlock() }

// TestAdConsentWithdrawalRemovesFromAudiences: a profile write (the
// profile API or an event's "profile") that takes away a profile's ad
// consent queues its removal from every ad audience, with the identifiers
// the platforms know; other consent writes queue nothing.
func TestAdConsentWithdrawalRemovesFromAudiences(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	rm := &removals{}
	svc := profiles.NewService(b.Store, b.Engine, rm.queue, nil, nil)
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: b.Store, Journeys: journeys.New(b.Store, reg), Engine: b.Engine, Profiles: svc,
		Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")
	post := func(path, body string, want int) {
		t.Helper()
		res := b.Call("POST", path, w, []byte(body))
		require.Equal(t, want, res.Status, string(res.Body))
	}

	post("/api/v1/profiles", `{"external_id": "ada", "email": "ada@example.com", "consent": {"ads": "granted", "email": "granted"}}`, 201)
	post("/api/v1/profiles", `{"external_id": "ada", "consent": {"email": "revoked", "ad_personalization": "revoked"}}`, 200)
	require.Empty(t, rm.emails(), "other consents: nothing to remove")

	// The ads consent is revoked while the email changes: the address the
	// platforms matched is the one removed.
	post("/api/v1/profiles", `{"external_id": "ada", "email": "ada.new@example.com", "consent": {"ads": {"status": "revoked"}}}`, 200)
	require.Equal(t, []string{"ada@example.com"}, rm.emails())
	post("/api/v1/profiles", `{"external_id": "ada", "consent": {"ads": "revoked"}}`, 200)
	require.Len(t, rm.emails(), 1, "already withdrawn: nothing more to remove")

	// Through an event's profile, and through ad_user_data.
	post("/api/v1/profiles", `{"external_id": "bob", "phone": "+33612345678", "consent": {"ad_user_data": "granted"}}`, 201)
	post("/api/v1/events", `{"name": "prefs", "profile_id": "bob", "profile": {"consent": {"ad_user_data": "opted_out"}}}`, 202)
	require.Len(t, rm.members, 2)
	require.Equal(t, "+33612345678", rm.members[1].Phone)

	// A revoked ads outweighs a granted ad_user_data (and a new profile was
	// never uploaded).
	post("/api/v1/profiles", `{"external_id": "cy", "email": "cy@example.com", "consent": {"ads": "revoked", "ad_user_data": "granted"}}`, 201)
	require.Len(t, rm.members, 2)

	// Queueing fails: the write fails and nothing is written, so a retry
	// queues the removal.
	post("/api/v1/profiles", `{"external_id": "dee", "email": "dee@example.com", "consent": {"ads": "granted"}}`, 201)
	rm.setDown(true)
	res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "dee", "consent": {"ads": "revoked"}}`))
	require.GreaterOrEqual(t, res.Status, 500, string(res.Body))
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "dee")
	require.NoError(t, err)
	require.Equal(t, "granted", p.Consent["ads"].(map[string]any)["status"], "the withdrawal was not recorded")
	rm.setDown(false)
	post("/api/v1/profiles", `{"external_id": "dee", "consent": {"ads": "revoked"}}`, 200)
	require.Equal(t, []string{"ada@example.com", "", "dee@example.com"}, rm.emails())
}
