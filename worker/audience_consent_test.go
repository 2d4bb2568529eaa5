package worker_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// adCall is one membership change an ad-platform stub accepted.
type adCall struct {
	Op      string         // add or remove
	Hash    string         // the hashed email
	Consent map[string]any // Google: the job's consent
}

// adPlatforms are a Meta Marketing API and a Google Ads API (with its
// OAuth token endpoint) on one loopback server, answering in their shapes:
// Meta POST/DELETE /{version}/{audience}/users with a hashed multi-key
// payload; Google offlineUserDataJobs create → addOperations → run.
type adPlatforms struct {
	srv  *httptest.Server
	mu   sync.Mutex
	meta []adCall
	ads  []adCall
	jobs map[string]map[string]any // Google job id → its consent
}

func newAdPlatforms(t *testing.T) *adPlatforms {
	p := &adPlatforms{jobs: map[string]map[string]any{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *adPlatforms) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	p.mu.Lock()
	defer p.mu.Unlock()
	fail := func(code int, body string) { w.WriteHeader(code); io.WriteString(w, body) }
	switch {
	case r.URL.Path == "/token":
		io.WriteString(w, `{"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"}`)
	case r.URL.Path == "/v21.0/777/users":
		if r.Header.Get("Authorization") != "Bearer meta-token" {
			fail(400, `{"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}`)
			return
		}
		var body struct {
			Payload struct {
				Schema []string   `json:"schema"`
				Data   [][]string `json:"data"`
			} `json:"payload"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || len(body.Payload.Data) == 0 {
			fail(400, `{"error": {"message": "(#100) Invalid payload", "type": "OAuthException", "code": 100}}`)
			return
		}
		op := map[string]string{"POST": "add", "DELETE": "remove"}[r.Method]
		for _, row := range body.Payload.Data {
			if !sha256RE.MatchString(row[0]) {
				fail(400, `{"error": {"message": "(#100) Identifiers must be SHA-256 hashed", "type": "OAuthException", "code": 100}}`)
				return
			}
			p.meta = append(p.meta, adCall{Op: op, Hash: row[0]})
		}
		fmt.Fprintf(w, `{"audience_id": "777", "num_received": %d, "num_invalid_entries": 0, "invalid_entry_samples": {}}`, len(body.Payload.Data))
	case r.URL.Path == "/v24/customers/1234567890/offlineUserDataJobs:create":
		var body struct {
			Job struct {
				Meta struct {
					UserList string         `json:"userList"`
					Consent  map[string]any `json:"consent"`
				} `json:"customerMatchUserListMetadata"`
			} `json:"job"`
		}
		if r.Header.Get("Authorization") != "Bearer ya29.test" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Job.Meta.UserList != "customers/1234567890/userLists/555" {
			fail(400, `{"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}`)
			return
		}
		id := fmt.Sprint(len(p.jobs) + 1)
		p.jobs[id] = body.Job.Meta.Consent
		fmt.Fprintf(w, `{"resourceName": "customers/1234567890/offlineUserDataJobs/%s"}`, id)
	case strings.HasSuffix(r.URL.Path, ":addOperations"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v24/customers/1234567890/offlineUserDataJobs/"), ":addOperations")
		var body struct {
			Operations []map[string]struct {
				UserIdentifiers []map[string]string `json:"userIdentifiers"`
			} `json:"operations"`
		}
		if _, ok := p.jobs[id]; !ok || json.NewDecoder(r.Body).Decode(&body) != nil {
			fail(400, `{"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}`)
			return
		}
		for _, o := range body.Operations {
			for op, d := range o {
				p.ads = append(p.ads, adCall{Op: map[string]string{"create": "add", "remove": "remove"}[op], Hash: d.UserIdentifiers[0]["hashedEmail"], Consent: p.jobs[id]})
			}
		}
		io.WriteString(w, `{}`)
	case strings.HasSuffix(r.URL.Path, ":run"):
		io.WriteString(w, `{"name": "customers/1234567890/operations/op-1"}`)
	default:
		fail(404, `{"error": {"code": 404, "message": "Not found.", "status": "NOT_FOUND"}}`)
	}
}

func (p *adPlatforms) calls() (meta, ads []adCall) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]adCall(nil), p.meta...), append([]adCall(nil), p.ads...)
}

