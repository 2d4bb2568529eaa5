package connectors_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/ratelimit"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/twilio"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

type testBundle struct {
	ctx   context.Context
	store *store.Store
	key   []byte
	keys  *secrets.Keyring
	svc   *connectors.Service
	ws    string
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func setup(t *testing.T, opts connectors.Options) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	key := newKey(t)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	reg, err := builtin.NewRegistry()
	require.NoError(t, err)
	if opts.Net == nil {
		opts.Net = netguard.MustNew(netguard.AllowLoopbackForTests())
	}
	if opts.PublicURL == "" {
		opts.PublicURL = "https://waymark.example.com"
	}
	svc, err := connectors.NewService(st, keys, reg, opts)
	require.NoError(t, err)
	return &testBundle{ctx: ctx, store: st, key: key, keys: keys, svc: svc, ws: store.DefaultWorkspaceID}
}

const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestCreateSealsSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "smtp", Name: "mail", Config: map[string]any{
		"host": "smtp.example.com", "from": "news@acme.example", "username": "u", "password": "hunter2-plain",
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"password"}, v.SecretsSet)
	require.NotContains(t, v.Config, "password")
	require.Equal(t, 587.0, v.Config["port"], "defaults are stored")
	require.True(t, v.Enabled)
	require.Equal(t, connectors.Rate{PerSecond: 10, Burst: 10}, v.RateLimit)

	row, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
	require.NoError(t, err)
	sealed := row.Secrets["password"]
	require.Equal(t, b.keys.PrimaryID(), sealed.KeyID)
	require.NotContains(t, sealed.Ciphertext, "hunter2")
	raw, _ := json.Marshal(row)
	require.NotContains(t, string(raw), "hunter2-plain", "the plaintext is nowhere in the row")

	// The value is bound to its connector and field.
	_, err = b.keys.Open(secrets.Sealed{KeyID: sealed.KeyID, Ciphertext: sealed.Ciphertext}, secrets.ConnectorAD("other", "password"))
	require.ErrorIs(t, err, secrets.ErrWrongKey)

	list, err := b.svc.List(b.ctx, b.ws)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "sandbox", list[0].Name)
	require.True(t, list[0].Builtin)

	_, err = b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "smtp", Name: "mail", Config: map[string]any{"host": "h.example", "from": "a@b.example"}})
	require.ErrorIs(t, err, store.ErrConflict)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{Net: netguard.MustNew()})
	tests := []struct {
		name   string
		in     connectors.Input
		fields []string
	}{
		{"unknown type", connectors.Input{Type: "fax", Name: "x"}, []string{"type"}},
		{"sandbox name", connectors.Input{Type: "webhook", Name: "sandbox", Config: map[string]any{"url": "https://h.example", "secret": whsec}}, []string{"name"}},
		{"bad name", connectors.Input{Type: "webhook", Name: "Has Spaces", Config: map[string]any{"url": "https://h.example", "secret": whsec}}, []string{"name"}},
		{"missing fields", connectors.Input{Type: "webhook", Name: "hook"}, []string{"url", "secret"}},
		{"unknown field", connectors.Input{Type: "webhook", Name: "hook", Config: map[string]any{"url": "https://h.example", "secret": whsec, "extra": 1}}, []string{"extra"}},
		{"ssrf", connectors.Input{Type: "webhook", Name: "hook", Config: map[string]any{"url": "https://169.254.169.254/", "secret": whsec}}, []string{"url"}},
		{"bad rate", connectors.Input{Type: "webhook", Name: "hook", Config: map[string]any{"url": "https://h.example", "secret": whsec, "rate_limit": 0}}, []string{"rate_limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.svc.Create(b.ctx, b.ws, tt.in)
			var ve *connectors.ValidationError
			require.ErrorAs(t, err, &ve)
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field)
			}
			require.Equal(t, tt.fields, got)
		})
	}
	_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "sandbox", Name: "box"})
	require.ErrorIs(t, err, connectors.ErrBuiltin)
}

func TestUpdateKeepsWriteOnlySecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "smtp", Name: "mail", Config: map[string]any{
		"host": "smtp.example.com", "from": "news@acme.example", "username": "u", "password": "pw-1",
	}})
	require.NoError(t, err)
	before, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
	require.NoError(t, err)

	// A form post: every non-secret field, the secret blank.
	up, changed, err := b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{ReplaceConfig: true, Config: map[string]any{
		"host": "smtp.example.com", "from": "news2@acme.example", "username": "u", "password": "", "port": "",
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"from"}, changed)
	require.Equal(t, "news2@acme.example", up.Config["from"])
	after, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
	require.NoError(t, err)
	require.Equal(t, before.Secrets, after.Secrets, "a blank secret keeps the sealed value as it was")

	// A new secret is sealed again; the change is named, not shown.
	_, changed, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"password": "pw-2"}})
	require.NoError(t, err)
	require.Equal(t, []string{"password"}, changed)
	after2, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
	require.NoError(t, err)
	require.NotEqual(t, after.Secrets["password"], after2.Secrets["password"])
	pt, err := b.keys.Open(secrets.Sealed(after2.Secrets["password"]), secrets.ConnectorAD(v.ID, "password"))
	require.NoError(t, err)
	require.Equal(t, "pw-2", string(pt))

	// Clearing a secret that the config needs fails validation.
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"password": nil}})
	var ve *connectors.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "password", ve.Problems[0].Field)
	// Clearing both is fine.
	up, changed, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"password": nil, "username": nil}})
	require.NoError(t, err)
	require.Equal(t, []string{"password", "username"}, changed)
	require.Empty(t, up.SecretsSet)

	off := false
	name := "mail-2"
	up, changed, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Name: &name, Enabled: &off})
	require.NoError(t, err)
	require.Equal(t, []string{"enabled", "name"}, changed)
	require.False(t, up.Enabled)

	_, _, err = b.svc.Update(b.ctx, b.ws, "sandbox", connectors.Patch{})
	require.ErrorIs(t, err, connectors.ErrBuiltin)
	_, _, err = b.svc.Update(b.ctx, b.ws, "nope", connectors.Patch{})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func publish(t *testing.T, b *testBundle, name, connector string) store.Journey {
	t.Helper()
	doc := json.RawMessage(`{"format":1,"name":"` + name + `","nodes":[{"id":"start","kind":"trigger_event","config":{"event":"x"}},` +
		`{"id":"send","kind":"send_webhook","config":{"connector":"` + connector + `"}}],"edges":[{"from":"start","to":"send"}]}`)
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: name, Draft: doc})
	require.NoError(t, err)
	_, err = b.store.PublishJourney(b.ctx, b.ws, j.ID, doc, "t")
	require.NoError(t, err)
	return j
}

func TestDeleteAndRenameRefusedWhileInUse(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com/hook", "secret": whsec}})
	require.NoError(t, err)
	j := publish(t, b, "Welcome", "crm")

	_, err = b.svc.Delete(b.ctx, b.ws, v.ID)
	var iu *connectors.InUseError
	require.ErrorAs(t, err, &iu)
	require.Len(t, iu.Journeys, 1)
	require.Equal(t, j.ID, iu.Journeys[0].JourneyID)
	require.Contains(t, err.Error(), `"Welcome"`)
	name := "crm-2"
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Name: &name})
	require.ErrorAs(t, err, &iu)

	_, err = b.store.SetJourneyStatus(b.ctx, b.ws, j.ID, store.JourneyArchived, "t")
	require.NoError(t, err)
	_, err = b.svc.Delete(b.ctx, b.ws, v.ID)
	require.NoError(t, err)
	_, err = b.svc.Get(b.ctx, b.ws, v.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.svc.Delete(b.ctx, b.ws, "sandbox")
	require.ErrorIs(t, err, connectors.ErrBuiltin)
}

