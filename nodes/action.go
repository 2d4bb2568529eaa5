package nodes

import (
	"errors"
	"fmt"
	"regexp"
)

// ActionSpec declares what an action kind does when a run reaches it: the
// channel it speaks on, where it goes, which config fields make the
// message, which rules apply and how it is sent as a test. The engine, the
// simulator, test sends, the editor's panel and the reference docs read it;
// none of them names a kind. A kind with an ActionSpec acts through the
// connector named by its "connector" field.
type ActionSpec struct {
	// Channel is what the action speaks on (email, sms, webhook,
	// audience…): the key of frequency caps, consent and the suppression
	// list, and the channel its connector field asks for.
	Channel string
	// To lists the profile fields the action goes to, tried in order; the
	// first one set is the recipient.
	To []ProfileField
	// NoAddress is why the step fails when the profile has none of To
	// ("the profile has no email address"). Empty: no address is needed.
	NoAddress string
	// Message fills the parts of the message from template fields,
	// rendered in this order.
	Message []MessageField
	// Attributes are the profile attributes the message carries, e.g. for
	// audience matching (nil: none).
	Attributes []string
	// SendsConsent: the message carries the profile's consent record (ad
	// platforms read ad consent from it).
	SendsConsent bool
	// Policy says which journey and workspace rules apply.
	Policy Policy
	// Test says how the action is sent as a test; nil: it cannot be.
	Test *TestSend
}

// ProfileField is a built-in profile field an action can go to.
type ProfileField string

// Profile fields.
const (
	ProfileEmail      ProfileField = "email"
	ProfilePhone      ProfileField = "phone"
	ProfileExternalID ProfileField = "external_id"
)

// Title names the field as a form label says it.
func (f ProfileField) Title() string {
	switch f {
	case ProfileEmail:
		return "Email address"
	case ProfilePhone:
		return "Phone number (E.164)"
	case ProfileExternalID:
		return "External id"
	}
	return string(f)
}

// Part is a part of the message a connector gets.
type Part string

// Message parts.
const (
	PartSubject  Part = "subject"
	PartHTML     Part = "html"
	PartText     Part = "text"
	PartFromName Part = "from_name"
	// PartPayload is a JSON body: a blank result is {}, and anything but
	// valid JSON fails the step.
	PartPayload Part = "payload"
)

var parts = map[Part]bool{PartSubject: true, PartHTML: true, PartText: true, PartFromName: true, PartPayload: true}

// MessageField fills a part of the message from a template field.
type MessageField struct {
	Part  Part
	Field string
}

// Consent is the consent an action needs from the profile.
type Consent string

// Consents.
const (
	// NoConsent: none is needed (removing someone from an audience is how
	// a withdrawal reaches the platform).
	NoConsent Consent = ""
	// ChannelConsent: a consent recorded for the channel stops the action
	// unless its status is granted (docs/triggers.md#consent).
	ChannelConsent Consent = "channel"
	// AdConsent: the profile's ad consent must allow an upload.
	AdConsent Consent = "ads"
)

// Policy says which rules apply to an action.
type Policy struct {
	// QuietHours: the action waits out the journey's quiet hours.
	QuietHours bool
	// FrequencyCap: journeys may cap the channel
	// (settings.frequency_cap.<channel>) and the action obeys the cap.
	FrequencyCap bool
	// Consent is the consent the action needs.
	Consent Consent
	// Suppressions: the workspace's suppression list for the channel
	// stops the action.
	Suppressions bool
	// Unsubscribe: the message carries a one-click unsubscribe link for
	// its recipient on the channel.
	Unsubscribe bool
}

// TestSend says how an action is sent as a test.
type TestSend struct {
	// To is the profile field a test's address stands in for (email or
	// phone); empty: a test takes no address and goes where the connector
	// points (a webhook's URL).
	To ProfileField
	// Mark is the part a test marks with "[Test] "; empty: none.
	Mark Part
}

// HasPart reports whether the message has the part.
func (a *ActionSpec) HasPart(p Part) bool {
	for _, m := range a.Message {
		if m.Part == p {
			return true
		}
	}
	return false
}

var channelRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// ValidChannel reports whether s may name a channel: snake_case, 1-32
// characters.
func ValidChannel(s string) bool { return channelRE.MatchString(s) }

// ConnectorField is the field an acting kind names its connector in.
const ConnectorField = "connector"

func (s Spec) validateAction() error {
	a := s.Action
	if a == nil {
		if s.Acts {
			return errors.New("a kind that acts declares its action (Spec.Action)")
		}
		return nil
	}
	if s.Category != Action || !s.Acts {
		return errors.New("an action declaration needs category action and acts")
	}
	if !ValidChannel(a.Channel) {
		return fmt.Errorf("action: invalid channel %q", a.Channel)
	}
	if f, ok := s.Field(ConnectorField); !ok || f.Type != Connector || f.Channel != a.Channel {
		return fmt.Errorf("action: needs a connector field %q for channel %q", ConnectorField, a.Channel)
	}
	if len(a.To) == 0 {
		return errors.New("action: to names no profile field")
	}
	external := false
	for _, f := range a.To {
		switch f {
		case ProfileEmail, ProfilePhone:
		case ProfileExternalID:
			external = true
		default:
			return fmt.Errorf("action: unknown profile field %q", f)
		}
	}
	if !external && a.NoAddress == "" {
		return errors.New("action: no_address is required unless the action can go to the external id")
	}
	seen := map[Part]bool{}
	for _, m := range a.Message {
		if !parts[m.Part] {
			return fmt.Errorf("action: unknown message part %q", m.Part)
		}
		if seen[m.Part] {
			return fmt.Errorf("action: message part %q twice", m.Part)
		}
		seen[m.Part] = true
		if f, ok := s.Field(m.Field); !ok || !f.Type.IsTemplate() {
			return fmt.Errorf("action: message part %q: %q is not a template field", m.Part, m.Field)
		}
	}
	switch a.Policy.Consent {
	case NoConsent, ChannelConsent, AdConsent:
	default:
		return fmt.Errorf("action: unknown consent %q", a.Policy.Consent)
	}
	if t := a.Test; t != nil {
		switch t.To {
		case "":
		case ProfileEmail, ProfilePhone:
			if !contains(profileFields(a.To), string(t.To)) {
				return fmt.Errorf("action: a test goes to %s, which the action does not", t.To)
			}
		default:
			return fmt.Errorf("action: a test cannot go to %q", t.To)
		}
		if t.Mark != "" && !seen[t.Mark] {
			return fmt.Errorf("action: a test marks part %q, which the message does not have", t.Mark)
		}
	}
	return nil
}

func profileFields(l []ProfileField) []string {
	out := make([]string, len(l))
	for i, f := range l {
		out[i] = string(f)
	}
	return out
}
