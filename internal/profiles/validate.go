// Package profiles holds what every way of writing a profile shares: the
// validation of a profile write (API, events, CSV import) and the CSV
// importer.
package profiles

import (
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

var (
	e164     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	localeRE = regexp.MustCompile(`^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$`)
)

// Problem is one invalid field of a profile write.
type Problem struct {
	Field   string
	Message string
}

// Input is a profile write: nil fields are left as they are.
type Input struct {
	ExternalID string
	Email      *string
	Phone      *string
	Timezone   *string
	Locale     *string
	Attributes map[string]any
	Consent    map[string]any
}

// Validate checks a profile write, normalising it (trimmed external id,
// lower-cased email), and returns every problem, each naming its field with
// prefix (e.g. "events[3].profile.").
func (p *Input) Validate(prefix string) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: prefix + field, Message: fmt.Sprintf(format, args...)})
	}
	p.ExternalID = strings.TrimSpace(p.ExternalID)
	switch {
	case p.ExternalID == "":
		bad("external_id", "required")
	case len(p.ExternalID) > 256:
		bad("external_id", "at most 256 characters")
	case strings.HasPrefix(p.ExternalID, "erased:"):
		bad("external_id", "the prefix \"erased:\" is reserved for erased profiles")
	}
	for _, f := range []struct {
		name string
		v    **string
	}{{"email", &p.Email}, {"phone", &p.Phone}, {"timezone", &p.Timezone}, {"locale", &p.Locale}} {
		if *f.v == nil {
			continue
		}
		v, err := CheckField(f.name, **f.v)
		if err != nil {
			bad(f.name, "%s", err.Error())
			continue
		}
		*f.v = &v
	}
	if len(p.Attributes) > 200 {
		bad("attributes", "at most 200 attributes")
	}
	for k := range p.Attributes {
		if k == "" || len(k) > 64 {
			bad("attributes", "attribute names are 1 to 64 characters")
			break
		}
	}
	// The attributes object is stored and shown as one JSON document: with
	// it, a value nests at most jsonlimit.MaxDepth levels (the API refuses
	// deeper bodies before decoding; this holds for every other writer).
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		if jsonlimit.Exceeds(p.Attributes[k], jsonlimit.MaxDepth-1) {
			bad("attributes."+k, "nested too deep: objects and arrays may nest at most %d levels, the attributes object included", jsonlimit.MaxDepth)
		}
	}
	if len(p.Consent) > MaxConsentChannels {
		bad("consent", "at most %d channels", MaxConsentChannels)
	}
	for _, ch := range slices.Sorted(maps.Keys(p.Consent)) {
		if !channelRE.MatchString(ch) {
			bad("consent", "%q is not a channel name: 1 to 64 letters, digits or _ (like email, sms, ads)", ch)
			continue
		}
		if _, err := ParseConsent(p.Consent[ch]); err != nil {
			bad("consent."+ch, "%s", err.Error())
		}
	}
	return ps
}

// BuiltinFields are the profile's own fields a write may set, besides
// external_id (which names the profile and never changes) and the custom
// attributes.
var BuiltinFields = []string{"email", "phone", "timezone", "locale"}

// IsBuiltinField reports whether name is one of BuiltinFields.
func IsBuiltinField(name string) bool { return slices.Contains(BuiltinFields, name) }

