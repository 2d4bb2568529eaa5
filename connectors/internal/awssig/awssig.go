// Package awssig signs HTTP requests with AWS Signature Version 4
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
// a canonical request (method, URI-encoded path, sorted query, the signed
// headers lowercased and sorted, the payload's SHA-256), a string to sign
// scoped to date/region/service, and an HMAC-SHA256 chain from the secret
// key. Only what Waymark's AWS connectors need: header signing, no
// presigned URLs, no chunked payloads. The exported pieces (CanonicalRequest,
// StringToSign, SigningKey) are what a receiver recomputes to verify.
package awssig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm is the signing algorithm's name in the Authorization header.
const Algorithm = "AWS4-HMAC-SHA256"

// TimeFormat is the X-Amz-Date format.
const TimeFormat = "20060102T150405Z"

// Credentials are an access key pair (and, for temporary credentials, a
// session token sent as X-Amz-Security-Token).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Scope is where a signature is valid: a region and a service.
type Scope struct {
	Region  string
	Service string
}

// HashHex is the lowercase hex SHA-256 of b.
func HashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// escape URI-encodes s as SigV4 wants: every byte except the unreserved
// characters A-Z a-z 0-9 - _ . ~ is %XX (uppercase hex); keepSlash leaves
// '/' as it is (paths).
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalURI is the path, each segment URI-encoded once (services other
// than S3 normalise the path; Waymark's paths have no "." segments).
func canonicalURI(u *url.URL) string {
	p := u.Path
	if p == "" {
		return "/"
	}
	return escape(p, true)
}

// canonicalQuery sorts the query's parameters by encoded name, then value.
func canonicalQuery(u *url.URL) string {
	q := u.Query()
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, escape(k, false)+"="+escape(v, false))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// canonicalHeaders returns the canonical header block and the signed
// header list for the named headers of h (host from host).
func canonicalHeaders(host string, h http.Header, names []string) (string, string) {
	lower := make([]string, 0, len(names))
	for _, n := range names {
		lower = append(lower, strings.ToLower(n))
	}
	sort.Strings(lower)
	var b strings.Builder
	for _, n := range lower {
		var vals []string
		if n == "host" {
			vals = []string{host}
		} else {
			vals = h.Values(n)
		}
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(trimmed, ","))
		b.WriteByte('\n')
	}
	return b.String(), strings.Join(lower, ";")
}

// CanonicalRequest builds the canonical request of a request to u with
// headers h, signing the named headers (host is taken from u, or from h's
// Host when set) and the payload hash.
func CanonicalRequest(method string, u *url.URL, h http.Header, signed []string, payloadHash string) (canonical, signedHeaders string) {
	host := u.Host
	if hh := h.Get("Host"); hh != "" {
		host = hh
	}
	headers, signedHeaders := canonicalHeaders(host, h, signed)
	canonical = strings.Join([]string{method, canonicalURI(u), canonicalQuery(u), headers, signedHeaders, payloadHash}, "\n")
	return canonical, signedHeaders
}

// CredentialScope is date/region/service/aws4_request.
func CredentialScope(t time.Time, s Scope) string {
	return t.UTC().Format("20060102") + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

// StringToSign is the algorithm, the time, the scope and the canonical
// request's hash.
func StringToSign(t time.Time, s Scope, canonical string) string {
	return Algorithm + "\n" + t.UTC().Format(TimeFormat) + "\n" + CredentialScope(t, s) + "\n" + HashHex([]byte(canonical))
}

// SigningKey derives the day's key: HMAC chain over date, region, service
// and "aws4_request" from "AWS4" + the secret.
func SigningKey(secret string, t time.Time, s Scope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), t.UTC().Format("20060102"))
	k = hmacSHA256(k, s.Region)
	k = hmacSHA256(k, s.Service)
	return hmacSHA256(k, "aws4_request")
}

// Signature is the hex HMAC of the string to sign with the signing key.
func Signature(secret string, t time.Time, s Scope, canonical string) string {
	return hex.EncodeToString(hmacSHA256(SigningKey(secret, t, s), StringToSign(t, s, canonical)))
}

// Sign sets X-Amz-Date (and X-Amz-Security-Token for temporary
// credentials) and the Authorization header on req, whose body is body.
// It signs host, x-amz-date, the security token and content-type when set.
func Sign(req *http.Request, body []byte, c Credentials, s Scope, now time.Time) error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("signing an AWS request: no credentials")
	}
	now = now.UTC()
	req.Header.Set("X-Amz-Date", now.Format(TimeFormat))
	signed := []string{"host", "x-amz-date"}
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
		signed = append(signed, "x-amz-security-token")
	}
	if req.Header.Get("Content-Type") != "" {
		signed = append(signed, "content-type")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	h := req.Header.Clone()
	h.Set("Host", host)
	canonical, signedHeaders := CanonicalRequest(req.Method, req.URL, h, signed, HashHex(body))
	req.Header.Set("Authorization", Algorithm+" Credential="+c.AccessKeyID+"/"+CredentialScope(now, s)+
		", SignedHeaders="+signedHeaders+", Signature="+Signature(c.SecretAccessKey, now, s, canonical))
	return nil
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the scope
	Scope         Scope
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization reads an Authorization header made by Sign (or any
// SigV4 client), for receivers that verify signatures.
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(v, Algorithm+" ")
	if !ok {
		return a, errors.New("not an " + Algorithm + " authorization")
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(val, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, errors.New("malformed credential scope")
			}
			a.AccessKeyID, a.Date, a.Scope = f[0], f[1], Scope{Region: f[2], Service: f[3]}
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(val, ";")
		case "Signature":
			a.Signature = val
		}
	}
	if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, errors.New("incomplete authorization")
	}
	return a, nil
}
