package api

import (
	"net/mail"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// e164 is a phone number in E.164 form, as profiles store them.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// checkSuppressionAddress refuses an address a suppression could never
// match (security review F12: any string was accepted as an "address"):
// for email, an address as profiles accept it (a bare address with a dot,
// no display name); for sms, an E.164 number, after the spaces, dashes,
// dots and brackets suppressions ignore are taken out. The answer is 422
// invalid_suppression naming the field.
func checkSuppressionAddress(channel, address string) error {
	a := strings.TrimSpace(address)
	bad := func(msg string) error {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_suppression", Message: "address: " + msg,
			Details: []httpkit.Detail{{Field: "address", Message: msg}}}
	}
	if a == "" || len(a) > 320 {
		return bad("required, at most 320 characters")
	}
	switch channel {
	case store.SuppressEmail:
		p, err := mail.ParseAddress(a)
		if err != nil || p.Address != a || !strings.Contains(a, "@") || !strings.Contains(a, ".") || len(a) > 254 {
			return bad("not an email address (want a bare address such as ada@example.com)")
		}
	case store.SuppressSMS:
		if !e164.MatchString(store.NormalizeAddress(store.SuppressSMS, a)) {
			return bad("not a phone number in E.164 form (such as +14155550123)")
		}
	}
	return nil
}
