// Package meta syncs Meta (Facebook/Instagram) Custom Audiences through the
// Marketing API: POST (add) or DELETE (remove) {base_url}/{version}/
// {audience_id}/users with a multi-key schema of SHA-256-hashed, normalised
// emails and phone numbers, in batches of at most 10,000 users tied
// together by a session. Nobody is added without ad consent; removal needs
// none.
package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/audience"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// DefaultBaseURL is the Graph API.
const DefaultBaseURL = "https://graph.facebook.com"

// MaxBatch is Meta's limit of users per request.
const MaxBatch = 10000

var (
	digitsRE  = regexp.MustCompile(`^[0-9]{1,32}$`)
	accountRE = regexp.MustCompile(`^(act_)?[0-9]{1,32}$`)
	versionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)
)

// Type is the meta_audiences connector type.
var Type = connectors.Type{
	Name:    "meta_audiences",
	Title:   "Meta Custom Audiences",
	Help:    "Adds profiles to, and removes them from, a Meta (Facebook/Instagram) Custom Audience, matched by SHA-256-hashed email and phone. Profiles without ad consent are never added; removal needs none.",
	Channel: connectors.ChannelAudience,
	Kinds:   []string{connectors.KindAudienceAdd, connectors.KindAudienceRemove},
	Fields: []nodes.Field{
		{Name: "access_token", Title: "Access token", Type: nodes.String, Required: true, Secret: true, MaxLength: 1024,
			Help: "A system user access token with ads_management permission on the ad account."},
		{Name: "ad_account_id", Title: "Ad account ID", Type: nodes.String, Required: true, MaxLength: 40, Placeholder: "act_1234567890",
			Help: "The ad account that owns the audience (act_… or the number)."},
		{Name: "audience_id", Title: "Custom audience ID", Type: nodes.String, Required: true, MaxLength: 32,
			Help: "The Custom Audience (customer list) to sync."},
		{Name: "api_version", Title: "API version", Type: nodes.String, Default: "v21.0", MaxLength: 10, Help: "Graph API version, e.g. v21.0."},
		{Name: "base_url", Title: "API base URL", Type: nodes.String, Default: DefaultBaseURL, MaxLength: 256,
			Help: "Graph API endpoint (for tests and proxies). HTTPS on port 443 only, unless the operator allowlists the host."},
	},
	// The access token goes to the Graph API.
	Destinations: []connectors.Destination{{Field: "base_url", Secrets: []string{"access_token"}}},
	RateLimit:    connectors.Rate{PerSecond: 5, Burst: 5},
	Example:      map[string]any{"access_token": "EAAB…", "ad_account_id": "act_1234567890", "audience_id": "23850000000000000"},
	Check: func(cfg nodes.Config) []nodes.FieldError {
		var errs []nodes.FieldError
		if !accountRE.MatchString(cfg.String("ad_account_id")) {
			errs = append(errs, nodes.FieldError{Field: "ad_account_id", Message: "want act_ followed by digits, or the digits"})
		}
		if !digitsRE.MatchString(cfg.String("audience_id")) {
			errs = append(errs, nodes.FieldError{Field: "audience_id", Message: "want the audience's numeric id"})
		}
		if !versionRE.MatchString(cfg.String("api_version")) {
			errs = append(errs, nodes.FieldError{Field: "api_version", Message: "want a version such as v21.0"})
		}
		return errs
	},
	New: New,
}

// Connector syncs one audience.
type Connector struct {
	token, audienceID, version string
	base                       *url.URL
	env                        connectors.Env
	client                     *http.Client
	batch                      int
}

// New builds a connector.
func New(s connectors.Setup) (connectors.Instance, error) {
	base, err := s.Env.Net.CheckURL(s.Config.String("base_url"), netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "base_url", Message: err.Error()}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	return &Connector{token: s.Config.String("access_token"), audienceID: s.Config.String("audience_id"), version: s.Config.String("api_version"),
		base: base, env: s.Env, client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig("")), batch: MaxBatch}, nil
}

// Schema is the multi-key schema Waymark uploads.
var Schema = []string{"EMAIL", "PHONE"}

type payload struct {
	Schema []string   `json:"schema"`
	Data   [][]string `json:"data"`
}

type session struct {
	SessionID         int64 `json:"session_id"`
	BatchSeq          int   `json:"batch_seq"`
	LastBatchFlag     bool  `json:"last_batch_flag"`
	EstimatedNumTotal int   `json:"estimated_num_total"`
}

type graphError struct {
	Error struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
		FBTraceID    string `json:"fbtrace_id"`
	} `json:"error"`
}