// hookServer counts the webhooks it receives.
func hookServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestResolve(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{CacheTTL: time.Hour})
	ctx := b.ctx

	sb, err := b.svc.Resolve(ctx, b.ws, "sandbox")
	require.NoError(t, err)
	res, err := sb.Send(ctx, connectors.Message{DeliveryID: "d1"})
	require.NoError(t, err)
	require.Equal(t, "delivered", res.Status)

	_, err = b.svc.Resolve(ctx, b.ws, "nope")
	cl, _, _ := connectors.Classify(err)
	require.Equal(t, connectors.Permanent, cl)

	one, hits1 := hookServer(t)
	two, hits2 := hookServer(t)
	v, err := b.svc.Create(ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": one.URL, "secret": whsec}})
	require.NoError(t, err)
	c, err := b.svc.Resolve(ctx, b.ws, "crm")
	require.NoError(t, err)
	_, err = c.Send(ctx, connectors.Message{IdempotencyKey: "k1", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	require.EqualValues(t, 1, hits1.Load())

	// An edit through the service is seen at once, whatever the cache TTL.
	_, _, err = b.svc.Update(ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"url": two.URL, "secret": whsec}})
	require.NoError(t, err)
	c, err = b.svc.Resolve(ctx, b.ws, "crm")
	require.NoError(t, err)
	_, err = c.Send(ctx, connectors.Message{IdempotencyKey: "k2", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	require.EqualValues(t, 1, hits2.Load())

	// Disabled: sends wait (transient), nothing goes out.
	_, err = b.svc.SetEnabled(ctx, b.ws, v.ID, false)
	require.NoError(t, err)
	_, err = b.svc.Resolve(ctx, b.ws, "crm")
	cl, wait, reason := connectors.Classify(err)
	require.Equal(t, connectors.Transient, cl)
	require.Equal(t, time.Minute, wait)
	require.Contains(t, reason, "disabled")
}

func TestResolveSeesEditsFromOtherProcesses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := setup(t, connectors.Options{CacheTTL: 5 * time.Second, Now: clock})
	one, hits1 := hookServer(t)
	two, hits2 := hookServer(t)
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": one.URL, "secret": whsec}})
	require.NoError(t, err)
	send := func() {
		c, err := b.svc.Resolve(b.ctx, b.ws, "crm")
		require.NoError(t, err)
		_, err = c.Send(b.ctx, connectors.Message{IdempotencyKey: "k", Payload: json.RawMessage(`{}`)})
		require.NoError(t, err)
	}
	send()
	// Another process (a second service on the same database) edits it.
	reg, _ := builtin.NewRegistry()
	other, err := connectors.NewService(b.store, b.keys, reg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests())})
	require.NoError(t, err)
	_, _, err = other.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"url": two.URL, "secret": whsec}})
	require.NoError(t, err)
	send()
	require.EqualValues(t, 2, hits1.Load(), "within the TTL the cached connector is used")
	now = now.Add(6 * time.Second)
	send()
	require.EqualValues(t, 1, hits2.Load(), "after it, the edit is picked up")
}

func TestWrongKeyFailsLoudly(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": whsec}})
	require.NoError(t, err)
	require.NoError(t, b.svc.CheckKeys(b.ctx))

	wrong, err := secrets.NewKeyring(newKey(t))
	require.NoError(t, err)
	reg, _ := builtin.NewRegistry()
	svc, err := connectors.NewService(b.store, wrong, reg, connectors.Options{})
	require.NoError(t, err)
	err = svc.CheckKeys(b.ctx)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	require.Contains(t, err.Error(), "WAYMARK_SECRET_KEY")
	require.Contains(t, err.Error(), `"crm"`)
	_, err = svc.Resolve(b.ctx, b.ws, "crm")
	require.Error(t, err)
	res, err := svc.Test(b.ctx, b.ws, mustID(t, b, "crm"), "")
	require.NoError(t, err)
	require.False(t, res.OK)
}

func mustID(t *testing.T, b *testBundle, name string) string {
	t.Helper()
	c, err := b.store.GetConnectorByName(b.ctx, b.ws, name)
	require.NoError(t, err)
	return c.ID
}

func TestRotateSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	for _, n := range []string{"a", "b"} {
		_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: n, Config: map[string]any{"url": "https://crm.example.com", "secret": whsec}})
		require.NoError(t, err)
	}
	newK := newKey(t)
	both, err := secrets.NewKeyring(newK, b.key)
	require.NoError(t, err)
	rep, err := connectors.RotateSecrets(b.ctx, b.store, both, true)
	require.NoError(t, err)
	require.Equal(t, connectors.RotateReport{Connectors: 2, Resealed: 2}, rep)
	row, _ := b.store.GetConnectorByName(b.ctx, b.ws, "a")
	require.Equal(t, secrets.KeyID(b.key), row.Secrets["secret"].KeyID, "a dry run changes nothing")

	rep, err = connectors.RotateSecrets(b.ctx, b.store, both, false)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Resealed)
	rep, err = connectors.RotateSecrets(b.ctx, b.store, both, false)
	require.NoError(t, err)
	require.Equal(t, connectors.RotateReport{Connectors: 2, Current: 2}, rep, "idempotent")

	onlyNew, err := secrets.NewKeyring(newK)
	require.NoError(t, err)
	reg, _ := builtin.NewRegistry()
	svc, err := connectors.NewService(b.store, onlyNew, reg, connectors.Options{})
	require.NoError(t, err)
	require.NoError(t, svc.CheckKeys(b.ctx), "the old key is no longer needed")

	// Rotating with a keyring that cannot open the values stops loudly.
	stranger, err := secrets.NewKeyring(newKey(t))
	require.NoError(t, err)
	_, err = connectors.RotateSecrets(b.ctx, b.store, stranger, false)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
}

func TestUnsubscribeTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	u := b.svc.UnsubscribeURL(b.ws, store.SuppressEmail, " Ada@Example.com")
	require.True(t, strings.HasPrefix(u, "https://waymark.example.com/u/"))
	tok := strings.TrimPrefix(u, "https://waymark.example.com/u/")
	require.NotContains(t, tok, "ada")
	target, err := b.svc.ParseUnsubscribe(tok)
	require.NoError(t, err)
	require.Equal(t, connectors.UnsubscribeTarget{WorkspaceID: b.ws, Channel: "email", Address: "ada@example.com"}, target)
	_, err = b.svc.Unsubscribe(b.ctx, tok)
	require.NoError(t, err)
	ok, err := b.store.IsSuppressed(b.ctx, b.ws, "email", "ada@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.svc.Unsubscribe(b.ctx, tok)
	require.NoError(t, err, "twice is fine")
	_, err = b.svc.ParseUnsubscribe(tok[:len(tok)-3] + "AAA")
	require.ErrorIs(t, err, secrets.ErrBadToken)
}

func TestTwilioCallback(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tok", "from": "+15017122661"}})
	require.NoError(t, err)
	_, err = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "r:1", Connector: "sms", Channel: "send_sms", Status: store.DeliverySent, ProviderID: "SM1"})
	require.NoError(t, err)
	path := twilio.CallbackPath(v.ID)
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"21610"}, "To": {"+15558675310"}}
	sig := twilio.Signature("tok", "https://waymark.example.com"+path, form)
	err = b.svc.Callback(b.ctx, "twilio", v.ID, path, connectors.CallbackRequest{Form: form, Header: map[string]string{"x-twilio-signature": sig}})
	require.NoError(t, err)
	d, err := b.store.GetDeliveryByKey(b.ctx, "r:1")
	require.NoError(t, err)
	require.Equal(t, store.DeliveryFailed, d.Status)
	require.Contains(t, d.Error, "21610")
	ok, err := b.store.IsSuppressed(b.ctx, b.ws, "sms", "+15558675310")
	require.NoError(t, err)
	require.True(t, ok)

	err = b.svc.Callback(b.ctx, "twilio", v.ID, path, connectors.CallbackRequest{Form: form, Header: map[string]string{"x-twilio-signature": "forged"}})
	require.ErrorIs(t, err, connectors.ErrBadSignature)
	err = b.svc.Callback(b.ctx, "twilio", "nope", path, connectors.CallbackRequest{Form: form})
	require.ErrorIs(t, err, store.ErrNotFound)
	err = b.svc.Callback(b.ctx, "smtp", v.ID, path, connectors.CallbackRequest{Form: form})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// rateLimited runs fn against the embedded Redis and the real one.
func rateLimited(t *testing.T, fn func(t *testing.T, rdb *redis.Client)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		emb, err := embedredis.Start()
		require.NoError(t, err)
		t.Cleanup(emb.Close)
		opt, _ := redis.ParseURL(emb.URL())
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, rdb)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		opt, err := redis.ParseURL(testenv.RedisURL(t, testenv.RedisDBConnectors))
		require.NoError(t, err)
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, rdb)
	})
}

