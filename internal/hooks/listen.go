package hooks

import (
	"bytes"
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/store"
)

// Listening for a test request (the editor's "Listen for a test request",
// docs/editor.md): while someone listens to a journey's hook, each request
// to it is kept as a sample with what its sender was answered. Listening
// changes nothing in how a request is processed.
const (
	// ListenFor is how long one Listen lasts.
	ListenFor = 2 * time.Minute
	// SampleTTL is how long a sample is kept: bodies are personal data.
	SampleTTL = time.Hour
	// SampleKeep is how many samples a journey keeps (the newest).
	SampleKeep = 20
	// MaxSampleBody is the largest body a sample keeps; a larger one is
	// noted with its size only.
	MaxSampleBody    = 64 << 10
	maxSampleMessage = 1000
)

// Outcome is what a request to a hook was answered.
type Outcome struct {
	// Verified: the request's signature matched (a refused signature
	// keeps no body).
	Verified bool
	Status   int
	Code     string
	Message  string
	RunID    string
}

// Peek returns a journey's hook URL and scheme, without its secrets and
// without creating it: ok is false while the journey has none (Get
// creates it).
func (s *Service) Peek(ctx context.Context, workspaceID, journeyID string) (Hook, bool, error) {
	j, err := s.st.GetJourney(ctx, workspaceID, journeyID)
	if err != nil || j.HookKey == "" {
		return Hook{}, false, err
	}
	scheme, err := s.st.JourneyHookScheme(ctx, j.ID)
	if err != nil {
		return Hook{}, false, err
	}
	return Hook{URL: s.URL(j.HookKey), Key: j.HookKey, Scheme: scheme}, true, nil
}

// Listen keeps the requests to a journey's hook from now until ListenFor
// from now (creating the hook if it has none), and returns that window.
// This process sees it at once; other processes within CacheTTL.
func (s *Service) Listen(ctx context.Context, workspaceID, journeyID string) (since, until time.Time, err error) {
	if _, err := s.Get(ctx, workspaceID, journeyID); err != nil {
		return time.Time{}, time.Time{}, err
	}
	since = s.now()
	until = since.Add(ListenFor)
	if err := s.st.ListenHook(ctx, journeyID, until); err != nil {
		return time.Time{}, time.Time{}, err
	}
	s.forget(journeyID)
	return since, until, nil
}

// Samples returns the requests kept for a journey's hook since then (and
// within SampleTTL), newest first, at most limit.
func (s *Service) Samples(ctx context.Context, workspaceID, journeyID string, since time.Time, limit int) ([]store.HookSample, error) {
	j, err := s.st.GetJourney(ctx, workspaceID, journeyID)
	if err != nil {
		return nil, err
	}
	if oldest := s.now().Add(-SampleTTL); since.Before(oldest) {
		since = oldest
	}
	return s.st.HookSamples(ctx, j.ID, since, limit)
}

// Capture keeps a request to the hook of key as a sample, with its
// outcome, if someone listens to it. It costs nothing otherwise: whether
// someone listens is read with the hook's scheme and secrets (see
// verifier), which Verify has just used.
func (s *Service) Capture(ctx context.Context, key string, o Outcome, body []byte) error {
	s.mu.Lock()
	v, ok := s.cache[key]
	s.mu.Unlock()
	now := s.now()
	if !ok || !now.Before(v.listenUntil) {
		return nil
	}
	msg := strings.ReplaceAll(strings.ToValidUTF8(o.Message, "\uFFFD"), "\x00", "")
	if len(msg) > maxSampleMessage {
		cut := maxSampleMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	smp := store.HookSample{JourneyID: v.journey.ID, ReceivedAt: now, Status: o.Status, Code: o.Code, Message: msg, RunID: o.RunID,
		Verified: o.Verified, BodySize: len(body)}
	// Text columns take valid UTF-8 without NUL; anything else is shown
	// by its size only.
	if o.Verified && len(body) <= MaxSampleBody && utf8.Valid(body) && bytes.IndexByte(body, 0) < 0 {
		smp.Body = string(body)
	}
	_, err := s.st.AddHookSample(ctx, smp, SampleKeep, now.Add(-SampleTTL))
	return err
}
