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
	if p.Email != nil && *p.Email != "" {
		addr, err := mail.ParseAddress(*p.Email)
		if err != nil || addr.Address != strings.TrimSpace(*p.Email) || !strings.Contains(addr.Address, ".") {
			bad("email", "%q is not a valid email address", *p.Email)
		} else {
			lower := store.NormalizeEmail(addr.Address)
			p.Email = &lower
		}
	}
	if p.Phone != nil && *p.Phone != "" && !e164.MatchString(*p.Phone) {
		bad("phone", "%q is not an E.164 number (like +14155550123)", *p.Phone)
	}
	if p.Timezone != nil && *p.Timezone != "" {
		if _, err := nodes.LoadTimezone(*p.Timezone); err != nil {
			bad("timezone", "%q is not an IANA time zone (like Europe/Paris)", *p.Timezone)
		}
	}
	if p.Locale != nil && *p.Locale != "" && !localeRE.MatchString(*p.Locale) {
		bad("locale", "%q is not a locale (like fr-FR)", *p.Locale)
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
	for ch, v := range p.Consent {
		status, ok := ConsentStatus(v)
		switch {
		case !ok:
			bad("consent."+ch, "want a status string or {\"status\": …}")
		case status != "granted" && status != "unsubscribed" && status != "opted_out" && status != "revoked":
			bad("consent."+ch, "status %q: want granted, unsubscribed, opted_out or revoked", status)
		}
	}
	return ps
}

// ConsentStatus reads a consent value: "granted" or {"status": "granted"}.
func ConsentStatus(v any) (string, bool) {
	if m, isMap := v.(map[string]any); isMap {
		s, ok := m["status"].(string)
		return s, ok
	}
	s, ok := v.(string)
	return s, ok
}

// Upsert is the store write for a validated input.
func (p Input) Upsert(workspaceID string) store.ProfileUpsert {
	return store.ProfileUpsert{WorkspaceID: workspaceID, ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone,
		Locale: p.Locale, Attributes: p.Attributes}
}
