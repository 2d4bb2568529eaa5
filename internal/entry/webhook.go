package entry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// WebhookRequest is a POST to a journey's webhook trigger.
type WebhookRequest struct {
	Key string // the hook key in the URL
	// Header reads one request header (for the signature and receipt).
	Header func(name string) string
	// Headers are all the request's headers, names in lower case. Those
	// that may carry a credential are never kept in the entry event.
	Headers map[string][]string
	Body    []byte
}

// Receipt is what became of an accepted webhook: a run, or a refused
// entry (re-entry rules, entry window) that is not the sender's error.
type Receipt struct {
	RunID   string
	Entered bool
	Reason  string // why not entered
}

// credentialHeader matches request headers that may carry a credential:
// Authorization, Cookie, Proxy-Authorization, X-Api-Key, X-Auth-Token,
// signatures, and anything else whose name says auth, key, token, secret,
// cookie, signature or password. They are never kept in the entry event
// (security review F9).
var credentialHeader = regexp.MustCompile(`(?i)auth|key|token|secret|cookie|signature|password`)

// credentialWords are credentialHeader's words, for isCredentialHeader.
var credentialWords = [][]byte{[]byte("auth"), []byte("key"), []byte("token"), []byte("secret"), []byte("cookie"),
	[]byte("signature"), []byte("password")}

