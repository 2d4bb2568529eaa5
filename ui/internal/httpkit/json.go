package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
)

// DecodeStrict decodes a JSON body, refusing unknown fields and nesting
// deeper than jsonlimit.MaxDepth, and names the problem on failure.
func DecodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("empty body: send a JSON object")
	}
	dec, err := strictDecoder(body)
	if err != nil {
		return err
	}
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return BadRequest("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return &Error{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "wrong type",
				Details: []Detail{{Field: te.Field, Message: fmt.Sprintf("expected %s, got %s", te.Type, te.Value)}}}
		}
		return BadRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return BadRequest("malformed JSON: data after the object")
	}
	return nil
}

// DecodeJSON reads a JSON object body strictly (unknown keys are errors).
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return BadRequest("the body must be a JSON object")
	}
	dec, err := strictDecoder(body)
	if err != nil {
		return err
	}
	if err := dec.Decode(v); err != nil {
		return NewError(fiber.StatusBadRequest, "invalid_json", "the body is not the JSON expected: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return NewError(fiber.StatusBadRequest, "invalid_json", "the body has data after the JSON object")
	}
	return nil
}

// strictDecoder checks body's nesting and NUL characters before anything
// is decoded, and returns a decoder that refuses unknown fields.
func strictDecoder(body []byte) (*json.Decoder, error) {
	if err := RefuseDeep(body); err != nil {
		return nil, err
	}
	if err := RefuseNUL(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec, nil
}

// RefuseDeep answers 400 json_too_deep for a body whose objects and arrays
// nest deeper than jsonlimit.MaxDepth (64) levels, found by a scan of the
// raw bytes before anything is decoded. Every inbound JSON surface checks
// it: a deep value costs quadratic time and space wherever it is later
// indented for reading (security review F3).
func RefuseDeep(body []byte) error {
	if e := bodyError(jsonlimit.CheckDepth(body, jsonlimit.MaxDepth)); e != nil {
		return e
	}
	return nil
}

// RefuseNUL answers 422 for a JSON body with a \u0000 escape: the NUL
// character it stands for cannot be stored in a text or JSON column
// (PostgreSQL refuses it), so the request is refused whole, before
// anything is written, rather than failing at the database as a 500.
func RefuseNUL(body []byte) error {
	if e := bodyError(jsonlimit.CheckNUL(body)); e != nil {
		return e
	}
	return nil
}

// ProfileJSON is a profile as the API reads and writes it.
type ProfileJSON struct {
	ExternalID string         `json:"external_id"`
	Email      *string        `json:"email,omitempty"`
	Phone      *string        `json:"phone,omitempty"`
	Timezone   *string        `json:"timezone,omitempty"`
	Locale     *string        `json:"locale,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Consent    map[string]any `json:"consent,omitempty"`
	CreatedAt  *time.Time     `json:"created_at,omitempty"`
	UpdatedAt  *time.Time     `json:"updated_at,omitempty"`
}

// ToProfileJSON is a stored profile as the API shows it.
func ToProfileJSON(p store.Profile) ProfileJSON {
	s := func(v string) *string { return &v }
	return ProfileJSON{ExternalID: p.ExternalID, Email: s(p.Email), Phone: s(p.Phone), Timezone: s(p.Timezone), Locale: s(p.Locale),
		Attributes: p.Attributes, Consent: p.Consent, CreatedAt: &p.CreatedAt, UpdatedAt: &p.UpdatedAt}
}

// Input is the profile write the domain takes (internal/profiles
// validates it, internal/entry writes it).
func (p ProfileJSON) Input() profiles.Input {
	return profiles.Input{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale,
		Attributes: p.Attributes, Consent: p.Consent}
}
