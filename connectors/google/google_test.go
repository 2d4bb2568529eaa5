package google_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/google"
	"github.com/waymarkhq/waymark/connectors/internal/audience"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
)

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

type op struct {
	Create *userData `json:"create"`
	Remove *userData `json:"remove"`
}

type userData struct {
	UserIdentifiers []map[string]string `json:"userIdentifiers"`
	Consent         map[string]string   `json:"consent"`
}

// fakeAds answers like the Google Ads API's OfflineUserDataJobService and
// Google's OAuth token endpoint, in their JSON shapes (google.rpc.Status
// errors with GoogleAdsFailure details).
type fakeAds struct {
	mu          sync.Mutex
	tokens      int
	jobs        map[string]map[string]any // job → create request
	added       map[string][][]op         // job → addOperations requests
	ran         []string
	rejectEmail string
}

func newFake() *fakeAds {
	return &fakeAds{jobs: map[string]map[string]any{}, added: map[string][][]op{}}
}

func googleError(w http.ResponseWriter, code int, status, msg string) {
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error": {"code": %d, "message": "Request contains an invalid argument.", "status": %q, "details": [{"@type": "type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure", "errors": [{"errorCode": {"requestError": "INVALID_INPUT"}, "message": %q}], "requestId": "req-1"}]}}`, code, status, msg)
}

