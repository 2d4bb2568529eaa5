// Package google syncs Google Ads Customer Match user lists through the
// Google Ads API (REST): one offline user data job per sync — create, add
// operations in requests of at most 100,000 identifiers with partial
// failure enabled, run — with SHA-256-hashed, normalised emails and E.164
// phone numbers. Adding sends the EU user consent signals (ad_user_data,
// ad_personalization) on the job, one job per set of signals; removal needs
// no consent. Access tokens come from an OAuth refresh token.
package google

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/audience"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// Defaults.
const (
	DefaultBaseURL  = "https://googleads.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// MaxIdentifiers is Google's limit of identifiers per addOperations request.
	MaxIdentifiers = 100000
	// MaxPerUser is Google's limit of identifiers in one user's operation.
	MaxPerUser = 20
)

var (
	customerRE = regexp.MustCompile(`^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$`)
	listRE     = regexp.MustCompile(`^[0-9]{1,20}$`)
	versionRE  = regexp.MustCompile(`^v[0-9]{1,3}$`)
)

// Type is the google_customer_match connector type.
var Type = connectors.Type{
	Name:    "google_customer_match",
	Title:   "Google Ads Customer Match",
	Help:    "Adds profiles to, and removes them from, a Google Ads Customer Match user list, matched by SHA-256-hashed email and phone, with the EU user consent signals. Profiles without ad consent are never added; removal needs none.",
	Channel: connectors.ChannelAudience,
	Kinds:   []string{connectors.KindAudienceAdd, connectors.KindAudienceRemove},
	Fields: []nodes.Field{
		{Name: "developer_token", Title: "Developer token", Type: nodes.String, Required: true, Secret: true, MaxLength: 256,
			Help: "Your Google Ads API developer token."},
		{Name: "customer_id", Title: "Customer ID", Type: nodes.String, Required: true, MaxLength: 12, Placeholder: "123-456-7890",
			Help: "The Google Ads account that owns the user list."},
		{Name: "login_customer_id", Title: "Manager customer ID", Type: nodes.String, MaxLength: 12,
			Help: "The manager account to act through, if access comes from one (login-customer-id)."},
		{Name: "user_list_id", Title: "User list ID", Type: nodes.String, Required: true, MaxLength: 20, Help: "The Customer Match user list's id."},
		{Name: "oauth_client_id", Title: "OAuth client ID", Type: nodes.String, Required: true, MaxLength: 256},
		{Name: "oauth_client_secret", Title: "OAuth client secret", Type: nodes.String, Required: true, Secret: true, MaxLength: 256},
		{Name: "oauth_refresh_token", Title: "OAuth refresh token", Type: nodes.String, Required: true, Secret: true, MaxLength: 1024,
			Help: "A refresh token with the https://www.googleapis.com/auth/adwords scope."},
		{Name: "api_version", Title: "API version", Type: nodes.String, Default: "v24", MaxLength: 5, Help: "Google Ads API version, e.g. v24."},
		{Name: "base_url", Title: "API base URL", Type: nodes.String, Default: DefaultBaseURL, MaxLength: 256,
			Help: "Google Ads API endpoint (for tests and proxies). HTTPS on port 443 only, unless the operator allowlists the host."},
		{Name: "oauth_token_url", Title: "OAuth token URL", Type: nodes.String, Default: DefaultTokenURL, MaxLength: 256,
			Help: "Where refresh tokens are exchanged for access tokens."},
	},
	// The API gets the developer token and an access token obtained with
	// the OAuth secrets; the token URL gets the OAuth secrets themselves.
	Destinations: []connectors.Destination{
		{Field: "base_url", Secrets: []string{"developer_token", "oauth_client_secret", "oauth_refresh_token"}},
		{Field: "oauth_token_url", Secrets: []string{"oauth_client_secret", "oauth_refresh_token"}},
	},
	RateLimit: connectors.Rate{PerSecond: 2, Burst: 2},
	Example: map[string]any{"developer_token": "…", "customer_id": "123-456-7890", "user_list_id": "7012345678",
		"oauth_client_id": "…apps.googleusercontent.com", "oauth_client_secret": "…", "oauth_refresh_token": "1//…"},
	Check: func(cfg nodes.Config) []nodes.FieldError {
		var errs []nodes.FieldError
		if !customerRE.MatchString(cfg.String("customer_id")) {
			errs = append(errs, nodes.FieldError{Field: "customer_id", Message: "want a 10-digit customer ID such as 123-456-7890"})
		}
		if v := cfg.String("login_customer_id"); v != "" && !customerRE.MatchString(v) {
			errs = append(errs, nodes.FieldError{Field: "login_customer_id", Message: "want a 10-digit customer ID such as 123-456-7890"})
		}
		if !listRE.MatchString(cfg.String("user_list_id")) {
			errs = append(errs, nodes.FieldError{Field: "user_list_id", Message: "want the user list's numeric id"})
		}
		if !versionRE.MatchString(cfg.String("api_version")) {
			errs = append(errs, nodes.FieldError{Field: "api_version", Message: "want a version such as v24"})
		}
		return errs
	},
	New: New,
}

