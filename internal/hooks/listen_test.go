package hooks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/store"
)

func TestListenCapture(t *testing.T) {
	t.Parallel()
	ctx, c, st, keys, j := fixture(t)
	svc := hooks.New(st, keys, "https://waymark.example.com", c.now)

	_, ok, err := svc.Peek(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.False(t, ok, "no hook before Get")
	h, err := svc.Get(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	peek, ok, err := svc.Peek(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, h.URL, peek.URL)
	require.Equal(t, "standard", peek.Scheme)
	require.Empty(t, peek.Secrets, "Peek opens no secret")

	// A request while nobody listens leaves nothing.
	body := []byte(`{"user": {"id": "u1"}}`)
	send := func(svc *hooks.Service, id string, signed bool) {
		t.Helper()
		hdr := sign(t, h.Secrets[0], id, c.now(), body)
		if !signed {
			hdr["webhook-signature"] = "v1,bm9wZQ=="
		}
		_, _, err := svc.Verify(ctx, h.Key, headers(hdr), body)
		o := hooks.Outcome{Verified: err == nil, Status: 409, Code: "journey_not_live", Message: "the journey is a draft"}
		if err != nil {
			o.Status, o.Code, o.Message = 401, "bad_signature", err.Error()
		}
		require.NoError(t, svc.Capture(ctx, h.Key, o, body))
	}
	send(svc, "m0", true)
	got, err := svc.Samples(ctx, store.DefaultWorkspaceID, j.ID, time.Time{}, 10)
	require.NoError(t, err)
	require.Empty(t, got)

	since, until, err := svc.Listen(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.Equal(t, hooks.ListenFor, until.Sub(since))
	c.add(time.Second)
	send(svc, "m1", true)
	send(svc, "m2", false)
	got, err = svc.Samples(ctx, store.DefaultWorkspaceID, j.ID, since, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.False(t, got[0].Verified, "newest first: the refused one")
	require.Empty(t, got[0].Body, "a refused signature keeps no body")
	require.Equal(t, "bad_signature", got[0].Code)
	require.True(t, got[1].Verified)
	require.JSONEq(t, string(body), got[1].Body)
	require.Equal(t, 409, got[1].Status)
	_, err = svc.Samples(ctx, "other-workspace", j.ID, since, 10)
	require.ErrorIs(t, err, store.ErrNotFound)

	// A body too big to keep is noted by its size.
	big := []byte(`{"pad": "` + strings.Repeat("x", hooks.MaxSampleBody) + `"}`)
	require.NoError(t, svc.Capture(ctx, h.Key, hooks.Outcome{Verified: true, Status: 202}, big))
	got, err = svc.Samples(ctx, store.DefaultWorkspaceID, j.ID, since, 1)
	require.NoError(t, err)
	require.Empty(t, got[0].Body)
	require.Equal(t, len(big), got[0].BodySize)

	// After the window nothing more is kept.
	c.add(hooks.ListenFor + time.Second)
	send(svc, "m3", true)
	got, err = svc.Samples(ctx, store.DefaultWorkspaceID, j.ID, since, 10)
	require.NoError(t, err)
	require.Len(t, got, 3)

	// Samples older than SampleTTL are not shown.
	c.add(hooks.SampleTTL)
	got, err = svc.Samples(ctx, store.DefaultWorkspaceID, j.ID, time.Time{}, 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestListenOtherProcess: a process that cached the hook before someone
// listened through another process captures within CacheTTL.
func TestListenOtherProcess(t *testing.T) {
	t.Parallel()
	ctx, c, st, keys, j := fixture(t)
	ingest := hooks.New(st, keys, "", c.now)
	editor := hooks.New(st, keys, "", c.now)
	h, err := editor.Get(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	body := []byte(`{"a": 1}`)
	deliver := func(id string) {
		t.Helper()
		_, _, err := ingest.Verify(ctx, h.Key, headers(sign(t, h.Secrets[0], id, c.now(), body)), body)
		require.NoError(t, err)
		require.NoError(t, ingest.Capture(ctx, h.Key, hooks.Outcome{Verified: true, Status: 409}, body))
	}
	deliver("m1") // caches: nobody listens
	since, _, err := editor.Listen(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	deliver("m2")
	got, err := editor.Samples(ctx, store.DefaultWorkspaceID, j.ID, since, 10)
	require.NoError(t, err)
	require.Empty(t, got, "the ingesting process still has its cached answer")
	c.add(hooks.CacheTTL)
	deliver("m3")
	got, err = editor.Samples(ctx, store.DefaultWorkspaceID, j.ID, since, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
}