func (f *fakeAds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/token" {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("client_secret") != "csecret" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error": "invalid_client", "error_description": "The OAuth client was not found."}`)
			return
		}
		if r.PostForm.Get("refresh_token") != "refresh-ok" {
			w.WriteHeader(400)
			io.WriteString(w, `{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}`)
			return
		}
		f.tokens++
		io.WriteString(w, `{"access_token": "ya29.access", "expires_in": 3599, "token_type": "Bearer"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer ya29.access" {
		googleError(w, 401, "UNAUTHENTICATED", "Request is missing required authentication credential.")
		return
	}
	if r.Header.Get("developer-token") != "dev-token" {
		googleError(w, 403, "PERMISSION_DENIED", "The developer token is not approved.")
		return
	}
	if r.Header.Get("login-customer-id") != "9876543210" {
		googleError(w, 403, "PERMISSION_DENIED", "User doesn't have permission to access customer.")
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		googleError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/v24/customers/1234567890/offlineUserDataJobs:create":
		var req map[string]any
		_ = json.Unmarshal(body["job"], &req)
		meta, _ := req["customerMatchUserListMetadata"].(map[string]any)
		if req["type"] != "CUSTOMER_MATCH_USER_LIST" || meta["userList"] != "customers/1234567890/userLists/555" {
			googleError(w, 400, "INVALID_ARGUMENT", "Invalid job.")
			return
		}
		consent, _ := meta["consent"].(map[string]any)
		for k, v := range consent {
			switch v {
			case "UNSPECIFIED", "UNKNOWN", "GRANTED", "DENIED":
			default:
				googleError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid value at 'job.customer_match_user_list_metadata.consent.%s' (type.googleapis.com/google.ads.googleads.v24.enums.ConsentStatusEnum.ConsentStatus), %q", k, v))
				return
			}
		}
		id := fmt.Sprint(len(f.jobs) + 1)
		f.jobs[id] = req
		fmt.Fprintf(w, `{"resourceName": "customers/1234567890/offlineUserDataJobs/%s"}`, id)
	case strings.HasSuffix(p, ":addOperations"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v24/customers/1234567890/offlineUserDataJobs/"), ":addOperations")
		if _, ok := f.jobs[id]; !ok {
			googleError(w, 404, "NOT_FOUND", "Job not found.")
			return
		}
		var ops []op
		_ = json.Unmarshal(body["operations"], &ops)
		if string(body["enablePartialFailure"]) != "true" {
			googleError(w, 400, "INVALID_ARGUMENT", "Partial failure must be enabled.")
			return
		}
		var failed []int
		for i, o := range ops {
			d := o.Create
			if d == nil {
				d = o.Remove
			}
			if d == nil || len(d.UserIdentifiers) == 0 || len(d.UserIdentifiers) > 20 {
				googleError(w, 400, "INVALID_ARGUMENT", "Too many identifiers for one user.")
				return
			}
			for _, idf := range d.UserIdentifiers {
				for _, v := range idf {
					if !hexRE.MatchString(v) {
						googleError(w, 400, "INVALID_ARGUMENT", "Identifiers must be hashed.")
						return
					}
					if v == f.rejectEmail {
						failed = append(failed, i)
					}
				}
			}
		}
		f.added[id] = append(f.added[id], ops)
		if len(failed) == 0 {
			io.WriteString(w, `{}`)
			return
		}
		var errs []string
		for _, i := range failed {
			errs = append(errs, fmt.Sprintf(`{"errorCode": {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}, "message": "The SHA256 encoded value is malformed.", "location": {"fieldPathElements": [{"fieldName": "operations", "index": %d}, {"fieldName": "create"}]}}`, i))
		}
		fmt.Fprintf(w, `{"partialFailureError": {"code": 3, "message": "The SHA256 encoded value is malformed., at operations[%d].create", "details": [{"@type": "type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure", "errors": [%s]}]}}`, failed[0], strings.Join(errs, ","))
	case strings.HasSuffix(p, ":run"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v24/customers/1234567890/offlineUserDataJobs/"), ":run")
		f.ran = append(f.ran, id)
		fmt.Fprintf(w, `{"name": "customers/1234567890/operations/op-%s"}`, id)
	case p == "/v24/customers/1234567890/googleAds:search":
		io.WriteString(w, `{"results": [{"userList": {"resourceName": "customers/1234567890/userLists/555", "id": "555", "name": "Newsletter subscribers"}}], "fieldMask": "userList.id,userList.name"}`)
	default:
		googleError(w, 404, "NOT_FOUND", "Unknown method.")
	}
}

// jobConsent is the consent a job was created with (nil: none).
func (f *fakeAds) jobConsent(id string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	meta, _ := f.jobs[id]["customerMatchUserListMetadata"].(map[string]any)
	return meta["consent"]
}

func setup(t *testing.T, extra map[string]any) (connectors.Instance, *fakeAds) {
	t.Helper()
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	env, _ := ctest.Env(t)
	cfg := map[string]any{"developer_token": "dev-token", "customer_id": "123-456-7890", "login_customer_id": "987-654-3210",
		"user_list_id": "555", "oauth_client_id": "cid", "oauth_client_secret": "csecret", "oauth_refresh_token": "refresh-ok",
		"base_url": srv.URL, "oauth_token_url": srv.URL + "/token"}
	for k, v := range extra {
		cfg[k] = v
	}
	return ctest.Build(t, google.Type, env, cfg), f
}

func TestSendAdd(t *testing.T) {
	t.Parallel()
	c, f := setup(t, nil)
	ctx := context.Background()
	res, err := c.Send(ctx, connectors.Message{Kind: "audience_add", Email: " Ada.Lovelace@GMail.com", Phone: "+44 20 7946 0000",
		Consent: map[string]any{"ad_user_data": true, "ad_personalization": false}})
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	require.Len(t, f.jobs, 1)
	// Customer Match reads consent on the job (and ignores it per user).
	require.Equal(t, map[string]any{"adUserData": "GRANTED", "adPersonalization": "DENIED"}, f.jobConsent("1"))
	ops := f.added["1"][0]
	require.Len(t, ops, 1)
	require.Equal(t, []map[string]string{
		{"hashedEmail": audience.Hash("adalovelace@gmail.com")},
		{"hashedPhoneNumber": audience.Hash("+442079460000")},
	}, ops[0].Create.UserIdentifiers)
	require.Nil(t, ops[0].Create.Consent)
	require.Equal(t, []string{"1"}, f.ran, "the job is run")

	// A second send reuses the access token.
	_, err = c.Send(ctx, connectors.Message{Kind: "audience_remove", Email: "ada@example.com"})
	require.NoError(t, err)
	require.Equal(t, 1, f.tokens)
	require.NotNil(t, f.added["2"][0][0].Remove)
	require.Nil(t, f.added["2"][0][0].Remove.Consent)

	// No consent: nothing goes to Google.
	_, err = c.Send(ctx, connectors.Message{Kind: "audience_add", Email: "bob@example.com", Consent: map[string]any{"ads": false}})
	require.True(t, errors.Is(err, connectors.ErrSuppressed))
	require.Len(t, f.jobs, 2)
}

func TestBatchesAndPartialFailure(t *testing.T) {
	t.Parallel()
	c, f := setup(t, nil)
	google.SetMaxIdentifiers(c, 5)
	var members []connectors.Member
	for i := 0; i < 6; i++ {
		members = append(members, connectors.Member{Email: fmt.Sprintf("u%d@example.com", i), Phone: fmt.Sprintf("+1555010000%d", i), Consent: map[string]any{"ads": true}})
	}
	members = append(members, connectors.Member{Email: "no@example.com"})
	f.rejectEmail = audience.Hash("u3@example.com")
	res, err := c.(connectors.AudienceSyncer).SyncAudience(context.Background(), "audience_add", members)
	require.NoError(t, err)
	require.Len(t, f.jobs, 1, "one job per sync")
	batches := f.added["1"]
	require.Len(t, batches, 3, "12 identifiers, at most 5 per request, users never split")
	for _, b := range batches {
		n := 0
		for _, o := range b {
			n += len(o.Create.UserIdentifiers)
		}
		require.LessOrEqual(t, n, 5)
	}
	require.Equal(t, 5, res.Uploaded)
	require.Equal(t, 1, res.Invalid)
	require.Equal(t, 1, res.Skipped)
	require.Equal(t, 5, res.Requests, "create + 3 × addOperations + run")
	require.Contains(t, res.Detail, "SHA256")
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := connectors.Message{Kind: "audience_add", Email: "ada@example.com", Consent: map[string]any{"ads": true}}
	for _, tt := range []struct {
		name   string
		extra  map[string]any
		reason string
	}{
		{"revoked refresh token", map[string]any{"oauth_refresh_token": "revoked"}, "invalid_grant"},
		{"bad developer token", map[string]any{"developer_token": "nope"}, "developer token is not approved"},
		{"no manager access", map[string]any{"login_customer_id": ""}, "permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setup(t, tt.extra)
			_, err := c.Send(ctx, m)
			require.Equal(t, connectors.Transient, ctest.Class(t, err), "%v", err)
			require.Contains(t, err.Error(), tt.reason)
			require.NotContains(t, err.Error(), "csecret")
		})
	}
	c, _ := setup(t, map[string]any{"user_list_id": "556"})
	_, err := c.Send(ctx, m)
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))
	require.Contains(t, err.Error(), "INVALID_ARGUMENT")
}

