package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// The Segment-spec tracking API (docs/cdp.md): the calls Segment's HTTP
// Tracking API, analytics.js, analytics-node and RudderStack send, decoded
// and validated here (without I/O, so it can be fuzzed) and applied by
// segmentspec.go.

// Segment's documented limits: 32 KB per call, 500 KB per batch; and a
// cap of our own on a batch's calls.
const (
	SpecMaxCallBytes  = 32 << 10
	SpecMaxBatchBytes = 500 << 10
	SpecMaxBatchCalls = 1000
	// specMaxMessageID keeps the events' idempotency key within 255.
	specMaxMessageID = 200
	// specKeyPrefix namespaces a messageId among events' idempotency keys.
	specKeyPrefix = "segment:"
)

// Call types, and the short paths analytics.js (analytics-next) posts to.
const (
	specIdentify = "identify"
	specTrack    = "track"
	specPage     = "page"
	specScreen   = "screen"
	specGroup    = "group"
	specAlias    = "alias"
	specBatch    = "batch"
)

var specPaths = map[string]string{
	"identify": specIdentify, "track": specTrack, "page": specPage, "screen": specScreen, "group": specGroup, "alias": specAlias,
	"batch": specBatch, "import": specBatch,
	"i": specIdentify, "t": specTrack, "p": specPage, "s": specScreen, "g": specGroup, "a": specAlias, "b": specBatch,
}

// Event names of the calls that are not track calls.
const (
	SpecPageEvent   = "Page Viewed"
	SpecScreenEvent = "Screen Viewed"
)

// specID is an id the spec gives as a string; SDKs sometimes send a
// number, which is taken as its decimal text.
type specID string

func (s *specID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = specID(v)
	case string(b) == "null":
		*s = ""
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return &json.UnmarshalTypeError{Value: "a non-string", Type: reflect.TypeFor[string]()}
		}
		*s = specID(n.String())
	}
	return nil
}

// specMessage is one call as the spec writes it. Fields Waymark does not
// use (integrations, channel, version, _metadata, receivedAt…) are
// accepted and ignored.
type specMessage struct {
	Type              string         `json:"type"`
	UserID            specID         `json:"userId"`
	AnonymousID       specID         `json:"anonymousId"`
	Event             *string        `json:"event"`
	Name              string         `json:"name"`
	Category          string         `json:"category"`
	Properties        map[string]any `json:"properties"`
	Traits            map[string]any `json:"traits"`
	Context           map[string]any `json:"context"`
	Timestamp         string         `json:"timestamp"`
	OriginalTimestamp string         `json:"originalTimestamp"`
	SentAt            string         `json:"sentAt"`
	MessageID         specID         `json:"messageId"`
	GroupID           specID         `json:"groupId"`
	PreviousID        specID         `json:"previousId"`
	WriteKey          string         `json:"writeKey"`
}

// specBatchBody is POST /v1/batch.
type specBatchBody struct {
	Batch    []json.RawMessage `json:"batch"`
	Context  map[string]any    `json:"context"`
	SentAt   string            `json:"sentAt"`
	WriteKey string            `json:"writeKey"`
}

// specCall is one validated call, ready to apply.
type specCall struct {
	Type        string
	Field       string // "" or "batch[3]." for errors and logs
	UserID      string
	AnonymousID string
	// Event is the entry event of a track, page or screen call
	// (ProfileID is set when applied); its Profile carries what the call
	// says about the profile (traits, context.traits, locale, timezone).
	Event *entry.Event
	// Profile is what an identify or group call writes (ExternalID set
	// when applied).
	Profile *profiles.Input
	// PreviousID is an alias call's former (anonymous) id.
	PreviousID string
}

// specRequest is a decoded request: its calls and the write key its body
// gave, if any.
type specRequest struct {
	WriteKey string
	Calls    []specCall
}

// specError is a request the spec's decoder refuses: 400 with the fields.
func specError(ds []httpkit.Detail) error {
	return &httpkit.Error{Status: 400, Code: "invalid", Message: ds[0].Field + ": " + ds[0].Message, Details: ds}
}

