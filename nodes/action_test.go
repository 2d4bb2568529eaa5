package nodes_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
)

// pushLike is an acting kind declared entirely by its spec.
func pushLike() nodes.Spec {
	return nodes.Spec{
		Kind: "send_push", Title: "Send push", Category: nodes.Action, Acts: true, DefaultPort: "out",
		Fields: []nodes.Field{
			{Name: "connector", Title: "Connector", Type: nodes.Connector, Channel: "push", Required: true},
			{Name: "heading", Title: "Heading", Type: nodes.Template, Required: true},
			{Name: "body", Title: "Body", Type: nodes.Template},
		},
		Ports: []nodes.Port{{Name: "out", IfUnconnected: nodes.Complete}, {Name: "failed", IfUnconnected: nodes.Fail}},
		Action: &nodes.ActionSpec{
			Channel: "push", To: []nodes.ProfileField{nodes.ProfilePhone}, NoAddress: "no device",
			Message: []nodes.MessageField{{Part: nodes.PartSubject, Field: "heading"}, {Part: nodes.PartText, Field: "body"}},
			Policy:  nodes.Policy{QuietHours: true, FrequencyCap: true, Consent: nodes.ChannelConsent},
			Test:    &nodes.TestSend{To: nodes.ProfilePhone, Mark: nodes.PartSubject},
		},
	}
}

func TestActionSpec(t *testing.T) {
	t.Parallel()
	require.NoError(t, nodes.NewRegistry().Register(pushLike()))
	s := pushLike()
	require.True(t, s.Action.HasPart(nodes.PartText))
	require.False(t, s.Action.HasPart(nodes.PartHTML))
	require.Equal(t, "Email address", nodes.ProfileEmail.Title())

	tests := []struct {
		name string
		mod  func(*nodes.Spec)
		want string
	}{
		{"acts without action", func(s *nodes.Spec) { s.Action = nil }, "declares its action"},
		{"action without acts", func(s *nodes.Spec) { s.Acts = false }, "needs category action and acts"},
		{"flow category", func(s *nodes.Spec) { s.Category = nodes.Flow }, "needs category action"},
		{"bad channel", func(s *nodes.Spec) { s.Action.Channel = "Push!" }, "invalid channel"},
		{"connector of another channel", func(s *nodes.Spec) { s.Fields[0].Channel = "sms" }, "connector field"},
		{"no recipient", func(s *nodes.Spec) { s.Action.To = nil }, "names no profile field"},
		{"unknown recipient", func(s *nodes.Spec) { s.Action.To = []nodes.ProfileField{"device"} }, "unknown profile field"},
		{"no address reason", func(s *nodes.Spec) { s.Action.NoAddress = "" }, "no_address is required"},
		{"unknown part", func(s *nodes.Spec) { s.Action.Message[0].Part = "footer" }, "unknown message part"},
		{"part twice", func(s *nodes.Spec) { s.Action.Message[1].Part = nodes.PartSubject }, "twice"},
		{"part from a non-template", func(s *nodes.Spec) { s.Action.Message[0].Field = "connector" }, "not a template field"},
		{"unknown consent", func(s *nodes.Spec) { s.Action.Policy.Consent = "maybe" }, "unknown consent"},
		{"test to another field", func(s *nodes.Spec) { s.Action.Test.To = nodes.ProfileEmail }, "which the action does not"},
		{"test to the external id", func(s *nodes.Spec) { s.Action.Test.To = nodes.ProfileExternalID }, "cannot go to"},
		{"test marks a missing part", func(s *nodes.Spec) { s.Action.Test.Mark = nodes.PartHTML }, "does not have"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := pushLike()
			a := *s.Action
			a.Message = append([]nodes.MessageField(nil), a.Message...)
			test := *a.Test
			a.Test = &test
			s.Action = &a
			s.Fields = append([]nodes.Field(nil), s.Fields...)
			tt.mod(&s)
			require.ErrorContains(t, nodes.NewRegistry().Register(s), tt.want)
		})
	}
}