// withAdConnectors rebuilds the harness's engine on the real connector
// service, with a Meta ("fb") and a Google ("gads") audience connector
// talking to the stubs.
func (h *harness) withAdConnectors() (*adPlatforms, *connectors.Service) {
	h.t.Helper()
	p := newAdPlatforms(h.t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyring(key)
	require.NoError(h.t, err)
	reg, err := builtin.NewRegistry()
	require.NoError(h.t, err)
	svc, err := connectors.NewService(h.st, keys, reg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests()),
		PublicURL: "https://waymark.example.com", Now: h.clock.Now})
	require.NoError(h.t, err)
	_, err = svc.Create(h.ctx, store.DefaultWorkspaceID, connectors.Input{Type: "meta_audiences", Name: "fb", Config: map[string]any{
		"access_token": "meta-token", "ad_account_id": "act_1", "audience_id": "777", "base_url": p.srv.URL}})
	require.NoError(h.t, err)
	_, err = svc.Create(h.ctx, store.DefaultWorkspaceID, connectors.Input{Type: "google_customer_match", Name: "gads", Config: map[string]any{
		"developer_token": "dev", "customer_id": "123-456-7890", "user_list_id": "555", "oauth_client_id": "cid",
		"oauth_client_secret": "cs", "oauth_refresh_token": "rt", "base_url": p.srv.URL, "oauth_token_url": p.srv.URL + "/token"}})
	require.NoError(h.t, err)
	h.cfg.Connectors = svc
	h.eng = worker.NewEngine(h.cfg)
	return p, svc
}

// audienceJourney runs kind (audience_add or audience_remove) on Meta, then
// on Google, for every "sync" event.
func audienceJourney(kind string) []byte {
	return fmt.Appendf(nil, `{"format": 1, "name": %q, "settings": {"reentry": "always"}, "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "sync"}},
		{"id": "meta", "kind": %q, "config": {"connector": "fb"}},
		{"id": "google", "kind": %q, "config": {"connector": "gads"}}],
		"edges": [{"from": "start", "to": "meta"}, {"from": "meta", "to": "google"}]}`, kind, kind, kind)
}

// adEngine is a harness on the real connector service with the stubs, the
// add and remove journeys published.
type adEngine struct {
	*harness
	p           *adPlatforms
	add, remove string
}

func newAdEngine(t *testing.T) *adEngine {
	h := newHarness(t)
	p, _ := h.withAdConnectors()
	return &adEngine{harness: h, p: p, add: h.publish(audienceJourney("audience_add")), remove: h.publish(audienceJourney("audience_remove"))}
}

// person is a profile with an email and the consent given (channel → status).
func (e *adEngine) person(name string, consent ...string) store.Profile {
	e.t.Helper()
	pr := e.profile(name, nil, "email", name+"@example.com")
	for i := 0; i+1 < len(consent); i += 2 {
		var err error
		pr, err = e.st.SetProfileConsent(e.ctx, pr.ID, consent[i], consent[i+1], "test")
		require.NoError(e.t, err)
	}
	return pr
}

// runs enters the journey and returns the run's path.
func (e *adEngine) runs(journey string, pr store.Profile) (store.Run, []string) {
	e.t.Helper()
	r := e.enter(journey, pr, worker.EntryEvent{})
	e.drain()
	return e.run(r.ID), e.path(r.ID)
}

var (
	sentBoth    = []string{"start:out:entered", "meta:out:sent", "google:out:sent"}
	skippedBoth = []string{"start:out:entered", "meta:out:skipped", "google:out:skipped"}
)

// TestAudienceRemoveNeedsNoConsent: a removal goes out whatever the
// profile's consent, so a profile whose ad consent was revoked is removed
// from Meta and Google (it is how the withdrawal reaches them), and is not
// added again.
func TestAudienceRemoveNeedsNoConsent(t *testing.T) {
	t.Parallel()
	e := newAdEngine(t)
	ada := e.person("ada", "ads", "granted")
	_, path := e.runs(e.add, ada)
	require.Equal(t, sentBoth, path)

	ada = e.person("ada", "ads", "revoked")
	r, path := e.runs(e.remove, ada)
	require.Equal(t, sentBoth, path, "removal needs no consent")
	for _, d := range e.deliveries(r.ID) {
		require.Equal(t, store.DeliverySent, d.Status, "%s", d.NodeID)
	}
	meta, ads := e.p.calls()
	require.Equal(t, []string{"add", "remove"}, []string{meta[0].Op, meta[1].Op})
	require.Equal(t, []string{"add", "remove"}, []string{ads[0].Op, ads[1].Op})
	require.Equal(t, sha("ada@example.com"), meta[1].Hash)
	require.Equal(t, sha("ada@example.com"), ads[1].Hash)
	require.Nil(t, ads[1].Consent, "a removal carries no consent")

	// … and she is not added again.
	r, path = e.runs(e.add, ada)
	require.Equal(t, skippedBoth, path)
	ds := e.deliveries(r.ID)
	require.Equal(t, store.DeliverySuppressed, ds[0].Status)
	require.Contains(t, ds[0].Error, "withdrawn")

	// Whatever the consent, even none at all, a removal goes out.
	for i, c := range [][]string{nil, {"ads", "opted_out"}, {"ad_user_data", "revoked"}, {"email", "granted"}} {
		pr := e.person(fmt.Sprint("other", i), c...)
		_, path = e.runs(e.remove, pr)
		require.Equal(t, sentBoth, path, "consent %v", c)
	}
	meta, ads = e.p.calls()
	require.Len(t, meta, 6)
	require.Len(t, ads, 6)
}