func TestRateLimitSharedByWorkers(t *testing.T) {
	t.Parallel()
	rateLimited(t, func(t *testing.T, rdb *redis.Client) {
		b := setup(t, connectors.Options{Limiter: ratelimit.New(rdb)})
		srv, hits := hookServer(t)
		v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": srv.URL, "secret": whsec, "rate_limit": 0.5}})
		require.NoError(t, err)
		require.Equal(t, connectors.Rate{PerSecond: 0.5, Burst: 1}, v.RateLimit)
		// Two "workers": separate services sharing the database and Redis.
		reg, _ := builtin.NewRegistry()
		w2, err := connectors.NewService(b.store, b.keys, reg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests()), Limiter: ratelimit.New(rdb)})
		require.NoError(t, err)
		var sent, limited int
		for i, svc := range []*connectors.Service{b.svc, w2, b.svc, w2} {
			c, err := svc.Resolve(b.ctx, b.ws, "crm")
			require.NoError(t, err)
			_, err = c.Send(b.ctx, connectors.Message{IdempotencyKey: "k" + string(rune('0'+i)), Payload: json.RawMessage(`{}`)})
			if err == nil {
				sent++
				continue
			}
			cl, wait, reason := connectors.Classify(err)
			require.Equal(t, connectors.Transient, cl)
			require.Equal(t, "rate limited", reason)
			require.Greater(t, wait, time.Second)
			limited++
		}
		require.Equal(t, 1, sent)
		require.Equal(t, 3, limited)
		require.EqualValues(t, 1, hits.Load())

		bl, err := b.svc.Backlog(b.ctx, b.ws, v.ID)
		require.NoError(t, err)
		require.True(t, bl.LimiterKnown)
		require.EqualValues(t, 3, bl.Throttled)
		require.Less(t, bl.Tokens, 1.0)
	})
}

func TestBacklog(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": whsec, "rate_limit": 2}})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "r:" + string(rune('0'+i)), Connector: "crm", Channel: "send_webhook"})
		require.NoError(t, err)
	}
	bl, err := b.svc.Backlog(b.ctx, b.ws, v.ID)
	require.NoError(t, err)
	require.EqualValues(t, 5, bl.Pending)
	require.Equal(t, 3*time.Second, bl.ExpectedDelay)
	require.False(t, bl.LimiterKnown)
}

func TestEraseFromAudiences(t *testing.T) {
	t.Parallel()
	var removes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/users") {
			removes.Add(1)
		}
		io.WriteString(w, `{"num_received": 1, "num_invalid_entries": 0}`)
	}))
	t.Cleanup(srv.Close)
	b := setup(t, connectors.Options{})
	_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "meta_audiences", Name: "fb", Config: map[string]any{
		"access_token": "t", "ad_account_id": "act_1", "audience_id": "2", "base_url": srv.URL}})
	require.NoError(t, err)
	_, err = b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": whsec}})
	require.NoError(t, err)
	require.NoError(t, b.svc.EraseFromAudiences(b.ctx, b.ws, connectors.Member{Email: "ada@example.com"}))
	require.EqualValues(t, 1, removes.Load())
}

func TestTestCall(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	res, err := b.svc.Test(b.ctx, b.ws, "sandbox", "")
	require.NoError(t, err)
	require.True(t, res.OK)
	srv, hits := hookServer(t)
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": srv.URL, "secret": whsec}})
	require.NoError(t, err)
	res, err = b.svc.Test(b.ctx, b.ws, v.ID, "")
	require.NoError(t, err)
	require.True(t, res.OK, res.Detail)
	require.EqualValues(t, 1, hits.Load())
	_, err = b.svc.Test(b.ctx, b.ws, "nope", "")
	require.True(t, errors.Is(err, store.ErrNotFound))
}

func TestIdempotentSendsPassThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": whsec}})
	require.NoError(t, err)
	_, err = b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "smtp", Name: "mail", Config: map[string]any{"host": "smtp.example.com", "from": "a@b.example"}})
	require.NoError(t, err)
	for name, want := range map[string]bool{"crm": true, "mail": false, "sandbox": true} {
		c, err := b.svc.Resolve(b.ctx, b.ws, name)
		require.NoError(t, err)
		is, ok := c.(connectors.Idempotent)
		require.True(t, ok, name)
		require.Equal(t, want, is.IdempotentSends(), name)
	}
}