// row hashes a member's identifiers; ok is false when it has none.
func row(m connectors.Member) ([]string, bool) {
	e, p := audience.MetaEmail(m.Email), audience.MetaPhone(m.Phone)
	r := []string{"", ""}
	if e != "" {
		r[0] = audience.Hash(e)
	}
	if p != "" {
		r[1] = audience.Hash(p)
	}
	return r, e != "" || p != ""
}

// Send adds or removes one profile.
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
		return connectors.Result{}, connectors.PermanentError("Meta rejected the identifiers: "+res.Detail, nil)
	}
	return connectors.Result{Status: "sent", Detail: res.Detail}, nil
}

// SyncAudience adds (audience_add) or removes (audience_remove) members in
// batches of at most 10,000 within one upload session. Adding skips the
// members that may not be uploaded (connectors.AdConsent.MayUpload);
// removal needs no consent: it is how a withdrawal reaches Meta.
func (c *Connector) SyncAudience(ctx context.Context, op string, members []connectors.Member) (connectors.SyncResult, error) {
	method := http.MethodPost
	switch op {
	case connectors.KindAudienceAdd:
	case connectors.KindAudienceRemove:
		method = http.MethodDelete
	default:
		return connectors.SyncResult{}, connectors.PermanentError("unknown audience operation "+op, nil)
	}
	var res connectors.SyncResult
	var rows [][]string
	for _, m := range members {
		if op == connectors.KindAudienceAdd && !connectors.ReadAdConsent(m.Consent).MayUpload() {
			res.Skipped++
			continue
		}
		r, ok := row(m)
		if !ok {
			res.Skipped++
			continue
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		res.Detail = "nothing to upload"
		return res, nil
	}
	var sid [8]byte
	_, _ = rand.Read(sid[:])
	sessionID := int64(binary.BigEndian.Uint64(sid[:]) >> 1)
	batches := audience.Batches(len(rows), c.batch)
	for i, b := range batches {
		body, _ := json.Marshal(map[string]any{
			"payload": payload{Schema: Schema, Data: rows[b[0]:b[1]]},
			"session": session{SessionID: sessionID, BatchSeq: i + 1, LastBatchFlag: i == len(batches)-1, EstimatedNumTotal: len(rows)},
		})
		var out struct {
			NumReceived       int `json:"num_received"`
			NumInvalidEntries int `json:"num_invalid_entries"`
		}
		if err := c.call(ctx, method, "/"+c.version+"/"+c.audienceID+"/users", nil, body, &out); err != nil {
			return res, err
		}
		res.Requests++
		res.Uploaded += out.NumReceived - out.NumInvalidEntries
		res.Invalid += out.NumInvalidEntries
	}
	res.Detail = fmt.Sprintf("session %d: %d received, %d invalid, %d skipped", sessionID, res.Uploaded+res.Invalid, res.Invalid, res.Skipped)
	return res, nil
}

func (c *Connector) call(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return connectors.PermanentError("building the request", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return httpx.TransportError(ctx, err, wrote)
	}
	if resp.Status == http.StatusOK {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return connectors.UnknownError("Meta's answer is not JSON", err)
		}
		return nil
	}
	return c.classify(resp)
}

// Graph API error codes that mean "slow down" or "try again".
var retryCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 613: true, 80003: true, 80004: true}

func (c *Connector) classify(resp *httpx.Response) error {
	var ge graphError
	_ = json.Unmarshal(resp.Body, &ge)
	e := ge.Error
	reason := fmt.Sprintf("Meta HTTP %d", resp.Status)
	if e.Message != "" {
		reason = fmt.Sprintf("Meta error %d: %s", e.Code, httpx.Snippet([]byte(e.Message), 200))
		if e.FBTraceID != "" {
			reason += " (fbtrace_id " + e.FBTraceID + ")"
		}
	}
	switch {
	case retryCodes[e.Code] || resp.Status == http.StatusTooManyRequests:
		wait := httpx.RetryAfter(resp.Header, c.env.Clock())
		if wait == 0 {
			wait = time.Minute
		}
		return connectors.TransientError(reason, wait, nil)
	case e.Code == 190 || e.Code == 10 || e.Code == 200 || resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return connectors.TransientError(reason+" (check the access token and its permissions)", 5*time.Minute, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, 0, nil)
	}
	return connectors.PermanentError(reason, nil)
}

// Test reads the audience (GET /{audience_id}); with to (an email), it
// also adds that address, as a consenting test profile.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	var aud struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := c.call(ctx, http.MethodGet, "/"+c.version+"/"+c.audienceID, url.Values{"fields": {"id,name"}}, nil, &aud); err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	detail := fmt.Sprintf("Connected: audience %q (%s)", aud.Name, aud.ID)
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