// decodeSpec reads the body of POST /v1/{call}, validates every call and
// returns them. Every problem names its field ("batch[3].event:
// required"); a request with any problem is refused whole (nothing is
// applied).
func decodeSpec(call string, body []byte, now time.Time) (specRequest, error) {
	kind, ok := specPaths[call]
	if !ok {
		return specRequest{}, httpkit.NewError(404, "not_found", "no such call %q: send identify, track, page, screen, group, alias or batch", call)
	}
	limit := SpecMaxCallBytes
	if kind == specBatch {
		limit = SpecMaxBatchBytes
	}
	if len(body) > limit {
		return specRequest{}, httpkit.NewError(400, "payload_too_large", "the body is %d bytes; a %s call may have at most %d (Segment's limits: 32 KB per call, 500 KB per batch)", len(body), kind, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return specRequest{}, httpkit.BadRequest("empty body: send a JSON object")
	}
	if err := jsonlimit.CheckDepth(body, jsonlimit.MaxDepth); err != nil {
		return specRequest{}, httpkit.BadRequest("%v", err)
	}
	if err := jsonlimit.CheckNUL(body); err != nil {
		return specRequest{}, httpkit.BadRequest("%v", err)
	}
	if kind != specBatch {
		m, err := decodeMessage(body, "")
		if err != nil {
			return specRequest{}, err
		}
		m.Type = kind // the path says what the call is
		c, ds := m.validate("", nil, "", now)
		if len(ds) > 0 {
			return specRequest{}, specError(ds)
		}
		return specRequest{WriteKey: m.WriteKey, Calls: []specCall{c}}, nil
	}

	var b specBatchBody
	if err := json.Unmarshal(body, &b); err != nil {
		return specRequest{}, decodeProblem(err, "")
	}
	if b.Batch == nil {
		return specRequest{}, specError([]httpkit.Detail{{Field: "batch", Message: "required: an array of calls"}})
	}
	if len(b.Batch) == 0 {
		return specRequest{}, specError([]httpkit.Detail{{Field: "batch", Message: "empty: send at least one call"}})
	}
	if len(b.Batch) > SpecMaxBatchCalls {
		return specRequest{}, specError([]httpkit.Detail{{Field: "batch", Message: fmt.Sprintf("at most %d calls, this batch has %d", SpecMaxBatchCalls, len(b.Batch))}})
	}
	req := specRequest{WriteKey: b.WriteKey}
	var ds []httpkit.Detail
	for i, raw := range b.Batch {
		prefix := fmt.Sprintf("batch[%d].", i)
		if len(raw) > SpecMaxCallBytes {
			ds = append(ds, httpkit.Detail{Field: strings.TrimSuffix(prefix, "."), Message: fmt.Sprintf("%d bytes; a call may have at most %d (32 KB)", len(raw), SpecMaxCallBytes)})
			continue
		}
		m, err := decodeMessage(raw, prefix)
		if err != nil {
			ds = append(ds, httpkit.ToError(err).Details...)
			continue
		}
		if _, ok := specPaths[m.Type]; !ok || m.Type == specBatch || len(m.Type) <= 1 {
			ds = append(ds, httpkit.Detail{Field: prefix + "type", Message: "required: one of identify, track, page, screen, group, alias"})
			continue
		}
		c, more := m.validate(prefix, b.Context, b.SentAt, now)
		ds = append(ds, more...)
		req.Calls = append(req.Calls, c)
	}
	if len(ds) > 0 {
		return specRequest{}, specError(ds)
	}
	return req, nil
}

// decodeMessage decodes one call, naming a mistyped field.
func decodeMessage(raw []byte, prefix string) (specMessage, error) {
	var m specMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, decodeProblem(err, prefix)
	}
	return m, nil
}

func decodeProblem(err error, prefix string) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	field := strings.TrimSuffix(prefix, ".")
	msg := "malformed JSON: " + err.Error()
	switch {
	case errors.As(err, &se):
		msg = fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			field = prefix + te.Field
		}
		msg = fmt.Sprintf("want %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	case strings.Contains(err.Error(), "want a string"):
		msg = "want a string"
	}
	if field == "" {
		field = "body"
	}
	if prefix == "" && !errors.As(err, &te) && !strings.Contains(msg, "want a string") {
		return httpkit.NewError(400, "bad_request", "%s", msg)
	}
	return specError([]httpkit.Detail{{Field: field, Message: msg}})
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	}
	return k
}