// Connector syncs one user list.
type Connector struct {
	devToken, customer, login, list, version string
	clientID, clientSecret, refresh          string
	base, tokenURL                           *url.URL
	env                                      connectors.Env
	client                                   *http.Client
	maxIDs                                   int

	mu      sync.Mutex
	access  string
	expires time.Time
}

// New builds a connector.
func New(s connectors.Setup) (connectors.Instance, error) {
	base, err := s.Env.Net.CheckURL(s.Config.String("base_url"), netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "base_url", Message: err.Error()}
	}
	tok, err := s.Env.Net.CheckURL(s.Config.String("oauth_token_url"), netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "oauth_token_url", Message: err.Error()}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	return &Connector{
		devToken: s.Config.String("developer_token"), customer: strings.ReplaceAll(s.Config.String("customer_id"), "-", ""),
		login: strings.ReplaceAll(s.Config.String("login_customer_id"), "-", ""), list: s.Config.String("user_list_id"),
		version: s.Config.String("api_version"), clientID: s.Config.String("oauth_client_id"),
		clientSecret: s.Config.String("oauth_client_secret"), refresh: s.Config.String("oauth_refresh_token"),
		base: base, tokenURL: tok, env: s.Env, client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig("")),
		maxIDs: MaxIdentifiers,
	}, nil
}

type identifier struct {
	HashedEmail       string `json:"hashedEmail,omitempty"`
	HashedPhoneNumber string `json:"hashedPhoneNumber,omitempty"`
}

// consent is the Google Ads Consent message. Customer Match reads it per
// job (CustomerMatchUserListMetadata.consent) and ignores it per user, so
// users with different signals go in different jobs.
type consent struct {
	AdUserData        string `json:"adUserData,omitempty"`
	AdPersonalization string `json:"adPersonalization,omitempty"`
}

type userData struct {
	UserIdentifiers []identifier `json:"userIdentifiers"`
}

type operation struct {
	Create *userData `json:"create,omitempty"`
	Remove *userData `json:"remove,omitempty"`
}

// status is a signal as a ConsentStatus; unknown is left out (Google reads
// a missing signal as not consented for users in the EEA).
func status(s connectors.Signal) string {
	switch s {
	case connectors.SignalGranted:
		return "GRANTED"
	case connectors.SignalDenied:
		return "DENIED"
	}
	return ""
}

// Send adds or removes one profile (one job).
func (c *Connector) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	res, err := c.SyncAudience(ctx, m.Kind, []connectors.Member{audience.FromMessage(m)})
	if err != nil {
		return connectors.Result{}, err
	}
	switch {
	case res.Skipped > 0 && m.Kind == connectors.KindAudienceAdd && !connectors.ReadAdConsent(m.Consent).MayUpload():
		return connectors.Result{}, connectors.SuppressedError(connectors.ReadAdConsent(m.Consent).Why() + ": not uploaded")
	case res.Skipped > 0:
		return connectors.Result{}, connectors.PermanentError("the profile has no email or E.164 phone to match", nil)
	case res.Invalid > 0:
		return connectors.Result{}, connectors.PermanentError("Google rejected the identifiers: "+res.Detail, nil)
	}
	return connectors.Result{Status: "sent", Detail: res.Detail}, nil
}

// job is the operations of one offline user data job.
type job struct {
	consent *consent
	ops     []operation
	counts  []int // identifiers per operation
}

