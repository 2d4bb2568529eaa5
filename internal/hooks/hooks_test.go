package hooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func headers(h map[string]string) func(string) string {
	hh := http.Header{}
	for k, v := range h {
		hh.Set(k, v)
	}
	return hh.Get
}

func sign(t *testing.T, secret, id string, ts time.Time, body []byte) map[string]string {
	t.Helper()
	key, err := webhook.DecodeSecret(secret)
	require.NoError(t, err)
	return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(ts.Unix(), 10), "webhook-signature": webhook.Sign(key, id, ts.Unix(), body)}
}

func TestStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	// The Standard Webhooks specification's example.
	h := headers(map[string]string{"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
		"webhook-signature": "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="})
	id, err := hooks.VerifyStandard([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, h, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0))
	require.NoError(t, err, "any of several signatures may match")
	require.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", id)
	_, err = hooks.VerifyStandard([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, h, []byte(`{"test": 2432232315}`), time.Unix(1614265330, 0))
	require.ErrorContains(t, err, "no webhook-signature matches")
}

// fixture is a migrated SQLite store on a test clock, a keyring and one
// draft journey.
func fixture(t *testing.T) (context.Context, *clock, *store.Store, *secrets.Keyring, store.Journey) {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{Now: c.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	keys, err := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	j, err := st.CreateJourney(ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "Hooked", Draft: []byte(`{}`)})
	require.NoError(t, err)
	return ctx, c, st, keys, j
}

func TestHookLifecycle(t *testing.T) {
	t.Parallel()
	ctx, c, st, keys, j := fixture(t)
	svc := hooks.New(st, keys, "https://waymark.example.com/", c.now)

	h, err := svc.Get(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.Regexp(t, `^https://waymark\.example\.com/hooks/wh_[A-Za-z0-9_-]+$`, h.URL)
	require.Len(t, h.Secrets, 1)
	require.Regexp(t, `^whsec_`, h.Secrets[0])
	require.Equal(t, "standard", h.Scheme)
	again, err := svc.Get(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.Equal(t, h, again, "stable")
	_, err = svc.Get(ctx, "other", j.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	body := []byte(`{"user_id": "u1"}`)
	got, rc, err := svc.Verify(ctx, h.Key, headers(sign(t, h.Secrets[0], "msg_1", c.now(), body)), body)
	require.NoError(t, err)
	require.Equal(t, j.ID, got.ID)
	require.Equal(t, hooks.Receipt{ID: "msg_1"}, rc, "the signed id and timestamp are enough")

	var ve *hooks.VerifyError
	_, _, err = svc.Verify(ctx, "wh_nope", headers(sign(t, h.Secrets[0], "msg_1", c.now(), body)), body)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 404, ve.Status)
	_, _, err = svc.Verify(ctx, h.Key, headers(sign(t, h.Secrets[0], "msg_2", c.now().Add(-6*time.Minute), body)), body)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "stale_timestamp", ve.Code)
	_, _, err = svc.Verify(ctx, h.Key, headers(map[string]string{}), body)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "missing_signature", ve.Code)
	tampered := sign(t, h.Secrets[0], "msg_3", c.now(), body)
	_, _, err = svc.Verify(ctx, h.Key, headers(tampered), []byte(`{"user_id": "u2"}`))
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "bad_signature", ve.Code)

	// Rotation: both secrets work for a day, then only the new one.
	old := h.Secrets[0]
	rotated, err := svc.Rotate(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.Len(t, rotated.Secrets, 2)
	require.Equal(t, old, rotated.Secrets[1], "newest first")
	for _, sec := range rotated.Secrets {
		_, _, err = svc.Verify(ctx, h.Key, headers(sign(t, sec, "msg_r", c.now(), body)), body)
		require.NoError(t, err)
	}
	c.add(25 * time.Hour)
	_, _, err = svc.Verify(ctx, h.Key, headers(sign(t, old, "msg_o", c.now(), body)), body)
	require.ErrorAs(t, err, &ve)
	_, _, err = svc.Verify(ctx, h.Key, headers(sign(t, rotated.Secrets[0], "msg_n", c.now(), body)), body)
	require.NoError(t, err)

	// GitHub-style signatures, per hook.
	gh, err := svc.SetScheme(ctx, store.DefaultWorkspaceID, j.ID, "github")
	require.NoError(t, err)
	require.Equal(t, "github", gh.Scheme)
	mac := hmac.New(sha256.New, []byte(gh.Secrets[0]))
	mac.Write(body)
	ghSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	_, rc, err = svc.Verify(ctx, h.Key, headers(map[string]string{"X-Hub-Signature-256": ghSig, "X-GitHub-Delivery": "gh-1"}), body)
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	require.Equal(t, hooks.Receipt{ID: "gh-1", Body: "body:" + hex.EncodeToString(sum[:])}, rc, "only the body is signed: it is de-duplicated too")
	_, rc, err = svc.Verify(ctx, h.Key, headers(map[string]string{"X-Hub-Signature-256": ghSig, "X-GitHub-Delivery": "another"}), body)
	require.NoError(t, err)
	require.Equal(t, "body:"+hex.EncodeToString(sum[:]), rc.Body, "a new delivery id, the same body key")
	_, _, err = svc.Verify(ctx, h.Key, headers(map[string]string{"X-Hub-Signature-256": "sha256=00"}), body)
	require.ErrorAs(t, err, &ve)
	_, err = svc.SetScheme(ctx, store.DefaultWorkspaceID, j.ID, "carrier-pigeon")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 400, ve.Status)
}

func TestReuseJourneys(t *testing.T) {
	t.Parallel()
	ctx, c, st, keys, j := fixture(t)
	body := []byte(`{"user_id": "u1"}`)
	verify := func(svc *hooks.Service, key, secret, id string) store.Journey {
		t.Helper()
		got, _, err := svc.Verify(ctx, key, headers(sign(t, secret, id, c.now(), body)), body)
		require.NoError(t, err)
		return got
	}

	reusing := hooks.New(st, keys, "", c.now).ReuseJourneys(time.Second)
	fresh := hooks.New(st, keys, "", c.now)
	h, err := reusing.Get(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	require.Equal(t, store.JourneyDraft, verify(reusing, h.Key, h.Secrets[0], "m1").Status)
	require.Equal(t, store.JourneyDraft, verify(fresh, h.Key, h.Secrets[0], "m1").Status)

	_, err = st.SetJourneyStatus(ctx, store.DefaultWorkspaceID, j.ID, store.JourneyArchived, "test")
	require.NoError(t, err)
	require.Equal(t, store.JourneyArchived, verify(fresh, h.Key, h.Secrets[0], "m2").Status, "without reuse the row is read on every request")
	require.Equal(t, store.JourneyDraft, verify(reusing, h.Key, h.Secrets[0], "m2").Status, "within the reuse window the row read before is used")
	c.add(time.Second)
	require.Equal(t, store.JourneyArchived, verify(reusing, h.Key, h.Secrets[0], "m3").Status, "after the window the change shows")
}
