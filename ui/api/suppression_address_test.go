package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestSuppressionAddressValidated: security review F12 stored an XSS
// payload as an email "address". An address a suppression could never
// match is refused with 422 naming the field.
func TestSuppressionAddressValidated(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	for _, tc := range []struct {
		name, channel, address string
		want                   string // stored address; "" = refused
	}{
		{"email", "email", "Ada@Example.com", "ada@example.com"},
		{"email with spaces around", "email", "  bob@example.com ", "bob@example.com"},
		{"email subdomain and plus", "email", "c+tag@mail.example.co.uk", "c+tag@mail.example.co.uk"},
		{"markup", "email", `"><script>window.__xss=1</script>`, ""},
		{"words", "email", "not an address", ""},
		{"display name", "email", "Ada <ada@example.com>", ""},
		{"no at", "email", "ada.example.com", ""},
		{"no domain dot", "email", "ada@localhost", ""},
		{"two addresses", "email", "a@example.com, b@example.com", ""},
		{"too long", "email", strings.Repeat("a", 250) + "@example.com", ""},
		{"phone on email", "email", "+14155550123", ""},
		{"sms", "sms", "+14155550123", "+14155550123"},
		{"sms with separators", "sms", "+1 (415) 555-0123", "+14155550123"},
		{"sms without +", "sms", "14155550123", ""},
		{"sms too short", "sms", "+1234", ""},
		{"sms letters", "sms", "+1415CALLME", ""},
		{"email on sms", "sms", "ada@example.com", ""},
		{"sms empty", "sms", "  ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Call("POST", "/api/v1/suppressions", key, []byte(fmt.Sprintf(`{"channel": %q, "address": %q}`, tc.channel, tc.address)))
			if tc.want != "" {
				require.Equal(t, 201, r.Status, string(r.Body))
				require.Equal(t, tc.want, r.JSON(t)["address"])
				return
			}
			require.Equal(t, 422, r.Status, string(r.Body))
			e := r.JSON(t)["error"].(map[string]any)
			require.Equal(t, "invalid_suppression", e["code"])
			require.Equal(t, "address", e["details"].([]any)[0].(map[string]any)["field"])
		})
	}
	sups, _, err := b.Store.ListSuppressions(b.Ctx, store.DefaultWorkspaceID, store.SuppressionFilter{Limit: 100})
	require.NoError(t, err)
	require.Len(t, sups, 4, "only the valid addresses were stored (the two phone forms are one number)")
}