// TestAudienceAddNeedsAdConsent: an add uploads a profile with ads or
// ad_user_data granted, and neither withdrawn; the others are skipped
// (delivery suppressed) and nothing reaches the platforms.
func TestAudienceAddNeedsAdConsent(t *testing.T) {
	t.Parallel()
	e := newAdEngine(t)
	for _, tt := range []struct {
		name    string
		consent []string
		want    []string
	}{
		{"ads", []string{"ads", "granted"}, sentBoth},
		{"ad_user_data", []string{"ad_user_data", "granted"}, sentBoth},
		{"nothing", nil, skippedBoth},
		{"email only", []string{"email", "granted"}, skippedBoth},
		{"ad_personalization only", []string{"ad_personalization", "granted"}, skippedBoth},
		{"ads revoked", []string{"ads", "revoked"}, skippedBoth},
		{"ads revoked, ad_user_data granted", []string{"ads", "revoked", "ad_user_data", "granted"}, skippedBoth},
		{"ad_user_data revoked, ads granted", []string{"ads", "granted", "ad_user_data", "revoked"}, skippedBoth},
	} {
		before, _ := e.p.calls()
		r, path := e.runs(e.add, e.person(strings.ReplaceAll(tt.name, " ", "_"), tt.consent...))
		require.Equal(t, tt.want, path, tt.name)
		after, _ := e.p.calls()
		if tt.want[1] == "meta:out:sent" {
			require.Len(t, after, len(before)+1, tt.name)
			continue
		}
		require.Len(t, after, len(before), "%s: nothing uploaded", tt.name)
		for _, d := range e.deliveries(r.ID) {
			require.Equal(t, store.DeliverySuppressed, d.Status, tt.name)
		}
	}
}

// TestAudienceAddGoogleConsentSignals: Google's job carries the profile's
// consent signals: ad_user_data from ad_user_data or ads, ad_personalization
// from ad_personalization or ads; one not recorded is not claimed.
func TestAudienceAddGoogleConsentSignals(t *testing.T) {
	t.Parallel()
	e := newAdEngine(t)
	for _, tt := range []struct {
		consent []string
		want    map[string]any
	}{
		{[]string{"ads", "granted"}, map[string]any{"adUserData": "GRANTED", "adPersonalization": "GRANTED"}},
		{[]string{"ad_user_data", "granted"}, map[string]any{"adUserData": "GRANTED"}},
		{[]string{"ad_user_data", "granted", "ad_personalization", "granted"}, map[string]any{"adUserData": "GRANTED", "adPersonalization": "GRANTED"}},
		{[]string{"ads", "granted", "ad_personalization", "revoked"}, map[string]any{"adUserData": "GRANTED", "adPersonalization": "DENIED"}},
	} {
		_, path := e.runs(e.add, e.person(strings.Join(tt.consent, "_"), tt.consent...))
		require.Equal(t, sentBoth, path, "%v", tt.consent)
		_, ads := e.p.calls()
		require.Equal(t, tt.want, ads[len(ads)-1].Consent, "%v", tt.consent)
	}
}

// TestAudienceWithdrawalTask: the removal queued when a profile's ad
// consent is withdrawn (or it is erased) reaches every audience connector
// of the workspace.
func TestAudienceWithdrawalTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p, svc := h.withAdConnectors()
	queue := worker.QueueAudienceErasure(h.queue)
	require.NoError(t, queue(h.ctx, store.DefaultWorkspaceID, connectors.Member{ProfileID: "p1", Email: "Ada@Example.com"}))
	require.NoError(t, queue(h.ctx, store.DefaultWorkspaceID, connectors.Member{ProfileID: "p1", Email: "Ada@Example.com"}), "already queued: one task")
	due := h.queue.due()
	require.Len(t, due, 1)
	require.NoError(t, worker.AudienceErasureHandler{Conns: svc}.ProcessTask(h.ctx, asynq.NewTask(worker.TaskEraseAudiences, due[0].payload)))
	meta, ads := p.calls()
	require.Equal(t, []adCall{{Op: "remove", Hash: sha("ada@example.com")}}, meta)
	require.Equal(t, []adCall{{Op: "remove", Hash: sha("ada@example.com")}}, ads)
}