// SyncAudience adds or removes members. Adding skips the members that may
// not be uploaded (connectors.AdConsent.MayUpload) and runs one job per
// set of consent signals, the job carrying them; removal needs no consent
// and runs one job for all. A job is: create, addOperations in requests of
// at most 100,000 identifiers (partial failure on), run.
func (c *Connector) SyncAudience(ctx context.Context, op string, members []connectors.Member) (connectors.SyncResult, error) {
	if op != connectors.KindAudienceAdd && op != connectors.KindAudienceRemove {
		return connectors.SyncResult{}, connectors.PermanentError("unknown audience operation "+op, nil)
	}
	var res connectors.SyncResult
	var jobs []*job
	byConsent := map[consent]*job{}
	for _, m := range members {
		ac := connectors.ReadAdConsent(m.Consent)
		if op == connectors.KindAudienceAdd && !ac.MayUpload() {
			res.Skipped++
			continue
		}
		var ids []identifier
		if e := audience.GoogleEmail(m.Email); e != "" {
			ids = append(ids, identifier{HashedEmail: audience.Hash(e)})
		}
		if p := audience.GooglePhone(m.Phone); p != "" {
			ids = append(ids, identifier{HashedPhoneNumber: audience.Hash(p)})
		}
		if len(ids) == 0 {
			res.Skipped++
			continue
		}
		ids = ids[:min(len(ids), MaxPerUser)]
		var key consent
		if op == connectors.KindAudienceAdd {
			key = consent{AdUserData: status(ac.UserData), AdPersonalization: status(ac.Personalization)}
		}
		j := byConsent[key]
		if j == nil {
			j = &job{}
			if op == connectors.KindAudienceAdd {
				j.consent = &key
			}
			byConsent[key] = j
			jobs = append(jobs, j)
		}
		data := &userData{UserIdentifiers: ids}
		if op == connectors.KindAudienceAdd {
			j.ops = append(j.ops, operation{Create: data})
		} else {
			j.ops = append(j.ops, operation{Remove: data})
		}
		j.counts = append(j.counts, len(ids))
	}
	if len(jobs) == 0 {
		res.Detail = "nothing to upload"
		return res, nil
	}
	var summaries, details []string
	for _, j := range jobs {
		id, detail, err := c.runJob(ctx, j, &res)
		if err != nil {
			return res, err
		}
		summaries = append(summaries, id)
		if detail != "" {
			details = append(details, detail)
		}
	}
	noun := "job"
	if len(summaries) > 1 {
		noun = "jobs"
	}
	summary := fmt.Sprintf("%s %s: %d uploaded, %d rejected, %d skipped", noun, strings.Join(summaries, ", "), res.Uploaded, res.Invalid, res.Skipped)
	if len(details) > 0 {
		summary += " (" + details[0] + ")"
	}
	res.Detail = summary
	return res, nil
}

// runJob creates, fills and runs one job, adding to res; it returns the
// job's id and the first partial failure's message.
func (c *Connector) runJob(ctx context.Context, j *job, res *connectors.SyncResult) (string, string, error) {
	var created struct {
		ResourceName string `json:"resourceName"`
	}
	meta := map[string]any{"userList": "customers/" + c.customer + "/userLists/" + c.list}
	if j.consent != nil {
		meta["consent"] = *j.consent
	}
	if err := c.call(ctx, "/"+c.version+"/customers/"+c.customer+"/offlineUserDataJobs:create",
		map[string]any{"job": map[string]any{"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": meta}}, &created); err != nil {
		return "", "", err
	}
	res.Requests++
	name := created.ResourceName
	if !strings.HasPrefix(name, "customers/"+c.customer+"/offlineUserDataJobs/") {
		return "", "", connectors.PermanentError("Google's answer names no job", nil)
	}
	var detail string
	start := 0
	for start < len(j.ops) {
		end, n := start, 0
		for end < len(j.ops) && n+j.counts[end] <= c.maxIDs {
			n += j.counts[end]
			end++
		}
		var out struct {
			PartialFailureError *struct {
				Message string            `json:"message"`
				Details []json.RawMessage `json:"details"`
			} `json:"partialFailureError"`
		}
		if err := c.call(ctx, "/"+c.version+"/"+name+":addOperations",
			map[string]any{"enablePartialFailure": true, "operations": j.ops[start:end]}, &out); err != nil {
			return "", "", err
		}
		res.Requests++
		invalid := 0
		if pf := out.PartialFailureError; pf != nil {
			invalid = failedOperations(pf.Details, end-start)
			if detail == "" {
				detail = httpx.Snippet([]byte(pf.Message), 200)
			}
		}
		res.Invalid += invalid
		res.Uploaded += end - start - invalid
		start = end
	}
	var run struct {
		Name string `json:"name"`
	}
	if err := c.call(ctx, "/"+c.version+"/"+name+":run", map[string]any{}, &run); err != nil {
		return "", "", err
	}
	res.Requests++
	return name[strings.LastIndexByte(name, '/')+1:], detail, nil
}

// failedOperations counts the distinct operations a GoogleAdsFailure
// names (errors[].location.fieldPathElements[0] is operations[index]).
func failedOperations(details []json.RawMessage, total int) int {
	seen := map[int]bool{}
	for _, d := range details {
		var f struct {
			Errors []struct {
				Location struct {
					FieldPathElements []struct {
						FieldName string `json:"fieldName"`
						Index     *int   `json:"index"`
					} `json:"fieldPathElements"`
				} `json:"location"`
			} `json:"errors"`
		}
		if json.Unmarshal(d, &f) != nil {
			continue
		}
		for _, e := range f.Errors {
			for _, p := range e.Location.FieldPathElements {
				if p.FieldName == "operations" && p.Index != nil {
					seen[*p.Index] = true
				}
			}
		}
	}
	return min(len(seen), total)
}

