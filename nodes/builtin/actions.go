package builtin

import (
	"fmt"
	"regexp"

	"github.com/waymarkhq/waymark/nodes"
)

// actionPorts are the ports of kinds that call a connector.
func actionPorts() []nodes.Port {
	return []nodes.Port{
		out(nodes.Complete),
		{Name: "failed", Title: "Failed", IfUnconnected: nodes.Fail,
			Help: "Taken when the connector gives up (permanent error, or retries exhausted). Unconnected: the run fails."},
	}
}

func connector(channel string) nodes.Field {
	return nodes.Field{Name: nodes.ConnectorField, Title: "Connector", Type: nodes.Connector, Channel: channel, Required: true,
		Help: "Name of a connector serving " + channel + "; \"sandbox\" (the test inbox) always exists."}
}

// audience is what the audience kinds do: match the profile by email or
// phone (hashed by the connector) plus a few attributes. Adding needs ad
// consent; removing needs none, as it is how a withdrawal reaches the
// platform.
func audience(consent nodes.Consent) *nodes.ActionSpec {
	return &nodes.ActionSpec{
		Channel: "audience", To: []nodes.ProfileField{nodes.ProfileEmail, nodes.ProfilePhone},
		NoAddress:  "the profile has neither email nor phone to match an audience",
		Attributes: []string{"country", "zip", "first_name", "last_name"}, SendsConsent: true,
		Policy: nodes.Policy{Consent: consent},
	}
}

// DefaultWebhookPayload is send_webhook's payload when none is given.
const DefaultWebhookPayload = `{"profile_id": {{ profile.external_id }}, "journey_id": {{ journey.id }}, "run_id": {{ run.id }}}`

var attributeRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// checkAttributeName checks a field naming a profile attribute (a custom
// attribute or a built-in field other than external_id).
func checkAttributeName(path, name string) []nodes.FieldError {
	switch {
	case !attributeRE.MatchString(name):
		return []nodes.FieldError{{Field: path, Message: fmt.Sprintf("%q is not a valid attribute name: use letters, digits and _, starting with a letter or _", name)}}
	case name == "external_id":
		return []nodes.FieldError{{Field: path, Message: "external_id cannot be changed"}}
	}
	return nil
}

