// Package engagement records email opens and clicks: it puts tracking
// into outgoing email (Track, the engine's worker.Tracker) and turns a
// hit on the pixel or a redirect into counts on the delivery and an
// email_opened / email_clicked event on the profile (Open, Click), which
// wakes wait_event steps, converts goals and enters event-triggered
// journeys when a person made it. The tokens, the rewrite and the bot
// rules are internal/tracking's; ui/ingest serves the routes. See
// docs/engagement.md.
package engagement

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/internal/tracking"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Event names tracking records.
const (
	EventOpened  = "email_opened"
	EventClicked = "email_clicked"
)

// ErrBadToken: the token is malformed, altered or forged (answer 404).
var ErrBadToken = tracking.ErrBadToken

// Store is what recording a hit needs.
type Store interface {
	GetTrackedDelivery(ctx context.Context, workspaceID, id string) (store.TrackedDelivery, error)
	RecordEngagement(ctx context.Context, h store.EngagementHit) (store.HitResult, error)
	InsertEvent(ctx context.Context, e store.Event) (store.Event, error)
}

// Engine applies a stored event (*worker.Engine): waiting runs, exit
// criteria, goals, event triggers.
type Engine interface {
	HandleEvent(ctx context.Context, ev store.Event) (worker.EventResult, error)
}

// Config wires the service. Base is Waymark's public URL; Keys sign the
// tokens (primary first: secrets.Keyring.Subkeys("tracking v1")).
type Config struct {
	Store  Store
	Engine Engine // nil: events are stored but wake nothing
	Base   string
	Keys   [][]byte
	Now    func() time.Time
	Logger *slog.Logger
}

// Service tracks email engagement.
type Service struct {
	st     Store
	engine Engine
	rw     *tracking.Rewriter
	now    func() time.Time
	logger *slog.Logger
}

// New returns the service.
func New(c Config) (*Service, error) {
	signer, err := tracking.NewSigner(c.Keys)
	if err != nil {
		return nil, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: c.Store, engine: c.Engine, rw: &tracking.Rewriter{Base: strings.TrimRight(c.Base, "/"), Signer: signer},
		now: c.Now, logger: c.Logger}, nil
}

// Track rewrites an email's HTML for a delivery (worker.Tracker).
func (s *Service) Track(workspaceID, deliveryID, html string) string {
	out, _ := s.rw.Rewrite(html, tracking.Message{WorkspaceID: workspaceID, DeliveryID: deliveryID})
	return out
}

// Hit is one request to the pixel or a redirect.
type Hit struct {
	Token     string
	Method    string
	UserAgent string
	IP        string
}

// Result is what a hit was: the redirect's target (clicks), and whether a
// person made it.
type Result struct {
	URL     string
	Human   bool
	Reason  string // why it is a machine's
	Counted bool   // recorded on a delivery (false: a test send, an erased profile, a delivery gone)
}

// Open records an open. Only a bad token is an error (ErrBadToken); a
// failure to record is logged, since the pixel answers anyway.
func (s *Service) Open(ctx context.Context, h Hit) (Result, error) {
	return s.hit(ctx, h, tracking.Open)
}

// Click records a click and returns where to redirect: the link's URL as
// the message had it, from the signed token. Only a bad token is an error.
func (s *Service) Click(ctx context.Context, h Hit) (Result, error) {
	return s.hit(ctx, h, tracking.Click)
}

func (s *Service) hit(ctx context.Context, h Hit, kind tracking.Kind) (Result, error) {
	tok, err := s.rw.Signer.Open(h.Token)
	if err != nil || tok.Kind != kind {
		return Result{}, ErrBadToken
	}
	res := Result{URL: tok.URL}
	d, err := s.st.GetTrackedDelivery(ctx, tok.WorkspaceID, tok.DeliveryID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.logger.Warn("tracking: loading delivery", slog.String("delivery_id", tok.DeliveryID), slog.String("error", err.Error()))
		}
		return res, nil
	}
	if d.IsTest || d.Erased {
		return res, nil
	}
	now := s.now()
	ip, _ := netip.ParseAddr(h.IP)
	v := tracking.Classify(tracking.Hit{Method: h.Method, UserAgent: h.UserAgent, IP: ip, SentAt: d.SentAt, At: now})
	res.Human, res.Reason = v.Human, v.Reason
	if err := s.record(ctx, d, tok, v, now); err != nil {
		s.logger.Warn("tracking: recording a hit", slog.String("delivery_id", d.ID), slog.String("error", err.Error()))
		return res, nil
	}
	res.Counted = true
	return res, nil
}

// record counts the hit and, for the first of its kind (a delivery's
// first open, a link's first click, for people and machines apart),
// stores the event; a person's event is applied to runs and triggers.
func (s *Service) record(ctx context.Context, d store.TrackedDelivery, tok tracking.Token, v tracking.Verdict, now time.Time) error {
	click := tok.Kind == tracking.Click
	r, err := s.st.RecordEngagement(ctx, store.EngagementHit{WorkspaceID: d.WorkspaceID, DeliveryID: d.ID, JourneyID: d.JourneyID,
		NodeID: d.NodeID, Click: click, Link: tok.Link, Human: v.Human, At: now})
	if err != nil {
		return err
	}
	props := map[string]any{"delivery_id": d.ID, "journey_id": d.JourneyID, "node_id": d.NodeID, "human": v.Human}
	if !v.Human {
		props["reason"] = v.Reason
	}
	if r.ImpliedOpen {
		// A person clicked before any image loaded: the message was
		// opened too.
		open := map[string]any{"delivery_id": d.ID, "journey_id": d.JourneyID, "node_id": d.NodeID, "human": true, "implied": true}
		if err := s.event(ctx, d, EventOpened, open, now, true); err != nil {
			return err
		}
	}
	if !r.First {
		return nil
	}
	name := EventOpened
	if click {
		name = EventClicked
		props["url"], props["link"] = tok.URL, tok.Link
	}
	return s.event(ctx, d, name, props, now, v.Human)
}

func (s *Service) event(ctx context.Context, d store.TrackedDelivery, name string, props map[string]any, now time.Time, apply bool) error {
	ev, err := s.st.InsertEvent(ctx, store.Event{WorkspaceID: d.WorkspaceID, ProfileID: d.ProfileID, Name: name, Properties: props, OccurredAt: now})
	if err != nil {
		return err
	}
	if !apply || s.engine == nil {
		return nil
	}
	if _, err := s.engine.HandleEvent(ctx, ev); err != nil {
		return err
	}
	return nil
}

// WithEngine sets the engine events are applied with, for wiring where
// the engine is built with this service as its Tracker. Call it before
// serving.
func (s *Service) WithEngine(e Engine) *Service {
	s.engine = e
	return s
}