// validate turns a decoded call into what Waymark applies, with every
// problem. batchContext is merged under the call's own context; sentAt is
// the batch's when the call has none.
func (m specMessage) validate(prefix string, batchContext map[string]any, batchSentAt string, now time.Time) (specCall, []httpkit.Detail) {
	var ds []httpkit.Detail
	bad := func(field, format string, args ...any) {
		ds = append(ds, httpkit.Detail{Field: prefix + field, Message: fmt.Sprintf(format, args...)})
	}
	c := specCall{Type: m.Type, Field: prefix, UserID: strings.TrimSpace(string(m.UserID)), AnonymousID: strings.TrimSpace(string(m.AnonymousID))}
	switch {
	case len(c.UserID) > 256:
		bad("userId", "at most 256 characters")
	case strings.HasPrefix(c.UserID, "erased:") || profiles.IsAnonymous(c.UserID):
		bad("userId", "the prefixes \"erased:\" and %q are reserved", profiles.AnonymousPrefix)
	}
	if len(c.AnonymousID) > profiles.MaxAnonymousID {
		bad("anonymousId", "at most %d characters", profiles.MaxAnonymousID)
	}
	if c.UserID == "" && c.AnonymousID == "" && m.Type != specAlias {
		bad("userId", "required: a userId or an anonymousId")
	}
	ctx := map[string]any{}
	maps.Copy(ctx, batchContext)
	maps.Copy(ctx, m.Context)

	// What the call says about the profile: traits (identify), the
	// context's traits (any call), locale and timezone (context).
	traits := map[string]any{}
	if ct, ok := ctx["traits"].(map[string]any); ok {
		maps.Copy(traits, ct)
	}
	traitsField := "context.traits."
	if m.Type == specIdentify {
		maps.Copy(traits, m.Traits)
		traitsField = "traits."
	}
	in, more := traitsInput(traits, ctx, prefix+traitsField)
	ds = append(ds, more...)

	switch m.Type {
	case specIdentify:
		c.Profile = in
	case specGroup:
		g := strings.TrimSpace(string(m.GroupID))
		switch {
		case g == "":
			bad("groupId", "required")
		case len(g) > 256:
			bad("groupId", "at most 256 characters")
		}
		in.Attributes["group_id"] = g
		if len(m.Traits) > 0 {
			if jsonlimit.Exceeds(m.Traits, jsonlimit.MaxDepth-2) {
				bad("traits", "nested too deep")
			}
			in.Attributes["group"] = m.Traits
		}
		c.Profile = in
	case specAlias:
		c.PreviousID = strings.TrimSpace(string(m.PreviousID))
		switch {
		case c.PreviousID == "":
			bad("previousId", "required: the id the user had before (an anonymousId)")
		case len(c.PreviousID) > profiles.MaxAnonymousID:
			bad("previousId", "at most %d characters", profiles.MaxAnonymousID)
		}
		if c.UserID == "" {
			bad("userId", "required: the id the user has now")
		}
	case specTrack, specPage, specScreen:
		ev := &entry.Event{Properties: map[string]any{}}
		maps.Copy(ev.Properties, m.Properties)
		switch m.Type {
		case specTrack:
			if m.Event == nil || strings.TrimSpace(*m.Event) == "" {
				bad("event", "required")
			} else {
				ev.Name = strings.TrimSpace(*m.Event)
			}
		case specPage, specScreen:
			ev.Name = SpecPageEvent
			if m.Type == specScreen {
				ev.Name = SpecScreenEvent
			}
			for k, v := range map[string]string{"name": m.Name, "category": m.Category} {
				if _, has := ev.Properties[k]; !has && v != "" {
					ev.Properties[k] = v
				}
			}
		}
		if len(in.Attributes) > 0 || in.Email != nil || in.Phone != nil || in.Timezone != nil || in.Locale != nil {
			ev.Profile = in
		}
		id := strings.TrimSpace(string(m.MessageID))
		if len(id) > specMaxMessageID {
			bad("messageId", "at most %d characters", specMaxMessageID)
		} else if id != "" {
			ev.IdempotencyKey = specKeyPrefix + id
		}
		sentAt := m.SentAt
		if sentAt == "" {
			sentAt = batchSentAt
		}
		at, field, err := occurredAt(m.Timestamp, m.OriginalTimestamp, sentAt, now)
		if err != nil {
			bad(field, "%s", err.Error())
		}
		ev.OccurredAt = at
		// The entry path's own checks (name, profile, time), named as the
		// spec names the fields.
		ev.ProfileID = "x"
		for _, p := range ev.Validate("", now) {
			switch {
			case p.Field == "name" && ev.Name != "":
				bad("event", "%q: 1 to 128 letters, digits, spaces or _ . : - / (Waymark's event names)", ev.Name)
			case p.Field == "occurred_at":
				bad("timestamp", "%s", p.Message)
			case strings.HasPrefix(p.Field, "profile."):
				bad(traitsField+strings.TrimPrefix(p.Field, "profile."), "%s", p.Message)
			}
		}
		if jsonlimit.Exceeds(ev.Properties, jsonlimit.MaxDepth-1) {
			bad("properties", "nested too deep")
		}
		ev.ProfileID = ""
		c.Event = ev
	}
	if c.Profile != nil {
		c.Profile.ExternalID = "x"
		for _, p := range c.Profile.Validate("") {
			if p.Field != "external_id" {
				bad(traitsField+p.Field, "%s", p.Message)
			}
		}
		c.Profile.ExternalID = ""
	}
	return c, ds
}