// CheckField validates the value of a built-in field as every profile
// write does (API, events, CSV import, update_profile) and returns the
// value to store: an email address lower-cased, the others as given. ""
// clears the field and is always valid. The error says what is wrong,
// without the field's name.
func CheckField(field, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	switch field {
	case "email":
		addr, err := mail.ParseAddress(value)
		if err != nil || addr.Address != strings.TrimSpace(value) || !strings.Contains(addr.Address, ".") {
			return "", fmt.Errorf("%q is not a valid email address", value)
		}
		return store.NormalizeEmail(addr.Address), nil
	case "phone":
		if !e164.MatchString(value) {
			return "", fmt.Errorf("%q is not an E.164 number (like +14155550123)", value)
		}
	case "timezone":
		if _, err := nodes.LoadTimezone(value); err != nil {
			return "", fmt.Errorf("%q is not an IANA time zone (like Europe/Paris)", value)
		}
	case "locale":
		if !localeRE.MatchString(value) {
			return "", fmt.Errorf("%q is not a locale (like fr-FR)", value)
		}
	default:
		return "", fmt.Errorf("%q is not a built-in field (%s)", field, strings.Join(BuiltinFields, ", "))
	}
	return value, nil
}

// Consent statuses. Granted is the only yes; every other status is a no
// that stops sends on its channel (and uploads, for ads).
const (
	ConsentGranted      = "granted"
	ConsentDenied       = "denied"
	ConsentRevoked      = "revoked"
	ConsentUnsubscribed = "unsubscribed"
	ConsentOptedOut     = "opted_out"
)

// ConsentStatuses lists the statuses a profile's consent may hold.
var ConsentStatuses = []string{ConsentGranted, ConsentDenied, ConsentRevoked, ConsentUnsubscribed, ConsentOptedOut}

// MaxConsentChannels bounds the channels of one profile write.
const MaxConsentChannels = 50

var channelRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// ParseConsent reads one channel's consent as a write gives it: true
// (granted), false (denied), a status ("granted", "denied", "revoked",
// "unsubscribed", "opted_out", any case), or an object {"status": …}. The
// object may also carry "source" and "at", as a profile read back shows
// them (they are ignored: the write sets its own). It returns the status
// to store, or an error saying what is wrong.
func ParseConsent(v any) (string, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return ConsentGranted, nil
		}
		return ConsentDenied, nil
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		if !slices.Contains(ConsentStatuses, s) {
			return "", fmt.Errorf("status %q: want %s (or true for granted, false for denied)", x, consentList())
		}
		return s, nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if k != "status" && k != "source" && k != "at" {
				return "", fmt.Errorf("unknown key %q: want {\"status\": …}", k)
			}
		}
		st, ok := x["status"]
		if !ok {
			return "", fmt.Errorf("the object has no \"status\": want {\"status\": \"granted\"} or another of %s", consentList())
		}
		if _, isString := st.(string); !isString {
			return "", fmt.Errorf("status: want a string, one of %s", consentList())
		}
		return ParseConsent(st)
	case nil:
		return "", fmt.Errorf("null: want true, false, a status (%s) or {\"status\": …}", consentList())
	}
	return "", fmt.Errorf("want true, false, a status (%s) or {\"status\": …}, not %s", consentList(), jsonType(v))
}

// ConsentStatus reads a consent value, as written or as stored
// ({"status": …, "source": …, "at": …}); ok is false when it is not one.
func ConsentStatus(v any) (string, bool) {
	s, err := ParseConsent(v)
	return s, err == nil
}

func consentList() string {
	return strings.Join(ConsentStatuses[:len(ConsentStatuses)-1], ", ") + " or " + ConsentStatuses[len(ConsentStatuses)-1]
}

func jsonType(v any) string {
	switch v.(type) {
	case float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// ConsentUpdates returns the validated consent of a write as channel →
// status (nil when it has none). Call it after Validate found no problem.
func (p Input) ConsentUpdates() map[string]string {
	if len(p.Consent) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.Consent))
	for ch, v := range p.Consent {
		if s, err := ParseConsent(v); err == nil {
			out[ch] = s
		}
	}
	return out
}

// Upsert is the store write for a validated input.
func (p Input) Upsert(workspaceID string) store.ProfileUpsert {
	return store.ProfileUpsert{WorkspaceID: workspaceID, ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone,
		Locale: p.Locale, Attributes: p.Attributes, Consent: p.ConsentUpdates()}
}
