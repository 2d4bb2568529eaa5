package meta_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/audience"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/meta"
)

const (
	token = "EAAB-test-token"
	aud   = "23850000000000001"
)

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

type upload struct {
	Method  string
	Payload struct {
		Schema []string   `json:"schema"`
		Data   [][]string `json:"data"`
	} `json:"payload"`
	Session struct {
		SessionID         int64 `json:"session_id"`
		BatchSeq          int   `json:"batch_seq"`
		LastBatchFlag     bool  `json:"last_batch_flag"`
		EstimatedNumTotal int   `json:"estimated_num_total"`
	} `json:"session"`
}

// fakeGraph answers like the Marketing API's /{audience_id}/users and
// refuses malformed requests the way Graph does (error object, code 100).
type fakeGraph struct {
	t       *testing.T
	mu      sync.Mutex
	uploads []upload
	fail    map[string]string // token → error body
}

func (f *fakeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	tok := r.Header.Get("Authorization")
	if body, ok := f.fail[tok]; ok {
		w.WriteHeader(400)
		io.WriteString(w, body)
		return
	}
	if tok != "Bearer "+token {
		w.WriteHeader(400)
		io.WriteString(w, `{"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190, "fbtrace_id": "A1"}}`)
		return
	}
	if r.Method == "GET" && r.URL.Path == "/v21.0/"+aud && r.URL.Query().Get("fields") == "id,name" {
		io.WriteString(w, `{"id": "`+aud+`", "name": "Winback 2026"}`)
		return
	}
	bad := func(msg string) {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error": {"message": "(#100) %s", "type": "OAuthException", "code": 100, "fbtrace_id": "B2"}}`, msg)
	}
	if r.URL.Path != "/v21.0/"+aud+"/users" || (r.Method != "POST" && r.Method != "DELETE") || r.Header.Get("Content-Type") != "application/json" {
		bad("Unsupported request")
		return
	}
	var u upload
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		bad("Invalid JSON")
		return
	}
	u.Method = r.Method
	if len(u.Payload.Schema) != 2 || u.Payload.Schema[0] != "EMAIL" || u.Payload.Schema[1] != "PHONE" || len(u.Payload.Data) > 10000 || len(u.Payload.Data) == 0 {
		bad("Invalid payload")
		return
	}
	for _, row := range u.Payload.Data {
		if len(row) != 2 || (row[0] == "" && row[1] == "") {
			bad("Invalid row")
			return
		}
		for _, v := range row {
			if v != "" && !hexRE.MatchString(v) {
				bad("Identifiers must be SHA-256 hashed")
				return
			}
		}
	}
	if u.Session.SessionID <= 0 || u.Session.BatchSeq < 1 {
		bad("Invalid session")
		return
	}
	f.mu.Lock()
	f.uploads = append(f.uploads, u)
	f.mu.Unlock()
	fmt.Fprintf(w, `{"audience_id": "%s", "session_id": "%d", "num_received": %d, "num_invalid_entries": 0, "invalid_entry_samples": {}}`, aud, u.Session.SessionID, len(u.Payload.Data))
}

func setup(t *testing.T, tok string) (connectors.Instance, *fakeGraph) {
	t.Helper()
	f := &fakeGraph{t: t, fail: map[string]string{
		"Bearer expired":   `{"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "C3"}}`,
		"Bearer throttled": `{"error": {"message": "There have been too many calls for this ad-account.", "type": "OAuthException", "code": 80003, "fbtrace_id": "D4"}}`,
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	env, _ := ctest.Env(t)
	c := ctest.Build(t, meta.Type, env, map[string]any{"access_token": tok, "ad_account_id": "act_1234", "audience_id": aud, "base_url": srv.URL})
	return c, f
}

var yes = map[string]any{"ads": true}

func TestSendAddRemove(t *testing.T) {
	t.Parallel()
	c, f := setup(t, token)
	ctx := context.Background()
	res, err := c.Send(ctx, connectors.Message{Kind: "audience_add", Email: " Ada@Example.com ", Phone: "+33 6 12 34 56 78", Consent: yes})
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	require.Len(t, f.uploads, 1)
	u := f.uploads[0]
	require.Equal(t, "POST", u.Method)
	require.Equal(t, [][]string{{audience.Hash("ada@example.com"), audience.Hash("33612345678")}}, u.Payload.Data)
	require.True(t, u.Session.LastBatchFlag)
	require.Equal(t, 1, u.Session.BatchSeq)

	// Removal needs no consent (and is how erasure works).
	_, err = c.Send(ctx, connectors.Message{Kind: "audience_remove", Email: "ada@example.com"})
	require.NoError(t, err)
	require.Equal(t, "DELETE", f.uploads[1].Method)
	require.Equal(t, []string{audience.Hash("ada@example.com"), ""}, f.uploads[1].Payload.Data[0])

	// No consent: nothing uploaded, and the engine can tell it was suppressed.
	for _, consent := range []map[string]any{nil, {"ads": false}, {"ad_user_data": false, "ads": true}} {
		_, err = c.Send(ctx, connectors.Message{Kind: "audience_add", Email: "bob@example.com", Consent: consent})
		require.True(t, errors.Is(err, connectors.ErrSuppressed), "%v", consent)
	}
	_, err = c.Send(ctx, connectors.Message{Kind: "audience_remove", Phone: "0612345678"})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err), "a phone without country code is not guessed")
	require.Len(t, f.uploads, 2)
}

