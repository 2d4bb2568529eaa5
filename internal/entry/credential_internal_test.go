package entry

import (
	"strings"
	"testing"
)

// isCredentialHeader answers as the regular expression does, for ASCII
// names in any case, long names and names with other bytes.
func TestIsCredentialHeaderMatchesTheExpression(t *testing.T) {
	t.Parallel()
	names := []string{
		"Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization", "Cookie", "Set-Cookie",
		"X-Api-Key", "X-API-KEY", "X-Auth-Token", "Webhook-Signature", "X-Hub-Signature-256", "X-Secret",
		"X-Password-Hint", "Content-Type", "X-Trace", "Webhook-Id", "Webhook-Timestamp", "User-Agent", "",
		"K", "Ke", "X-Kelvin-\u212aey", "X-\u017fecret", "Monkey", "Tokens", "X-Autho", "X-Aut",
		strings.Repeat("x", 63) + "y", strings.Repeat("x", 64), strings.Repeat("x", 65) + "Token",
		strings.Repeat("x", 70),
	}
	for _, n := range names {
		if got, want := isCredentialHeader(n), credentialHeader.MatchString(n); got != want {
			t.Errorf("isCredentialHeader(%q) = %v, the expression says %v", n, got, want)
		}
	}
	for _, n := range []string{"Authorization", "x-api-key", "X-Kelvin-\u212aey"} {
		if !isCredentialHeader(n) {
			t.Errorf("%q is a credential header", n)
		}
	}
}