// isCredentialHeader is credentialHeader.MatchString(name) without the
// regular expression for the ASCII names HTTP has (the case-insensitive
// alternation was 5 % of the web server's CPU per webhook: every header of
// every request); a name with other bytes, which Unicode case folding could
// match ("K" is the Kelvin sign's fold), goes to the expression itself.
func isCredentialHeader(name string) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return credentialHeader.MatchString(name)
	}
	lower := buf[:len(name)]
	for i := range len(name) {
		c := name[i]
		switch {
		case c >= 0x80:
			return credentialHeader.MatchString(name)
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for _, w := range credentialWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}

// Webhook takes a signed POST for a journey with a webhook trigger: it
// verifies the signature over the raw body, de-duplicates on webhook-id
// (GitHub scheme: also on the body, see hooks.Receipt), maps the body to a
// profile with the trigger's expressions, and enters the profile into the
// journey's live version. Where the store can, the receipt, the profile,
// the run and its first task commit in one statement; else the receipt is
// claimed first and released again if the entry fails.
func (s *Service) Webhook(ctx context.Context, r WebhookRequest) (Receipt, error) {
	if s.hooks == nil || s.engine == nil {
		return Receipt{}, ErrUnavailable
	}
	j, receipt, err := s.hooks.Verify(ctx, r.Key, r.Header, r.Body)
	if err != nil {
		return Receipt{}, err
	}
	if j.Status != store.JourneyLive {
		return Receipt{}, &NotLiveError{Status: j.Status}
	}
	if err := jsonlimit.CheckDepth(r.Body, jsonlimit.MaxDepth); err != nil {
		return Receipt{}, err
	}
	var parsed any
	if err := json.Unmarshal(r.Body, &parsed); err != nil {
		return Receipt{}, &BodyError{Err: err}
	}
	if err := jsonlimit.CheckNUL(r.Body); err != nil {
		return Receipt{}, err
	}
	trigger, err := s.engine.TriggerNode(ctx, j, "trigger_webhook")
	if errors.Is(err, worker.ErrNoSuchTrigger) {
		return Receipt{}, ErrNoWebhookTrigger
	}
	if err != nil {
		return Receipt{}, err
	}
	headers := map[string][]string{}
	for name, vs := range r.Headers {
		if isCredentialHeader(name) {
			continue // never keep credentials in the entry event
		}
		headers[name] = vs
	}
	ev := expression.Event{Body: parsed, Headers: expression.Headers(headers)}
	p, problems := s.mapProfile(trigger, ev)
	if len(problems) > 0 {
		return Receipt{}, &UnmappedError{Problems: problems}
	}

	if receipt.Body == "" { // the one-commit path de-duplicates on the id alone
		if rc, done, err := s.enterAtOnce(ctx, j, receipt.ID, trigger.ID, p, ev); done || err != nil {
			return rc, err
		}
	}
	keys, err := s.claim(ctx, j.ID, receipt)
	if err != nil {
		return Receipt{}, err
	}
	rc, err := s.enter(ctx, j, trigger.ID, p, ev)
	if err != nil {
		for _, k := range keys {
			if rerr := s.store.ReleaseWebhook(context.WithoutCancel(ctx), j.ID, k); rerr != nil {
				return Receipt{}, errors.Join(err, rerr)
			}
		}
		return Receipt{}, err
	}
	if !rc.Entered {
		return rc, nil
	}
	for _, k := range keys {
		if err := s.store.SetWebhookRun(ctx, j.ID, k, rc.RunID); err != nil {
			return Receipt{}, err
		}
	}
	return rc, nil
}

// claim records a request's receipt keys, its id and (GitHub scheme) its
// body within hooks.BodyWindow, and returns them; a key seen before is a
// *DuplicateError naming the run it created, and the keys this request
// claimed are released again.
func (s *Service) claim(ctx context.Context, journeyID string, r hooks.Receipt) ([]string, error) {
	first, err := s.store.ClaimWebhook(ctx, journeyID, r.ID)
	if errors.Is(err, store.ErrConflict) {
		return nil, &DuplicateError{Reason: "this webhook-id was already received", RunID: first}
	}
	if err != nil {
		return nil, err
	}
	if r.Body == "" {
		return []string{r.ID}, nil
	}
	first, err = s.store.ClaimWebhookWithin(ctx, journeyID, r.Body, hooks.BodyWindow)
	if err == nil {
		return []string{r.ID, r.Body}, nil
	}
	if rerr := s.store.ReleaseWebhook(context.WithoutCancel(ctx), journeyID, r.ID); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	if errors.Is(err, store.ErrConflict) {
		return nil, &DuplicateError{Reason: fmt.Sprintf("this body was already received within %s (the GitHub scheme signs only the body, so a replay is recognised by it, whatever its X-GitHub-Delivery)",
			hooks.BodyWindow), RunID: first}
	}
	return nil, err
}

// mapProfile evaluates the trigger's mapping expressions (profile_id,
// email, phone) on the request and validates the result like every
// profile write (internal/profiles).
func (s *Service) mapProfile(trigger *flows.CompiledNode, ev expression.Event) (profiles.Input, []Problem) {
	env := &expression.Env{Event: ev, Profile: map[string]any{}, Now: s.now()}
	eval := func(field string) (string, *Problem) {
		prog := trigger.Program(field) // compiled once per published version
		if prog == nil {
			return "", nil
		}
		src := prog.Source()
		v, err := prog.Eval(env)
		if err != nil {
			return "", &Problem{NodeID: trigger.ID, Field: field, Message: fmt.Sprintf("%s: %v", src, err)}
		}
		switch t := v.(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(t), nil
		case float64, int, int64, bool:
			return strings.TrimSpace(expression.FormatValue(t)), nil
		}
		return "", &Problem{NodeID: trigger.ID, Field: field, Message: fmt.Sprintf("%s gives a %T, not a text or number", src, v)}
	}
	var ps []Problem
	var p profiles.Input
	id, d := eval("profile_id")
	if d != nil {
		ps = append(ps, *d)
	} else if id == "" {
		ps = append(ps, Problem{NodeID: trigger.ID, Field: "profile_id", Message: fmt.Sprintf("%s gives no profile id for this request", trigger.Config.String("profile_id"))})
	}
	p.ExternalID = id
	for _, f := range []struct {
		name string
		dst  **string
	}{{"email", &p.Email}, {"phone", &p.Phone}} {
		v, d := eval(f.name)
		if d != nil {
			ps = append(ps, *d)
			continue
		}
		if v != "" {
			val := v
			*f.dst = &val
		}
	}
	if len(ps) > 0 {
		return p, ps
	}
	for _, pr := range p.Validate("") {
		ps = append(ps, Problem{NodeID: trigger.ID, Field: pr.Field, Message: pr.Message})
	}
	return p, ps
}

// enterAtOnce takes a webhook request in one commit where the store can
// (one statement on PostgreSQL, one transaction on SQLite, see
// store.EnterWebhook): the webhook-id receipt, the profile upsert, the run
// with its instant steps and its first task together. done is false (and
// nothing is written) when the store cannot, and the caller takes the
// step-by-step path.
func (s *Service) enterAtOnce(ctx context.Context, j store.Journey, webhookID, triggerID string, p profiles.Input, ev expression.Event) (Receipt, bool, error) {
	en, err := s.engine.PrepareEntry(ctx, worker.EnterRequest{WorkspaceID: j.WorkspaceID, JourneyID: j.ID, TriggerNode: triggerID,
		Event: worker.EntryEvent{Body: ev.Body, Headers: ev.Headers}, Profile: written(p)})
	if err != nil {
		return Receipt{}, false, nil // the step-by-step path reports it as it always has
	}
	w := store.WebhookEntry{WebhookID: webhookID, Profile: upsert(j.WorkspaceID, p), Run: en.Run, Policy: en.Policy, First: en.First, Steps: en.Steps}
	if !s.store.CanEnterWebhook(w) {
		return Receipt{}, false, nil
	}
	run, err := s.store.EnterWebhook(ctx, w)
	var dup *store.DuplicateWebhookError
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &dup):
		return Receipt{}, true, &DuplicateError{Reason: "this webhook-id was already received", RunID: dup.RunID}
	case errors.As(err, &refused):
		return Receipt{Reason: refused.Reason}, true, nil
	case err != nil:
		return Receipt{}, true, err
	}
	s.engine.Dispatch(ctx, en)
	return Receipt{RunID: run.ID, Entered: true}, true, nil
}