// actions change something: they send, sync or update.
func actions() []nodes.Spec {
	return []nodes.Spec{
		{
			Kind: "send_email", Title: "Send email", Category: nodes.Action, Acts: true, DefaultPort: "out",
			Help: "Sends an email to the profile's address through an email connector.",
			Fields: []nodes.Field{
				connector("email"),
				{Name: "subject", Title: "Subject", Type: nodes.Template, Required: true, MaxLength: 998,
					Help: "Template, e.g. Hi {{ profile.first_name ?? \"there\" }}."},
				{Name: "body", Title: "HTML body", Type: nodes.HTML, Required: true,
					Help: "HTML template; placeholder values are HTML-escaped."},
				{Name: "text", Title: "Text body", Type: nodes.Template,
					Help: "Optional plain-text template; default: derived from the HTML body."},
				{Name: "from_name", Title: "From name", Type: nodes.Template, MaxLength: 256,
					Help: "Optional sender display name; default: the connector's."},
				{Name: "reply_to", Title: "Reply-To", Type: nodes.String, MaxLength: 254, Help: "Optional Reply-To address."},
			},
			Ports: actionPorts(),
			Action: &nodes.ActionSpec{
				Channel: "email", To: []nodes.ProfileField{nodes.ProfileEmail}, NoAddress: "the profile has no email address",
				Message: []nodes.MessageField{{Part: nodes.PartSubject, Field: "subject"}, {Part: nodes.PartHTML, Field: "body"},
					{Part: nodes.PartText, Field: "text"}, {Part: nodes.PartFromName, Field: "from_name"}},
				Policy: nodes.Policy{QuietHours: true, FrequencyCap: true, Consent: nodes.ChannelConsent, Suppressions: true, Unsubscribe: true},
				Test:   &nodes.TestSend{To: nodes.ProfileEmail, Mark: nodes.PartSubject},
			},
			Example: map[string]any{"connector": "sandbox", "subject": "Welcome, {{ profile.first_name ?? \"friend\" }}!",
				"body": "<p>Hi {{ profile.first_name ?? \"there\" }}, thanks for joining.</p>"},
		},
		{
			Kind: "send_sms", Title: "Send SMS", Category: nodes.Action, Acts: true, DefaultPort: "out",
			Help: "Sends a text message to the profile's phone number through an SMS connector.",
			Fields: []nodes.Field{
				connector("sms"),
				{Name: "body", Title: "Message", Type: nodes.Template, Required: true, MaxLength: 1600,
					Help: "Template; long messages are split by the carrier."},
			},
			Ports: actionPorts(),
			Action: &nodes.ActionSpec{
				Channel: "sms", To: []nodes.ProfileField{nodes.ProfilePhone}, NoAddress: "the profile has no phone number",
				Message: []nodes.MessageField{{Part: nodes.PartText, Field: "body"}},
				Policy:  nodes.Policy{QuietHours: true, FrequencyCap: true, Consent: nodes.ChannelConsent, Suppressions: true},
				Test:    &nodes.TestSend{To: nodes.ProfilePhone, Mark: nodes.PartText},
			},
			Example: map[string]any{"connector": "sandbox", "body": "Your cart is waiting, {{ profile.first_name ?? \"friend\" }}."},
		},
		{
			Kind: "send_webhook", Title: "Send webhook", Category: nodes.Action, Acts: true, DefaultPort: "out",
			Help: "POSTs a JSON payload to the webhook connector's URL, signed.",
			Fields: []nodes.Field{
				connector("webhook"),
				{Name: "payload", Title: "Payload", Type: nodes.JSON, Default: DefaultWebhookPayload,
					Help: "JSON with {{ expression }} placeholders: inside a string a value is inserted as text, elsewhere as a JSON value."},
			},
			Ports: actionPorts(),
			Action: &nodes.ActionSpec{
				Channel: "webhook", To: []nodes.ProfileField{nodes.ProfileExternalID},
				Message: []nodes.MessageField{{Part: nodes.PartPayload, Field: "payload"}},
				Policy:  nodes.Policy{FrequencyCap: true, Consent: nodes.ChannelConsent},
				Test:    &nodes.TestSend{},
			},
			Example: map[string]any{"connector": "sandbox", "payload": `{"user": {{ profile.external_id }}, "score": {{ profile.score ?? 0 }}}`},
		},
		{
			Kind: "audience_add", Title: "Add to audience", Category: nodes.Action, Acts: true, DefaultPort: "out",
			Help:   "Adds the profile (hashed email and phone) to the ad-platform audience of an audience connector.",
			Fields: []nodes.Field{connector("audience")},
			Ports:  actionPorts(), Example: map[string]any{"connector": "sandbox"},
			Action: audience(nodes.AdConsent),
		},
		{
			Kind: "audience_remove", Title: "Remove from audience", Category: nodes.Action, Acts: true, DefaultPort: "out",
			Help:   "Removes the profile from the ad-platform audience of an audience connector.",
			Fields: []nodes.Field{connector("audience")},
			Ports:  actionPorts(), Example: map[string]any{"connector": "sandbox"},
			Action: audience(nodes.NoConsent),
		},
		{
			Kind: "update_profile", Title: "Update profile", Category: nodes.Action, Instant: true, DefaultPort: "out",
			Help: "Sets profile attributes and built-in fields (email, phone, timezone, locale) from expressions, in order " +
				"(later assignments see earlier ones). Built-in fields are checked as the profile API checks them; " +
				"a bad value leaves through failed and nothing of the node is written.",
			Fields: []nodes.Field{
				{Name: "assignments", Title: "Assignments", Type: nodes.List, Required: true, Min: nodes.Bound(1), Max: nodes.Bound(50),
					Items: []nodes.Field{
						{Name: "attribute", Title: "Attribute", Type: nodes.String, Required: true, MaxLength: 64,
							Help: "Custom attribute, or email, phone, timezone or locale; not external_id."},
						{Name: "expr", Title: "Value", Type: nodes.Expression, Required: true,
							Help: "Expression for the new value; null removes a custom attribute or clears a built-in field. " +
								"A built-in field takes a string: an email address, an E.164 phone number, an IANA time zone, a locale."},
					}},
			},
			Ports: []nodes.Port{out(nodes.Complete),
				{Name: "failed", Title: "Failed", IfUnconnected: nodes.Fail,
					Help: "Taken when a built-in field's value is invalid (not a time zone, an email address…); the step's reason says which. Unconnected: the run fails with that reason."}},
			Example: map[string]any{"assignments": []any{
				map[string]any{"attribute": "lead_score", "expr": "(profile.lead_score ?? 0) + 10"},
			}},
			Check: func(cfg nodes.Config) []nodes.FieldError {
				var errs []nodes.FieldError
				seen := map[string]bool{}
				for i, a := range cfg.List("assignments") {
					name := a.String("attribute")
					path := fmt.Sprintf("assignments[%d].attribute", i)
					if bad := checkAttributeName(path, name); len(bad) > 0 {
						errs = append(errs, bad...)
						continue
					}
					switch {
					case seen[name]:
						errs = append(errs, nodes.FieldError{Field: path, Message: fmt.Sprintf("attribute %q is assigned twice", name)})
					}
					seen[name] = true
				}
				return errs
			},
		},
	}
}
