package connectors_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/nodes"
)

// Changing where a connector talks needs the secrets that go there again:
// a stored secret never follows a new destination (security review F4).
func TestDestinationChangeNeedsSecretsAgain(t *testing.T) {
	t.Parallel()
	google := map[string]any{"developer_token": "dev-1", "customer_id": "123-456-7890", "user_list_id": "7012345678",
		"oauth_client_id": "id.apps.googleusercontent.com", "oauth_client_secret": "cs-1", "oauth_refresh_token": "rt-1"}
	tests := []struct {
		name    string
		typ     string
		config  map[string]any
		dest    string
		to      any
		secrets []string // asked for again, in field order
	}{
		{"twilio base_url", "twilio", map[string]any{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tw-1", "from": "+15017122661"},
			"base_url", "https://api.twilio-compatible.example", []string{"auth_token"}},
		{"meta base_url", "meta_audiences", map[string]any{"access_token": "EAAB-1", "ad_account_id": "act_1234567890", "audience_id": "23850000000000000"},
			"base_url", "https://graph.other.example", []string{"access_token"}},
		{"google base_url", "google_customer_match", google, "base_url", "https://ads.other.example",
			[]string{"developer_token", "oauth_client_secret", "oauth_refresh_token"}},
		{"google oauth_token_url", "google_customer_match", google, "oauth_token_url", "https://oauth.other.example/token",
			[]string{"oauth_client_secret", "oauth_refresh_token"}},
		{"smtp host", "smtp", map[string]any{"host": "smtp.example.com", "from": "news@acme.example", "username": "u", "password": "pw-1"},
			"host", "smtp.other.example", []string{"password"}},
		{"webhook url", "webhook", map[string]any{"url": "https://crm.example.com/hook", "secret": whsec},
			"url", "https://collector.other.example/", []string{"secret"}},
		{"default removed by a form post", "twilio", map[string]any{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tw-1", "from": "+15017122661",
			"base_url": "https://api.twilio-compatible.example"}, "base_url", "", []string{"auth_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, connectors.Options{})
			v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: tt.typ, Name: "conn", Config: tt.config})
			require.NoError(t, err)
			before, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
			require.NoError(t, err)

			// Only the destination: refused, naming each secret, nothing written.
			_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{tt.dest: tt.to}})
			var ve *connectors.ValidationError
			require.ErrorAs(t, err, &ve)
			var fields []string
			for _, p := range ve.Problems {
				fields = append(fields, p.Field)
				require.Contains(t, p.Message, "("+tt.dest+") changes")
				require.Contains(t, p.Message, "enter it again")
			}
			require.Equal(t, tt.secrets, fields)
			after, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
			require.NoError(t, err)
			require.Equal(t, before, after, "nothing is written")

			// Some of the secrets are not enough.
			if len(tt.secrets) > 1 {
				_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{tt.dest: tt.to, tt.secrets[0]: "new-0"}})
				require.ErrorAs(t, err, &ve)
				require.Len(t, ve.Problems, len(tt.secrets)-1)
			}

			// The same value again is no change.
			same := before.Config[tt.dest]
			_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{tt.dest: same}})
			require.NoError(t, err)

			// With the secrets given again (even the same values), it goes through.
			patch := map[string]any{tt.dest: tt.to}
			for i, s := range tt.secrets {
				patch[s] = "new-" + string(rune('a'+i))
			}
			if tt.typ == "webhook" {
				patch["secret"] = whsec
			}
			_, changed, err := b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: patch})
			require.NoError(t, err)
			require.Contains(t, changed, tt.dest)
			row, err := b.store.GetConnector(b.ctx, b.ws, v.ID)
			require.NoError(t, err)
			for _, s := range tt.secrets {
				pt, err := b.keys.Open(secrets.Sealed(row.Secrets[s]), secrets.ConnectorAD(v.ID, s))
				require.NoError(t, err)
				require.Equal(t, patch[s], string(pt))
			}
		})
	}
}

func TestDestinationChangeWithoutStoredSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "smtp", Name: "mail", Config: map[string]any{
		"host": "smtp.example.com", "from": "news@acme.example", "username": "u", "password": "pw-1"}})
	require.NoError(t, err)

	// Removing the password while moving is fine: nothing follows.
	up, _, err := b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"host": "smtp.other.example", "password": nil, "username": nil}})
	require.NoError(t, err)
	require.Empty(t, up.SecretsSet)
	// No secret stored: moving again needs nothing.
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"host": "smtp.third.example"}})
	require.NoError(t, err)

	// A secret that does not go to the host (the DKIM key) stays.
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{
		"dkim_domain": "acme.example", "dkim_selector": "s1", "dkim_private_key": testDKIMKey(t)}})
	require.NoError(t, err)
	up, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"host": "smtp.fourth.example"}})
	require.NoError(t, err)
	require.Equal(t, []string{"dkim_private_key"}, up.SecretsSet)

	// Other fields change freely.
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"port": 465, "tls": "implicit"}})
	require.NoError(t, err)
}