func TestTestCall(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	res := c.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "Newsletter subscribers")
	bad, _ := setup(t, map[string]any{"oauth_refresh_token": "revoked"})
	res = bad.Test(context.Background(), "")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "Token has been expired or revoked")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, errs := google.Type.Normalize(map[string]any{"developer_token": "d", "customer_id": "12", "user_list_id": "x",
		"oauth_client_id": "c", "oauth_client_secret": "s", "oauth_refresh_token": "r", "api_version": "24"})
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	require.Equal(t, []string{"customer_id", "user_list_id", "api_version"}, fields)
}

// TestConsentPerJob: an add uploads who granted ads or ad_user_data (and
// withdrew neither), in one job per set of consent signals, the job
// carrying them: Customer Match ignores consent set per user.
func TestConsentPerJob(t *testing.T) {
	t.Parallel()
	c, f := setup(t, nil)
	granted := map[string]any{"status": "granted", "source": "api", "at": "2026-05-01T00:00:00Z"}
	revoked := map[string]any{"status": "revoked", "source": "api", "at": "2026-05-02T00:00:00Z"}
	members := []connectors.Member{
		{Email: "ads@example.com", Consent: map[string]any{"ads": granted}},
		{Email: "userdata@example.com", Consent: map[string]any{"ad_user_data": granted}},
		{Email: "nopers@example.com", Consent: map[string]any{"ads": granted, "ad_personalization": revoked}},
		{Email: "both@example.com", Consent: map[string]any{"ad_user_data": true, "ad_personalization": "granted"}},
		{Email: "withdrawn@example.com", Consent: map[string]any{"ads": revoked, "ad_user_data": granted}},
		{Email: "udwithdrawn@example.com", Consent: map[string]any{"ads": granted, "ad_user_data": revoked}},
		{Email: "never@example.com"},
		{Email: "email-only@example.com", Consent: map[string]any{"email": granted}},
	}
	res, err := c.(connectors.AudienceSyncer).SyncAudience(context.Background(), "audience_add", members)
	require.NoError(t, err)
	require.Equal(t, 4, res.Uploaded)
	require.Equal(t, 4, res.Skipped)
	require.Equal(t, 9, res.Requests, "3 jobs × (create + addOperations + run)")
	users := func(job string) []string {
		var out []string
		for _, batch := range f.added[job] {
			for _, o := range batch {
				require.Nil(t, o.Create.Consent, "no per-user consent")
				out = append(out, o.Create.UserIdentifiers[0]["hashedEmail"])
			}
		}
		return out
	}
	require.Len(t, f.jobs, 3)
	require.Equal(t, map[string]any{"adUserData": "GRANTED", "adPersonalization": "GRANTED"}, f.jobConsent("1"))
	require.Equal(t, []string{audience.Hash("ads@example.com"), audience.Hash("both@example.com")}, users("1"))
	require.Equal(t, map[string]any{"adUserData": "GRANTED"}, f.jobConsent("2"), "personalization unknown: not claimed either way")
	require.Equal(t, []string{audience.Hash("userdata@example.com")}, users("2"))
	require.Equal(t, map[string]any{"adUserData": "GRANTED", "adPersonalization": "DENIED"}, f.jobConsent("3"))
	require.Equal(t, []string{audience.Hash("nopers@example.com")}, users("3"))
	require.Equal(t, []string{"1", "2", "3"}, f.ran)

	// Send: ad_user_data alone is consent; a withdrawal is suppressed.
	_, err = c.Send(context.Background(), connectors.Message{Kind: "audience_add", Email: "ud@example.com", Consent: map[string]any{"ad_user_data": granted}})
	require.NoError(t, err)
	_, err = c.Send(context.Background(), connectors.Message{Kind: "audience_add", Email: "w@example.com", Consent: map[string]any{"ads": revoked, "ad_user_data": granted}})
	require.True(t, errors.Is(err, connectors.ErrSuppressed), "%v", err)
	require.Contains(t, err.Error(), "withdrawn")
}

// TestRemoveNeedsNoConsent: removal goes out whatever the consent (it is
// how a withdrawal reaches Google), in one job without consent signals.
func TestRemoveNeedsNoConsent(t *testing.T) {
	t.Parallel()
	c, f := setup(t, nil)
	revoked := map[string]any{"ads": map[string]any{"status": "revoked"}, "ad_user_data": false}
	res, err := c.Send(context.Background(), connectors.Message{Kind: "audience_remove", Email: "ada@example.com", Consent: revoked})
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	require.Nil(t, f.jobConsent("1"))
	require.Equal(t, audience.Hash("ada@example.com"), f.added["1"][0][0].Remove.UserIdentifiers[0]["hashedEmail"])

	sr, err := c.(connectors.AudienceSyncer).SyncAudience(context.Background(), "audience_remove", []connectors.Member{
		{Email: "a@example.com", Consent: revoked}, {Email: "b@example.com"}, {Email: "c@example.com", Consent: map[string]any{"ads": true}}})
	require.NoError(t, err)
	require.Equal(t, 3, sr.Uploaded)
	require.Len(t, f.jobs, 2, "one job for all removals")
	require.Len(t, f.added["2"][0], 3)
}
