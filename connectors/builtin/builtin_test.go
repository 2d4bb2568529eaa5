package builtin_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/nodes"
	nodebuiltin "github.com/waymarkhq/waymark/nodes/builtin"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg, err := builtin.NewRegistry()
	require.NoError(t, err)
	var names []string
	for _, typ := range reg.Types() {
		names = append(names, typ.Name)
		if !typ.Builtin {
			f, ok := typ.Field(connectors.FieldRateLimit)
			require.True(t, ok, "%s gets the rate_limit field", typ.Name)
			require.Equal(t, typ.RateLimit.PerSecond, f.Default)
			require.NotNil(t, typ.Example, "%s has an example", typ.Name)
		}
	}
	require.Equal(t, []string{"sandbox", "smtp", "ses", "sendgrid", "postmark", "twilio", "webhook", "meta_audiences", "google_customer_match"}, names)
	require.True(t, reg.Serves("smtp", "send_email"))
	require.False(t, reg.Serves("smtp", "send_sms"))
	require.True(t, reg.Serves("sandbox", "audience_remove"))
	require.True(t, reg.Serves("google_customer_match", "audience_add"))
	require.False(t, reg.Serves("nope", "send_email"))
	require.Error(t, builtin.Register(reg), "registering twice fails")

	smtpType, _ := reg.Lookup("smtp")
	require.ElementsMatch(t, []string{"password", "dkim_private_key"}, smtpType.SecretFields())
}

func TestRegisterRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	ok := connectors.Type{Name: "x", Title: "X", Kinds: []string{"send_email"}, RateLimit: connectors.Rate{PerSecond: 1, Burst: 1},
		New: func(connectors.Setup) (connectors.Instance, error) { return nil, nil }}
	tests := []struct {
		name string
		edit func(*connectors.Type)
		err  string
	}{
		{"bad name", func(t *connectors.Type) { t.Name = "Bad Name" }, "snake_case"},
		{"no kinds", func(t *connectors.Type) { t.Kinds = nil }, "serves no node kind"},
		{"unknown kind", func(t *connectors.Type) { t.Kinds = []string{"send_fax"} }, "unknown node kind"},
		{"not an acting kind", func(t *connectors.Type) { t.Kinds = []string{"delay"} }, "unknown node kind"},
		{"kind of another channel", func(t *connectors.Type) { t.Channel = "sms" }, `speaks on channel "email", not "sms"`},
		{"no rate", func(t *connectors.Type) { t.RateLimit = connectors.Rate{} }, "rate limit"},
		{"no constructor", func(t *connectors.Type) { t.New = nil }, "constructor"},
		{"secret number", func(t *connectors.Type) {
			t.Fields = []nodes.Field{{Name: "n", Title: "N", Type: "integer", Secret: true}}
		}, "only text fields can be secret"},
		{"template field", func(t *connectors.Type) { t.Fields = []nodes.Field{{Name: "n", Title: "N", Type: "template"}} }, "not for connector config"},
		{"no title", func(t *connectors.Type) { t.Fields = []nodes.Field{{Name: "n", Type: "string"}} }, "title is required"},
		{"reserved", func(t *connectors.Type) { t.Fields = []nodes.Field{{Name: "rate_limit", Title: "R", Type: "number"}} }, "added to every type"},
		{"bad example", func(t *connectors.Type) {
			t.Fields = []nodes.Field{{Name: "n", Title: "N", Type: "string", Required: true}}
			t.Example = map[string]any{}
		}, "example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := ok
			tt.edit(&typ)
			err := connectors.NewRegistry().Register(typ)
			require.ErrorContains(t, err, tt.err)
		})
	}
	require.NoError(t, connectors.NewRegistry().Register(ok))
}

// TestRegistryForOtherKinds: a registry built over a node registry with a
// kind of its own lets a type serve it; the default one (built-in kinds)
// does not.
func TestRegistryForOtherKinds(t *testing.T) {
	t.Parallel()
	kinds := nodes.NewRegistry()
	require.NoError(t, nodebuiltin.Register(kinds))
	require.NoError(t, kinds.Register(nodes.Spec{
		Kind: "send_fax", Title: "Send fax", Category: nodes.Action, Acts: true,
		Fields: []nodes.Field{{Name: "connector", Title: "Connector", Type: nodes.Connector, Channel: "fax", Required: true}},
		Ports:  []nodes.Port{{Name: "out"}},
		Action: &nodes.ActionSpec{Channel: "fax", To: []nodes.ProfileField{nodes.ProfilePhone}, NoAddress: "no fax number"},
	}))
	fax := connectors.Type{Name: "faxer", Title: "Faxer", Channel: "fax", Kinds: []string{"send_fax"}, RateLimit: connectors.Rate{PerSecond: 1, Burst: 1},
		New: func(connectors.Setup) (connectors.Instance, error) { return nil, nil }}
	require.ErrorContains(t, connectors.NewRegistry().Register(fax), "unknown node kind")
	reg := connectors.NewRegistryFor(kinds)
	require.NoError(t, reg.Register(fax))
	require.True(t, reg.Serves("faxer", "send_fax"))
}