// A retargeted connector's test call carries no stored credential to the
// new host (the review's reproduction, through the service).
func TestRetargetedTestSendsNoCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	legit, legitAuth := authCapture(t)
	thief, thiefAuth := authCapture(t)
	sid := "AC0123456789abcdef0123456789abcdef"
	v, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": sid, "auth_token": "TWILIO-SECRET-TOKEN-123", "from": "+15017122661", "base_url": legit.URL}})
	require.NoError(t, err)

	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"base_url": thief.URL}})
	var ve *connectors.ValidationError
	require.ErrorAs(t, err, &ve)
	_, err = b.svc.Test(b.ctx, b.ws, v.ID, "")
	require.NoError(t, err)
	require.Empty(t, thiefAuth(), "nothing reached the new host")
	require.Len(t, legitAuth(), 1, "the test still goes where the connector talks")
	require.Contains(t, legitAuth()[0], "Basic ")

	// Given a new token, the new host gets that one, never the stored one.
	_, _, err = b.svc.Update(b.ctx, b.ws, v.ID, connectors.Patch{Config: map[string]any{"base_url": thief.URL, "auth_token": "typed-again"}})
	require.NoError(t, err)
	_, err = b.svc.Test(b.ctx, b.ws, v.ID, "")
	require.NoError(t, err)
	require.Len(t, thiefAuth(), 1)
	require.Equal(t, basic(sid, "typed-again"), thiefAuth()[0])
}

func TestRegisterChecksDestinations(t *testing.T) {
	t.Parallel()
	base := connectors.Type{Name: "x", Title: "X", Kinds: []string{"send_email"}, RateLimit: connectors.Rate{PerSecond: 1, Burst: 1},
		New: func(connectors.Setup) (connectors.Instance, error) { return nil, nil },
		Fields: []nodes.Field{
			{Name: "host", Title: "Host", Type: nodes.String},
			{Name: "port", Title: "Port", Type: nodes.Integer},
			{Name: "password", Title: "Password", Type: nodes.String, Secret: true},
		}}
	tests := []struct {
		name string
		dest connectors.Destination
		err  string
	}{
		{"unknown field", connectors.Destination{Field: "nope", Secrets: []string{"password"}}, `destination "nope": not a text field`},
		{"number field", connectors.Destination{Field: "port", Secrets: []string{"password"}}, `destination "port": not a text field`},
		{"secret field", connectors.Destination{Field: "password", Secrets: []string{"password"}}, `destination "password": not a text field`},
		{"no secrets", connectors.Destination{Field: "host"}, "names no secret field"},
		{"not a secret", connectors.Destination{Field: "host", Secrets: []string{"port"}}, `"port" is not a secret field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := base
			typ.Destinations = []connectors.Destination{tt.dest}
			err := connectors.NewRegistry().Register(typ)
			require.ErrorContains(t, err, tt.err)
		})
	}
	ok := base
	ok.Destinations = []connectors.Destination{{Field: "host", Secrets: []string{"password"}}}
	require.NoError(t, connectors.NewRegistry().Register(ok))
}

// Every built-in field that names a host or URL is a declared destination
// carrying every secret a request could reveal: a new connector type, or a
// new URL field, must say which secrets go there.
func TestBuiltinTypesDeclareTheirDestinations(t *testing.T) {
	t.Parallel()
	reg, err := builtin.NewRegistry()
	require.NoError(t, err)
	for _, typ := range reg.Types() {
		declared := map[string][]string{}
		for _, d := range typ.Destinations {
			declared[d.Field] = d.Secrets
		}
		carried := map[string]bool{}
		for _, f := range typ.Fields {
			if f.Name == "host" || f.Name == "url" || strings.HasSuffix(f.Name, "_url") {
				require.Contains(t, declared, f.Name, "%s.%s says where the connector talks", typ.Name, f.Name)
			}
		}
		for _, secretsOf := range declared {
			for _, s := range secretsOf {
				carried[s] = true
			}
		}
		for _, s := range typ.SecretFields() {
			if typ.Name == "smtp" && s == "dkim_private_key" {
				continue // signs locally, never sent
			}
			require.True(t, carried[s], "%s.%s goes to some destination", typ.Name, s)
		}
	}
}

func authCapture(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sid": "AC0123456789abcdef0123456789abcdef", "status": "active"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func testDKIMKey(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
