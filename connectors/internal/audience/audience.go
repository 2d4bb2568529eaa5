// Package audience holds what the ad-platform connectors share: identifier
// normalisation and hashing per platform rules, batching. (Consent is
// connectors.ReadAdConsent: the engine applies the same rule.)
package audience

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/waymarkhq/waymark/connectors"
)

// Hash is the lowercase hex SHA-256 both platforms want.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// MetaEmail normalises an email for Meta: trimmed, lowercased.
func MetaEmail(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	if !strings.Contains(e, "@") {
		return ""
	}
	return e
}

// MetaPhone normalises a phone number for Meta: digits only, with the
// country code, without '+' or leading zeros. Only E.164 input ('+' and
// country code) is used: without it the country is a guess.
func MetaPhone(p string) string {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "+") {
		return ""
	}
	d := digits(p)
	d = strings.TrimLeft(d, "0")
	if len(d) < 8 || len(d) > 15 {
		return ""
	}
	return d
}

// GoogleEmail normalises an email for Google Customer Match: trimmed,
// lowercased, and for gmail.com and googlemail.com without the dots
// before the '@'.
func GoogleEmail(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" {
		return ""
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// GooglePhone normalises a phone number for Google: E.164 with '+'.
func GooglePhone(p string) string {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "+") {
		return ""
	}
	d := strings.TrimLeft(digits(p), "0")
	if len(d) < 8 || len(d) > 15 {
		return ""
	}
	return "+" + d
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Batches splits n items into consecutive [start, end) ranges of at most size.
func Batches(n, size int) [][2]int {
	var out [][2]int
	for i := 0; i < n; i += size {
		out = append(out, [2]int{i, min(i+size, n)})
	}
	return out
}

// FromMessage turns an audience message into a member.
func FromMessage(m connectors.Message) connectors.Member {
	return connectors.Member{ProfileID: m.ProfileID, Email: m.Email, Phone: m.Phone, Consent: m.Consent}
}
