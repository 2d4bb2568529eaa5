// Package hooks manages journeys' webhook triggers: the hook URL's key, the
// signing secrets (sealed at rest, two valid during a rotation) and the
// verification of incoming requests — Standard Webhooks signatures, or
// GitHub-style X-Hub-Signature-256 for senders that only speak that.
package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

// Store is the storage hooks need.
type Store interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	GetJourneyByHookKey(ctx context.Context, key string) (store.Journey, error)
	SetJourneyHook(ctx context.Context, workspaceID, journeyID, key, scheme, sealed string) error
	SetJourneyHookScheme(ctx context.Context, workspaceID, journeyID, scheme string) error
	JourneyHookScheme(ctx context.Context, journeyID string) (string, error)
	RotateHookSecret(ctx context.Context, journeyID, sealed string, graceUntil time.Time) error
	ValidHookSecrets(ctx context.Context, journeyID string) ([]store.HookSecret, error)

	// Listening for test requests (listen.go).
	ListenHook(ctx context.Context, journeyID string, until time.Time) error
	HookListenUntil(ctx context.Context, journeyID string) (time.Time, error)
	AddHookSample(ctx context.Context, h store.HookSample, keep int, expireBefore time.Time) (store.HookSample, error)
	HookSamples(ctx context.Context, journeyID string, since time.Time, limit int) ([]store.HookSample, error)
}

// Tolerance is how far a webhook-timestamp may be from now.
const Tolerance = 5 * time.Minute

// RotationGrace is how long the previous secret stays valid after a rotation.
const RotationGrace = 24 * time.Hour

// BodyWindow is how long a GitHub-scheme body is remembered: the same body
// again within it is a replay (see Receipt).
const BodyWindow = 24 * time.Hour

// Receipt is what a verified request is de-duplicated by.
type Receipt struct {
	// ID is the sender's message id: webhook-id (Standard Webhooks), else
	// X-GitHub-Delivery, else "sig:" and the signature. Remembered as long
	// as receipts are kept.
	ID string
	// Body is set for schemes whose signature covers neither a timestamp
	// nor the id (GitHub: only the body), so a captured request stays
	// valid forever and its unsigned id can be changed at will: "body:"
	// and the body's SHA-256. A second request with the same body within
	// BodyWindow is a replay, whatever its id.
	Body string
}

// Service is the hooks service.
type Service struct {
	st      Store
	keys    *secrets.Keyring
	baseURL string
	now     func() time.Time

	journeyTTL time.Duration // see ReuseJourneys

	mu    sync.Mutex
	cache map[string]verifier // by hook key
}

// verifier is what checking a request needs; the scheme, the opened
// secrets and until when someone listens are cached for CacheTTL: another
// process's rotation, scheme change or Listen shows here within that time
// (the old secret stays valid for a day anyway).
type verifier struct {
	journey     store.Journey
	scheme      string
	secrets     []string
	listenUntil time.Time // see Listen
	at          time.Time // when the scheme, secrets and listenUntil were read
	readAt      time.Time // when the journey row was read
}

// CacheTTL bounds how long a hook's journey, scheme and secrets are reused.
const CacheTTL = 5 * time.Second

// ReuseJourneys lets Verify reuse a hook's journey row (its status and
// live version) for up to ttl instead of reading it on every request, as
// the engine does with EngineConfig.StatusCacheTTL: a pause or archive made
// elsewhere stops new webhook entries within ttl. 0 (the default) reads it
// every time. It returns s, and is meant to be called once, before use.
func (s *Service) ReuseJourneys(ttl time.Duration) *Service {
	s.journeyTTL = ttl
	return s
}

// New returns a service; baseURL is Waymark's public URL.
func New(st Store, keys *secrets.Keyring, baseURL string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, keys: keys, baseURL: strings.TrimRight(baseURL, "/"), now: now, cache: map[string]verifier{}}
}

// Hook is a journey's webhook trigger as its admins see it.
type Hook struct {
	URL     string   `json:"url"`
	Key     string   `json:"key"`
	Scheme  string   `json:"scheme"`
	Secrets []string `json:"secrets"` // valid now, newest first (whsec_…)
	// Expires says, for each of Secrets, until when it stays valid: zero
	// for the newest, the end of its grace period for one a rotation
	// replaced (the editor shows it; the API does not).
	Expires []time.Time `json:"-"`
}

func ad(journeyID string) []byte { return secrets.HookAD(journeyID) }

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func (s *Service) seal(journeyID, secret string) (string, error) {
	sealed, err := s.keys.Seal([]byte(secret), ad(journeyID))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(sealed)
	return string(b), err
}