// enter upserts the profile and enters it. A refused entry (re-entry
// rules, entry window) is not an error of the sender: it returns no run
// and the reason.
func (s *Service) enter(ctx context.Context, j store.Journey, triggerID string, p profiles.Input, ev expression.Event) (Receipt, error) {
	up := upsert(j.WorkspaceID, p)
	up.Source = "webhook" // the profile change's source, as the one-commit path records it
	prof, _, err := s.store.UpsertProfile(ctx, up)
	if err != nil {
		return Receipt{}, err
	}
	run, err := s.engine.Enter(ctx, worker.EnterRequest{WorkspaceID: j.WorkspaceID, JourneyID: j.ID, ProfileID: prof.ID, TriggerNode: triggerID,
		Event: worker.EntryEvent{Body: ev.Body, Headers: ev.Headers}, Profile: worker.WholeProfile(prof)})
	var refused *store.EntryRefusedError
	switch {
	case errors.As(err, &refused):
		return Receipt{Reason: refused.Reason}, nil
	case errors.Is(err, worker.ErrOutsideWindow), errors.Is(err, worker.ErrJourneyNotLive):
		return Receipt{Reason: err.Error()}, nil
	case err != nil:
		return Receipt{}, err
	}
	return Receipt{RunID: run.ID, Entered: true}, nil
}

// written is what the one-commit entry knows of the profile it
// upserts: the external id, and the email and phone the mapping gives
// (they replace the stored ones); the rest is the stored profile's, which
// the entry's instant steps do not read (worker.EntryProfile).
func written(p profiles.Input) *worker.EntryProfile {
	k := &worker.EntryProfile{Profile: store.Profile{ExternalID: p.ExternalID}, Known: []string{"external_id"}}
	if p.Email != nil {
		k.Profile.Email, k.Known = *p.Email, append(k.Known, "email")
	}
	if p.Phone != nil {
		k.Profile.Phone, k.Known = *p.Phone, append(k.Known, "phone")
	}
	return k
}

// upsert is the store write of a validated profile: fields, attributes
// and consent, in one transaction.
func upsert(ws string, p profiles.Input) store.ProfileUpsert {
	in := profiles.Input{Consent: p.Consent}
	return store.ProfileUpsert{WorkspaceID: ws, ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone,
		Locale: p.Locale, Attributes: p.Attributes, Consent: in.ConsentUpdates()}
}