// traitsInput maps traits and context onto a profile write: email and
// phone go to the built-in fields when valid (kept as attributes
// otherwise), timezone and locale likewise (from the traits or the
// context); every other trait is an attribute of the same name.
func traitsInput(traits, ctx map[string]any, field string) (*profiles.Input, []httpkit.Detail) {
	in := &profiles.Input{Attributes: map[string]any{}}
	var ds []httpkit.Detail
	for _, k := range slices.Sorted(maps.Keys(traits)) {
		v := traits[k]
		if k == "" || len(k) > 64 {
			ds = append(ds, httpkit.Detail{Field: field + clip(k), Message: "trait names are 1 to 64 characters"})
			continue
		}
		if profiles.IsBuiltinField(k) {
			if s, ok := v.(string); ok {
				if norm, err := profiles.CheckField(k, strings.TrimSpace(s)); err == nil && norm != "" {
					set(in, k, norm)
					continue
				}
			}
		}
		in.Attributes[k] = v
	}
	for _, k := range []string{"timezone", "locale"} {
		if s, ok := ctx[k].(string); ok && builtin(in, k) == nil {
			if norm, err := profiles.CheckField(k, strings.TrimSpace(s)); err == nil && norm != "" {
				set(in, k, norm)
			}
		}
	}
	if len(in.Attributes) > 200 {
		ds = append(ds, httpkit.Detail{Field: strings.TrimSuffix(field, "."), Message: "at most 200 traits"})
	}
	return in, ds
}

func clip(s string) string {
	if len(s) > 70 {
		return s[:64] + "…"
	}
	return s
}

func builtin(in *profiles.Input, k string) *string {
	switch k {
	case "email":
		return in.Email
	case "phone":
		return in.Phone
	case "timezone":
		return in.Timezone
	case "locale":
		return in.Locale
	}
	return nil
}

func set(in *profiles.Input, k, v string) {
	switch k {
	case "email":
		in.Email = &v
	case "phone":
		in.Phone = &v
	case "timezone":
		in.Timezone = &v
	case "locale":
		in.Locale = &v
	}
}

// occurredAt is when a call happened, as Segment computes it: the client's
// time (originalTimestamp, or timestamp) corrected for the client's clock
// skew when the client says when it sent the call (timestamp = received −
// (sentAt − originalTimestamp)), never later than now; nil (now) when the
// call gives no time.
func occurredAt(timestamp, original, sentAt string, now time.Time) (*time.Time, string, error) {
	field, orig := "timestamp", timestamp
	if original != "" {
		field, orig = "originalTimestamp", original
	}
	if orig == "" {
		if sentAt != "" {
			if _, err := parseSpecTime(sentAt); err != nil {
				return nil, "sentAt", err
			}
		}
		return nil, "", nil
	}
	t, err := parseSpecTime(orig)
	if err != nil {
		return nil, field, err
	}
	if sentAt != "" {
		sent, err := parseSpecTime(sentAt)
		if err != nil {
			return nil, "sentAt", err
		}
		t = now.Add(-sent.Sub(t))
		if t.After(now) {
			t = now
		}
	}
	t = t.UTC()
	return &t, "", nil
}

// parseSpecTime reads an ISO-8601 time as the SDKs write it (RFC 3339,
// with or without fractions; a date alone is midnight UTC).
func parseSpecTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				break
			}
			return t, nil
		}
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return time.Time{}, fmt.Errorf("%s is not an ISO-8601 date and time (like 2012-12-02T00:30:08.276Z)", strconv.Quote(s))
}
