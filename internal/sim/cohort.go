package sim

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
)

// CohortSpec generates profiles: the same spec and seed always give the
// same profiles.
type CohortSpec struct {
	Size int   `json:"size"`
	Seed int64 `json:"seed,omitempty"`
	// Prefix starts every generated external id (default "sim-").
	Prefix string `json:"prefix,omitempty"`
	// Attributes are generated per profile.
	Attributes map[string]AttributeSpec `json:"attributes,omitempty"`
	// Timezones and Locales are picked uniformly (none: no time zone / locale).
	Timezones []string `json:"timezones,omitempty"`
	Locales   []string `json:"locales,omitempty"`
	// PhoneShare is the share of profiles with a phone number (0 to 1);
	// every profile has an email address.
	PhoneShare float64 `json:"phone_share,omitempty"`
	// Consent is given to every profile, e.g. {"ads": "granted"} or
	// {"ads": true}: the shapes a profile write takes.
	Consent map[string]any `json:"consent,omitempty"`
}

// AttributeSpec generates one attribute: one of Values (by Weights, equal
// when none), or a number between Min and Max (whole numbers when Integer).
// Missing is the share of profiles without the attribute.
type AttributeSpec struct {
	Values  []any     `json:"values,omitempty"`
	Weights []float64 `json:"weights,omitempty"`
	Min     *float64  `json:"min,omitempty"`
	Max     *float64  `json:"max,omitempty"`
	Integer bool      `json:"integer,omitempty"`
	Missing float64   `json:"missing,omitempty"`
}

// generate builds the cohort's profiles.
func (c *CohortSpec) generate() ([]*simProfile, []Problem) {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "cohort." + field, Message: fmt.Sprintf(format, args...)})
	}
	if c.Size <= 0 {
		bad("size", "must be at least 1")
	}
	names := make([]string, 0, len(c.Attributes))
	for name, a := range c.Attributes {
		names = append(names, name)
		f := "attributes." + name
		switch {
		case name == "" || len(name) > 64:
			bad("attributes", "attribute names are 1 to 64 characters")
		case len(a.Values) > 0 && (a.Min != nil || a.Max != nil):
			bad(f, "give values or min/max, not both")
		case len(a.Values) == 0 && (a.Min == nil || a.Max == nil):
			bad(f, "give values, or min and max")
		case a.Min != nil && a.Max != nil && *a.Min > *a.Max:
			bad(f, "min is greater than max")
		case len(a.Weights) > 0 && len(a.Weights) != len(a.Values):
			bad(f+".weights", "one weight per value (%d values, %d weights)", len(a.Values), len(a.Weights))
		case a.Missing < 0 || a.Missing > 1:
			bad(f+".missing", "a share between 0 and 1")
		}
		for _, w := range a.Weights {
			if w < 0 || math.IsNaN(w) {
				bad(f+".weights", "weights must not be negative")
				break
			}
		}
	}
	sort.Strings(names)
	for i, tz := range c.Timezones {
		if _, err := nodes.LoadTimezone(tz); err != nil {
			bad(fmt.Sprintf("timezones[%d]", i), "%q is not an IANA time zone (like Europe/Paris)", tz)
		}
	}
	if c.PhoneShare < 0 || c.PhoneShare > 1 {
		bad("phone_share", "a share between 0 and 1")
	}
	consent := map[string]string{}
	for ch, v := range c.Consent {
		st, err := profiles.ParseConsent(v)
		if err != nil {
			bad("consent."+ch, "%s", err.Error())
		}
		consent[ch] = st
	}
	if len(ps) > 0 {
		return nil, ps
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = "sim-"
	}
	out := make([]*simProfile, 0, c.Size)
	for i := 0; i < c.Size; i++ {
		rng := rand.New(rand.NewPCG(uint64(c.Seed), uint64(i)))
		ext := fmt.Sprintf("%s%d", prefix, i+1)
		email := fmt.Sprintf("%s%d@example.com", prefix, i+1)
		in := profiles.Input{ExternalID: ext, Email: &email, Attributes: map[string]any{}}
		if rng.Float64() < c.PhoneShare {
			phone := fmt.Sprintf("+1555%07d", i+1)
			in.Phone = &phone
		}
		if len(c.Timezones) > 0 {
			tz := c.Timezones[rng.IntN(len(c.Timezones))]
			in.Timezone = &tz
		}
		if len(c.Locales) > 0 {
			l := c.Locales[rng.IntN(len(c.Locales))]
			in.Locale = &l
		}
		for _, name := range names {
			a := c.Attributes[name]
			if a.Missing > 0 && rng.Float64() < a.Missing {
				continue
			}
			in.Attributes[name] = a.pick(rng)
		}
		out = append(out, &simProfile{source: "cohort", input: in, consent: maps.Clone(consent)})
	}
	return out, nil
}

func (a AttributeSpec) pick(rng *rand.Rand) any {
	if len(a.Values) > 0 {
		if len(a.Weights) == 0 {
			return a.Values[rng.IntN(len(a.Values))]
		}
		sum := 0.0
		for _, w := range a.Weights {
			sum += w
		}
		if sum <= 0 {
			return a.Values[rng.IntN(len(a.Values))]
		}
		r := rng.Float64() * sum
		for i, w := range a.Weights {
			if r < w {
				return a.Values[i]
			}
			r -= w
		}
		return a.Values[len(a.Values)-1]
	}
	v := *a.Min + rng.Float64()*(*a.Max-*a.Min)
	if a.Integer {
		lo, hi := math.Ceil(*a.Min), math.Floor(*a.Max)
		if lo > hi {
			return lo
		}
		v = math.Min(lo+math.Floor(rng.Float64()*(hi-lo+1)), hi)
	}
	return v
}
