// Package entry is how an inbound thing becomes a run: a signed webhook
// (Webhook) or an event sent to the API (Events), and the profile writes
// that come with them (SaveProfile). It verifies, maps the request to a
// profile, claims the request's receipt, enters the profile in the commit
// path the store offers, and releases the receipt when the entry fails, so
// that an accepted trigger is never lost and never entered twice. It
// returns domain results and errors; the HTTP edge (ui/ingest) answers
// them, and the CLI, the simulator and tests can call it without HTTP.
package entry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Verifier checks a webhook request's signature and finds its journey
// (internal/hooks.Service).
type Verifier interface {
	Verify(ctx context.Context, key string, header func(string) string, body []byte) (store.Journey, hooks.Receipt, error)
}

// Engine enters profiles into journeys and applies events (a
// *worker.Engine). PrepareEntry and Dispatch are Enter split in two, so
// that the store can commit the entry together with more (the webhook's
// receipt and profile, store.EnterWebhook).
type Engine interface {
	TriggerNode(ctx context.Context, j store.Journey, kind string) (*flows.CompiledNode, error)
	Enter(ctx context.Context, req worker.EnterRequest) (store.Run, error)
	PrepareEntry(ctx context.Context, req worker.EnterRequest) (worker.Entry, error)
	Dispatch(ctx context.Context, en worker.Entry)
	HandleEvent(ctx context.Context, ev store.Event) (worker.EventResult, error)
}

// Store is the storage entry needs: webhook receipts, the one-statement
// webhook entry, profiles and events.
type Store interface {
	ClaimWebhook(ctx context.Context, journeyID, webhookID string) (string, error)
	ClaimWebhookWithin(ctx context.Context, journeyID, key string, window time.Duration) (string, error)
	SetWebhookRun(ctx context.Context, journeyID, webhookID, runID string) error
	ReleaseWebhook(ctx context.Context, journeyID, webhookID string) error
	CanEnterWebhook(w store.WebhookEntry) bool
	EnterWebhook(ctx context.Context, w store.WebhookEntry) (store.Run, error)
	UpsertProfile(ctx context.Context, u store.ProfileUpsert) (store.Profile, bool, error)
	InsertEvent(ctx context.Context, e store.Event) (store.Event, error)
}

// Profiles is what a profile write tells the profile service
// (internal/profiles.Service): the ad-consent withdrawal it calls for,
// before the write, and the change, after it.
type Profiles interface {
	WithdrawAdConsent(ctx context.Context, workspaceID, externalID string, consent map[string]any) (bool, error)
	Changed(ctx context.Context, p store.Profile)
}

// Deps are the service's collaborators. Store is required; without Hooks
// or Engine no webhook is taken (ErrUnavailable), without Engine events
// are stored but wake nothing, without Profiles profile writes tell
// nobody.
type Deps struct {
	Store    Store
	Hooks    Verifier
	Engine   Engine
	Profiles Profiles
	Now      func() time.Time
}

// Service turns webhooks and events into runs.
type Service struct {
	store    Store
	hooks    Verifier
	engine   Engine
	profiles Profiles
	now      func() time.Time
}

// New returns the entry service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{store: d.Store, hooks: d.Hooks, engine: d.Engine, profiles: d.Profiles, now: d.Now}
}

// Errors a webhook can end with besides the verifier's (*hooks.VerifyError)
// and the body's (*jsonlimit.DepthError, *jsonlimit.NULError).
var (
	// ErrUnavailable: this process takes no webhooks (no hook service or
	// no engine).
	ErrUnavailable = errors.New("webhooks are not taken here")
	// ErrNoWebhookTrigger: the journey's live version has no webhook trigger.
	ErrNoWebhookTrigger = errors.New("the journey's live version has no webhook trigger")
)

// NotLiveError: the journey takes no entries.
type NotLiveError struct {
	Status string
}

func (e *NotLiveError) Error() string {
	return fmt.Sprintf("the journey is %s, not live: it takes no entries", e.Status)
}

// BodyError: the body is not JSON.
type BodyError struct {
	Err error
}

func (e *BodyError) Error() string { return fmt.Sprintf("the body is not valid JSON: %v", e.Err) }
func (e *BodyError) Unwrap() error { return e.Err }

// Problem is one thing wrong with the profile a request maps to.
type Problem struct {
	NodeID  string
	Field   string
	Message string
}

// UnmappedError: the trigger's mapping gives no valid profile for the
// request; every problem names the trigger node and the field.
type UnmappedError struct {
	Problems []Problem
}

func (e *UnmappedError) Error() string {
	return e.Problems[0].Field + ": " + e.Problems[0].Message
}

// DuplicateError: the request's receipt was seen before (a replay);
// RunID is the run the first one created, if any.
type DuplicateError struct {
	Reason string
	RunID  string
}

func (e *DuplicateError) Error() string {
	if e.RunID != "" {
		return e.Reason + "; it created run " + e.RunID
	}
	return e.Reason
}