func (s *Service) open(journeyID, raw string) (string, error) {
	var sealed secrets.Sealed
	if err := json.Unmarshal([]byte(raw), &sealed); err != nil {
		return "", fmt.Errorf("hook secret of journey %s is corrupt: %w", journeyID, err)
	}
	b, err := s.keys.Open(sealed, ad(journeyID))
	return string(b), err
}

// Get returns a journey's hook, creating its key and first secret the first
// time it is asked for.
func (s *Service) Get(ctx context.Context, workspaceID, journeyID string) (Hook, error) {
	j, err := s.st.GetJourney(ctx, workspaceID, journeyID)
	if err != nil {
		return Hook{}, err
	}
	if j.HookKey == "" {
		sealed, err := s.seal(j.ID, newSecret())
		if err != nil {
			return Hook{}, err
		}
		err = s.st.SetJourneyHook(ctx, workspaceID, j.ID, "wh_"+auth.Token(18), store.HookStandard, sealed)
		if err != nil && !errors.Is(err, store.ErrConflict) { // a concurrent Get created it: fine
			return Hook{}, err
		}
		if j, err = s.st.GetJourney(ctx, workspaceID, journeyID); err != nil {
			return Hook{}, err
		}
	}
	return s.describe(ctx, j)
}

func (s *Service) describe(ctx context.Context, j store.Journey) (Hook, error) {
	scheme, err := s.st.JourneyHookScheme(ctx, j.ID)
	if err != nil {
		return Hook{}, err
	}
	list, expires, err := s.secretsWithExpiry(ctx, j.ID)
	if err != nil {
		return Hook{}, err
	}
	return Hook{URL: s.URL(j.HookKey), Key: j.HookKey, Scheme: scheme, Secrets: list, Expires: expires}, nil
}

// URL is the hook URL of a hook key.
func (s *Service) URL(key string) string { return s.baseURL + "/hooks/" + key }

func (s *Service) secrets(ctx context.Context, journeyID string) ([]string, error) {
	list, _, err := s.secretsWithExpiry(ctx, journeyID)
	return list, err
}

func (s *Service) secretsWithExpiry(ctx context.Context, journeyID string) ([]string, []time.Time, error) {
	rows, err := s.st.ValidHookSecrets(ctx, journeyID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, 0, len(rows))
	expires := make([]time.Time, 0, len(rows))
	for _, r := range rows {
		sec, err := s.open(journeyID, r.Sealed)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, sec)
		var exp time.Time
		if r.ExpiresAt != nil {
			exp = *r.ExpiresAt
		}
		expires = append(expires, exp)
	}
	return out, expires, nil
}

// Rotate adds a new secret; the previous ones stay valid for RotationGrace.
func (s *Service) Rotate(ctx context.Context, workspaceID, journeyID string) (Hook, error) {
	if _, err := s.Get(ctx, workspaceID, journeyID); err != nil {
		return Hook{}, err
	}
	sealed, err := s.seal(journeyID, newSecret())
	if err != nil {
		return Hook{}, err
	}
	if err := s.st.RotateHookSecret(ctx, journeyID, sealed, s.now().Add(RotationGrace)); err != nil {
		return Hook{}, err
	}
	s.forget(journeyID)
	return s.Get(ctx, workspaceID, journeyID)
}

// SetScheme chooses between "standard" and "github" signatures.
func (s *Service) SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (Hook, error) {
	if scheme != store.HookStandard && scheme != store.HookGitHub {
		return Hook{}, &VerifyError{Status: 400, Code: "bad_request", Message: `scheme: want "standard" or "github"`}
	}
	if _, err := s.Get(ctx, workspaceID, journeyID); err != nil {
		return Hook{}, err
	}
	if err := s.st.SetJourneyHookScheme(ctx, workspaceID, journeyID, scheme); err != nil {
		return Hook{}, err
	}
	s.forget(journeyID)
	return s.Get(ctx, workspaceID, journeyID)
}

// VerifyError says why a request is refused, with the HTTP status.
type VerifyError struct {
	Status  int
	Code    string
	Message string
}

func (e *VerifyError) Error() string { return e.Message }