func TestBatchedSync(t *testing.T) {
	t.Parallel()
	c, f := setup(t, token)
	members := make([]connectors.Member, 0, 10003)
	for i := 0; i < 10001; i++ {
		members = append(members, connectors.Member{Email: fmt.Sprintf("user%d@example.com", i), Consent: yes})
	}
	members = append(members, connectors.Member{Email: "no-consent@example.com"}, connectors.Member{Consent: yes})
	res, err := c.(connectors.AudienceSyncer).SyncAudience(context.Background(), "audience_add", members)
	require.NoError(t, err)
	require.Equal(t, 10001, res.Uploaded)
	require.Equal(t, 2, res.Skipped)
	require.Equal(t, 2, res.Requests)
	require.Len(t, f.uploads, 2)
	require.Len(t, f.uploads[0].Payload.Data, 10000, "at most 10,000 users per request")
	require.Len(t, f.uploads[1].Payload.Data, 1)
	s0, s1 := f.uploads[0].Session, f.uploads[1].Session
	require.Equal(t, s0.SessionID, s1.SessionID, "one session across the batches")
	require.Equal(t, []int{1, 2}, []int{s0.BatchSeq, s1.BatchSeq})
	require.Equal(t, []bool{false, true}, []bool{s0.LastBatchFlag, s1.LastBatchFlag})
	require.Equal(t, 10001, s0.EstimatedNumTotal)

	meta.SetBatch(c, 10)
	f.uploads = nil
	res, err = c.(connectors.AudienceSyncer).SyncAudience(context.Background(), "audience_remove", members[:25])
	require.NoError(t, err)
	require.Equal(t, 3, res.Requests)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := connectors.Message{Kind: "audience_add", Email: "ada@example.com", Consent: yes}
	for _, tt := range []struct {
		token  string
		class  connectors.Class
		reason string
	}{
		{"expired", connectors.Transient, "Session has expired"},
		{"throttled", connectors.Transient, "80003"},
		{"garbage", connectors.Transient, "190"},
	} {
		c, _ := setup(t, tt.token)
		_, err := c.Send(ctx, m)
		require.Equal(t, tt.class, ctest.Class(t, err), "%v", err)
		require.Contains(t, err.Error(), tt.reason)
	}
	c, _ := setup(t, token)
	_, err := c.Send(ctx, connectors.Message{Kind: "send_email", Email: "a@b.example", Consent: yes})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))

	res := c.Test(ctx, "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "Winback 2026")
	bad, _ := setup(t, "expired")
	res = bad.Test(ctx, "")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "Session has expired")
}

// TestConsentRule: an add needs ads or ad_user_data granted and neither
// withdrawn; a removal goes out whatever the consent (it is how a
// withdrawal reaches Meta).
func TestConsentRule(t *testing.T) {
	t.Parallel()
	c, f := setup(t, token)
	ctx := context.Background()
	granted := map[string]any{"status": "granted", "source": "api", "at": "2026-05-01T00:00:00Z"}
	revoked := map[string]any{"status": "revoked", "source": "api", "at": "2026-05-02T00:00:00Z"}
	for _, tt := range []struct {
		name    string
		consent map[string]any
		added   bool
	}{
		{"ads granted", map[string]any{"ads": granted}, true},
		{"ad_user_data granted", map[string]any{"ad_user_data": granted}, true},
		{"ad_user_data true", map[string]any{"ad_user_data": true}, true},
		{"ads revoked", map[string]any{"ads": revoked}, false},
		{"ads revoked, ad_user_data still granted", map[string]any{"ads": revoked, "ad_user_data": granted}, false},
		{"ad_user_data revoked, ads granted", map[string]any{"ads": granted, "ad_user_data": revoked}, false},
		{"ad_personalization only", map[string]any{"ad_personalization": granted}, false},
		{"email consent only", map[string]any{"email": granted}, false},
		{"stored without a status", map[string]any{"ads": map[string]any{"status": ""}}, false},
	} {
		before := len(f.uploads)
		_, err := c.Send(ctx, connectors.Message{Kind: "audience_add", Email: "ada@example.com", Consent: tt.consent})
		if tt.added {
			require.NoError(t, err, tt.name)
			require.Len(t, f.uploads, before+1, tt.name)
			continue
		}
		require.True(t, errors.Is(err, connectors.ErrSuppressed), "%s: %v", tt.name, err)
		require.Len(t, f.uploads, before, tt.name)

		// The same profile is removed, whatever its consent.
		res, err := c.Send(ctx, connectors.Message{Kind: "audience_remove", Email: "ada@example.com", Consent: tt.consent})
		require.NoError(t, err, tt.name)
		require.Equal(t, "sent", res.Status)
		require.Len(t, f.uploads, before+1, tt.name)
		require.Equal(t, "DELETE", f.uploads[before].Method)
		require.Equal(t, [][]string{{audience.Hash("ada@example.com"), ""}}, f.uploads[before].Payload.Data)
	}
}