// token returns an access token, refreshing it a minute before it expires.
func (c *Connector) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.env.Clock()
	if c.access != "" && now.Before(c.expires) {
		return c.access, nil
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.clientID}, "client_secret": {c.clientSecret}, "refresh_token": {c.refresh}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", connectors.PermanentError("building the token request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		// Refreshing a token twice is harmless: retry.
		return "", connectors.TransientError("could not reach the OAuth token endpoint", 0, fmt.Errorf("%w (written: %v)", err, wrote))
	}
	var out struct {
		AccessToken      string `json:"access_token"`
		ExpiresIn        int    `json:"expires_in"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	if resp.Status != http.StatusOK || out.AccessToken == "" {
		reason := fmt.Sprintf("OAuth token refresh failed: HTTP %d", resp.Status)
		if out.Error != "" {
			reason = fmt.Sprintf("OAuth token refresh failed: %s: %s", out.Error, httpx.Snippet([]byte(out.ErrorDescription), 200))
		}
		if resp.Status >= 500 || resp.Status == http.StatusTooManyRequests {
			return "", connectors.TransientError(reason, 0, nil)
		}
		return "", connectors.TransientError(reason+" (check the OAuth credentials)", 5*time.Minute, nil)
	}
	c.access = out.AccessToken
	c.expires = now.Add(time.Duration(max(out.ExpiresIn, 120)-60) * time.Second)
	return c.access, nil
}

func (c *Connector) call(ctx context.Context, path string, body any, out any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return connectors.PermanentError("encoding the request", err)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return connectors.PermanentError("building the request", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("developer-token", c.devToken)
	if c.login != "" {
		req.Header.Set("login-customer-id", c.login)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return httpx.TransportError(ctx, err, wrote)
	}
	if resp.Status == http.StatusOK {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return connectors.UnknownError("Google's answer is not JSON", err)
		}
		return nil
	}
	return c.classify(resp)
}

func (c *Connector) classify(resp *httpx.Response) error {
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Errors []struct {
					Message string `json:"message"`
				} `json:"errors"`
				RequestID string `json:"requestId"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &e)
	reason := fmt.Sprintf("Google Ads HTTP %d", resp.Status)
	if e.Error.Status != "" {
		msg := e.Error.Message
		for _, d := range e.Error.Details {
			for _, er := range d.Errors {
				msg = er.Message
			}
			if d.RequestID != "" {
				msg += " (request " + d.RequestID + ")"
			}
		}
		reason = fmt.Sprintf("Google Ads %s: %s", e.Error.Status, httpx.Snippet([]byte(msg), 250))
	}
	switch {
	case resp.Status == http.StatusTooManyRequests:
		wait := httpx.RetryAfter(resp.Header, c.env.Clock())
		if wait == 0 {
			wait = time.Minute
		}
		return connectors.TransientError(reason, wait, nil)
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		c.mu.Lock()
		c.access = "" // refresh next time
		c.mu.Unlock()
		return connectors.TransientError(reason+" (check the credentials and account access)", 5*time.Minute, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, 0, nil)
	}
	return connectors.PermanentError(reason, nil)
}

// Test exchanges the refresh token and reads the user list with a GAQL
// query; with to (an email), it also adds that address.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	var out struct {
		Results []struct {
			UserList struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"userList"`
		} `json:"results"`
	}
	q := "SELECT user_list.id, user_list.name FROM user_list WHERE user_list.id = " + c.list
	if err := c.call(ctx, "/"+c.version+"/customers/"+c.customer+"/googleAds:search", map[string]any{"query": q}, &out); err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	if len(out.Results) == 0 {
		return connectors.TestResult{Detail: "Connected, but the account has no user list " + c.list}
	}
	detail := fmt.Sprintf("Connected: user list %q (%s)", out.Results[0].UserList.Name, out.Results[0].UserList.ID)
	if to != "" {
		res, err := c.SyncAudience(ctx, connectors.KindAudienceAdd, []connectors.Member{{Email: to, Phone: to, Consent: map[string]any{"ads": true}}})
		if err != nil {
			return connectors.TestResult{Detail: detail + "; adding " + to + " failed: " + connectors.Describe(err)}
		}
		detail += "; added " + to + ": " + res.Detail
	}
	return connectors.TestResult{OK: true, Detail: detail}
}

// IdempotentSends reports whether re-sending after a crash is safe: adding or removing the same hashed user again changes nothing.
func (c *Connector) IdempotentSends() bool { return true }