func refused(code, format string, args ...any) error {
	return &VerifyError{Status: 401, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Verify checks a request to /hooks/{key} and returns its journey and what
// to de-duplicate it by. header looks a header up case-insensitively.
func (s *Service) Verify(ctx context.Context, key string, header func(string) string, body []byte) (store.Journey, Receipt, error) {
	v, err := s.verifier(ctx, key)
	if err != nil {
		return store.Journey{}, Receipt{}, err
	}
	if v.scheme == store.HookGitHub {
		id, err := verifyGitHub(v.secrets, header, body)
		if err != nil {
			return v.journey, Receipt{}, err
		}
		sum := sha256.Sum256(body)
		return v.journey, Receipt{ID: id, Body: "body:" + hex.EncodeToString(sum[:])}, nil
	}
	id, err := VerifyStandard(v.secrets, header, body, s.now())
	return v.journey, Receipt{ID: id}, err
}

func (s *Service) verifier(ctx context.Context, key string) (verifier, error) {
	// The journey row is read every time unless ReuseJourneys allows a
	// short reuse (its status and live version must be current); its
	// scheme and opened secrets are cached for CacheTTL.
	now := s.now()
	if s.journeyTTL > 0 {
		s.mu.Lock()
		v, ok := s.cache[key]
		s.mu.Unlock()
		if ok && now.Sub(v.readAt) < s.journeyTTL && now.Sub(v.at) < CacheTTL {
			return v, nil
		}
	}
	j, err := s.st.GetJourneyByHookKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return verifier{}, &VerifyError{Status: 404, Code: "unknown_hook", Message: "no journey has this hook URL"}
	}
	if err != nil {
		return verifier{}, err
	}
	j.Draft = nil
	s.mu.Lock()
	v, ok := s.cache[key]
	if ok && v.journey.ID == j.ID && now.Sub(v.at) < CacheTTL {
		v.journey, v.readAt = j, now
		s.cache[key] = v
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	scheme, err := s.st.JourneyHookScheme(ctx, j.ID)
	if err != nil {
		return verifier{}, err
	}
	list, err := s.secrets(ctx, j.ID)
	if err != nil {
		return verifier{}, err
	}
	listen, err := s.st.HookListenUntil(ctx, j.ID)
	if err != nil {
		return verifier{}, err
	}
	v = verifier{journey: j, scheme: scheme, secrets: list, listenUntil: listen, at: now, readAt: now}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[key] = v
	s.mu.Unlock()
	return v, nil
}

// forget drops a journey's cached verifier after a change made here.
func (s *Service) forget(journeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.cache {
		if v.journey.ID == journeyID {
			delete(s.cache, k)
		}
	}
}

// VerifyStandard checks Standard Webhooks headers: webhook-id,
// webhook-timestamp (within Tolerance of now) and webhook-signature, a
// space-separated list of "v1,<base64 HMAC-SHA256>" of
// "{id}.{timestamp}.{body}", any of which may match any valid secret.
func VerifyStandard(secretList []string, header func(string) string, body []byte, now time.Time) (string, error) {
	id, ts, sigs := header("webhook-id"), header("webhook-timestamp"), header("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "", refused("missing_signature", "the request needs webhook-id, webhook-timestamp and webhook-signature headers (Standard Webhooks)")
	}
	if len(id) > 256 {
		return "", refused("bad_signature", "webhook-id is longer than 256 characters")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", refused("bad_timestamp", "webhook-timestamp must be Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return "", refused("stale_timestamp", "webhook-timestamp is %s away from now; at most %s is accepted", d.Round(time.Second).Abs(), Tolerance)
	}
	for _, secret := range secretList {
		key, err := webhook.DecodeSecret(secret)
		if err != nil {
			continue
		}
		want := webhook.Sign(key, id, sec, body)
		for _, sig := range strings.Fields(sigs) {
			if hmac.Equal([]byte(sig), []byte(want)) {
				return id, nil
			}
		}
	}
	return "", refused("bad_signature", "no webhook-signature matches this hook's secrets")
}

// verifyGitHub checks X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
// body>, keyed with the whole secret string as GitHub does. The
// de-duplication id is X-GitHub-Delivery (or the signature). Neither a
// timestamp nor the id is signed: Verify adds the body's hash (Receipt).
func verifyGitHub(secretList []string, header func(string) string, body []byte) (string, error) {
	sig := header("X-Hub-Signature-256")
	value, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return "", refused("missing_signature", "the request needs an X-Hub-Signature-256: sha256=<hex> header")
	}
	got, err := hex.DecodeString(value)
	if err != nil {
		return "", refused("bad_signature", "X-Hub-Signature-256 is not hex")
	}
	for _, secret := range secretList {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if hmac.Equal(got, mac.Sum(nil)) {
			id := header("X-GitHub-Delivery")
			if id == "" {
				id = "sig:" + value
			}
			return id, nil
		}
	}
	return "", refused("bad_signature", "X-Hub-Signature-256 does not match this hook's secrets")
}
