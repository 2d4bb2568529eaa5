// Package sestest has fakes that speak Amazon SES's v2 API and Amazon
// SNS's HTTP delivery, for tests: an SES endpoint that verifies each
// request's Signature Version 4 signature as AWS does (recomputing the
// canonical request from what it received), and an SNS certificate and
// subscription host with its own RSA key that signs messages as SNS does.
package sestest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waymarkhq/waymark/connectors/internal/awssig"
	"github.com/waymarkhq/waymark/connectors/ses"
)

// Sent is one SendEmail call the fake accepted.
type Sent struct {
	Request   ses.SendEmailRequest
	MessageID string
	Header    http.Header
}

// SES is a fake SES v2 endpoint.
type SES struct {
	*httptest.Server
	AccessKeyID, Secret, Region string

	mu   sync.Mutex
	sent []Sent
	// Fail, when set, answers the next SendEmail calls with this status,
	// error type and message (then clears itself).
	fail *failure
	n    int
	// BadSignatures counts requests refused for their signature.
	BadSignatures int
}

type failure struct {
	status     int
	typ, msg   string
	retryAfter string
}

// NewSES starts a fake SES endpoint (plain HTTP on loopback).
func NewSES(t testing.TB, accessKeyID, secret, region string) *SES {
	f := &SES{AccessKeyID: accessKeyID, Secret: secret, Region: region}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// FailNext makes the next SendEmail answer status with an SES error.
func (f *SES) FailNext(status int, errType, message, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = &failure{status: status, typ: errType, msg: message, retryAfter: retryAfter}
}

// Sent returns the accepted messages.
func (f *SES) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sent(nil), f.sent...)
}

func (f *SES) writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazonaws.sesv2/")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// verify checks the request's SigV4 signature from what arrived.
func (f *SES) verify(r *http.Request, body []byte) string {
	a, err := awssig.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "IncompleteSignatureException"
	}
	if a.AccessKeyID != f.AccessKeyID {
		return "UnrecognizedClientException"
	}
	t, err := time.Parse(awssig.TimeFormat, r.Header.Get("X-Amz-Date"))
	if err != nil || t.Format("20060102") != a.Date || a.Scope != (awssig.Scope{Region: f.Region, Service: "ses"}) {
		return "InvalidSignatureException"
	}
	for _, need := range []string{"host", "x-amz-date"} {
		if !contains(a.SignedHeaders, need) {
			return "InvalidSignatureException"
		}
	}
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	canonical, _ := awssig.CanonicalRequest(r.Method, r.URL, h, a.SignedHeaders, awssig.HashHex(body))
	if awssig.Signature(f.Secret, t, a.Scope, canonical) != a.Signature {
		return "SignatureDoesNotMatchException"
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (f *SES) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if bad := f.verify(r, body); bad != "" {
		f.mu.Lock()
		f.BadSignatures++
		f.mu.Unlock()
		f.writeError(w, http.StatusForbidden, bad, "The request signature we calculated does not match the signature you provided.")
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == ses.AccountPath:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"DedicatedIpAutoWarmupEnabled":false,"EnforcementStatus":"HEALTHY","ProductionAccessEnabled":true,`+
			`"SendQuota":{"Max24HourSend":50000.0,"MaxSendRate":14.0,"SentLast24Hours":12.0},"SendingEnabled":true}`)
	case r.Method == http.MethodPost && r.URL.Path == ses.SendPath:
		if r.Header.Get("Content-Type") != "application/json" {
			f.writeError(w, http.StatusBadRequest, "BadRequestException", "Content-Type must be application/json")
			return
		}
		var req ses.SendEmailRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.FromEmailAddress == "" || len(req.Destination.ToAddresses) == 0 || req.Content.Simple == nil {
			f.writeError(w, http.StatusBadRequest, "BadRequestException", "1 validation error detected")
			return
		}
		f.mu.Lock()
		if fl := f.fail; fl != nil {
			f.fail = nil
			f.mu.Unlock()
			if fl.retryAfter != "" {
				w.Header().Set("Retry-After", fl.retryAfter)
			}
			f.writeError(w, fl.status, fl.typ, fl.msg)
			return
		}
		f.n++
		id := fmt.Sprintf("0100018c%08x-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", f.n)
		f.sent = append(f.sent, Sent{Request: req, MessageID: id, Header: r.Header.Clone()})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": id})
	default:
		f.writeError(w, http.StatusNotFound, "NotFoundException", "unknown operation")
	}
}

// SNS is a fake SNS host: it serves its signing certificate and answers
// subscription confirmations, and signs messages with its key.
type SNS struct {
	*httptest.Server
	key     *rsa.PrivateKey
	certPEM []byte

	mu        sync.Mutex
	confirmed []string // tokens
	certGets  int
}

// NewSNS starts the fake SNS host and trusts it as an SNS host for the
// test's duration (ses.TrustHostForTests). Give the connector
// RootCAs() so it trusts the server's TLS certificate.
func NewSNS(t testing.TB) *SNS {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := &SNS{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Cleanup(ses.TrustHostForTests(s.Host()))
	return s
}

// Host is the server's host:port.
func (s *SNS) Host() string { return strings.TrimPrefix(s.URL, "https://") }

// RootCAs trusts the server's TLS certificate.
func (s *SNS) RootCAs() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// CertURL is where the signing certificate is served.
func (s *SNS) CertURL() string {
	return s.URL + "/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
}

// Confirmed returns the tokens of confirmed subscriptions.
func (s *SNS) Confirmed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.confirmed...)
}

// CertFetches counts certificate downloads.
func (s *SNS) CertFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.certGets
}

func (s *SNS) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, ".pem"):
		s.mu.Lock()
		s.certGets++
		s.mu.Unlock()
		_, _ = w.Write(s.certPEM)
	case r.URL.Query().Get("Action") == "ConfirmSubscription":
		s.mu.Lock()
		s.confirmed = append(s.confirmed, r.URL.Query().Get("Token"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult>`+
			`<SubscriptionArn>`+r.URL.Query().Get("TopicArn")+`:c9135db0-26c4-47ec-8998-413945fb5a96</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`)
	default:
		http.NotFound(w, r)
	}
}

// Sign fills in the message's signature fields (version "1" or "2").
func (s *SNS) Sign(m *ses.SNSMessage, version string) {
	m.SignatureVersion = version
	m.SigningCertURL = s.CertURL()
	str, err := m.StringToSign()
	if err != nil {
		panic(err)
	}
	var sig []byte
	if version == "1" {
		sum := sha1.Sum([]byte(str)) //nolint:gosec // SNS SignatureVersion 1
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, sum[:])
	} else {
		sum := sha256.Sum256([]byte(str))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	}
	if err != nil {
		panic(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
}

// Notification is a signed SNS notification carrying message on topic.
func (s *SNS) Notification(topic, message, version string) []byte {
	m := ses.SNSMessage{Type: "Notification", MessageID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", TopicArn: topic, Message: message,
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), UnsubscribeURL: s.URL + "/?Action=Unsubscribe&SubscriptionArn=" + topic + ":c9135db0"}
	s.Sign(&m, version)
	b, _ := json.Marshal(m)
	return b
}

// SubscriptionConfirmation is a signed confirmation request for topic.
func (s *SNS) SubscriptionConfirmation(topic, token string) []byte {
	m := ses.SNSMessage{Type: "SubscriptionConfirmation", MessageID: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", Token: token, TopicArn: topic,
		Message:      "You have chosen to subscribe to the topic " + topic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: s.URL + "/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=" + token,
		Timestamp:    time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	s.Sign(&m, "2")
	b, _ := json.Marshal(m)
	return b
}

// BounceEvent is AWS's documented example Bounce record (event
// publishing), for messageID and recipient, bounceType Permanent or
// Transient.
func BounceEvent(messageID, recipient, bounceType string) string {
	return `{"eventType":"Bounce","bounce":{"bounceType":"` + bounceType + `","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"` + recipient +
		`","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2017-08-05T00:41:02.669Z",` +
		`"feedbackId":"01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000","reportingMTA":"dsn; mta.example.com"},` +
		`"mail":{"timestamp":"2017-08-05T00:40:02.012Z","source":"Sender Name <sender@example.com>","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",` +
		`"sendingAccountId":"123456789012","messageId":"` + messageID + `","destination":["` + recipient + `"],"headersTruncated":false,` +
		`"tags":{"ses:configuration-set":["ConfigSet"],"ses:source-ip":["192.0.2.0"],"ses:from-domain":["example.com"],"ses:caller-identity":["ses_user"]}}}`
}

// DeliveryEvent is AWS's documented example Delivery record.
func DeliveryEvent(messageID, recipient string) string {
	return `{"eventType":"Delivery","mail":{"timestamp":"2016-10-19T23:20:52.240Z","source":"sender@example.com","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",` +
		`"sendingAccountId":"123456789012","messageId":"` + messageID + `","destination":["` + recipient + `"],"headersTruncated":false,"tags":{"ses:configuration-set":["ConfigSet"]}},` +
		`"delivery":{"timestamp":"2016-10-19T23:21:04.133Z","processingTimeMillis":11893,"recipients":["` + recipient + `"],` +
		`"smtpResponse":"250 2.6.0 Message received","reportingMTA":"mta.example.com"}}`
}

// ComplaintEvent is AWS's documented example Complaint record.
func ComplaintEvent(messageID, recipient string) string {
	return `{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"` + recipient + `"}],"timestamp":"2017-08-05T00:41:02.669Z",` +
		`"feedbackId":"01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000","userAgent":"Mozilla/5.0","complaintFeedbackType":"abuse","arrivalDate":"2017-08-05T00:41:02.669Z"},` +
		`"mail":{"timestamp":"2017-08-05T00:40:01.123Z","source":"Sender Name <sender@example.com>","sendingAccountId":"123456789012","messageId":"` + messageID +
		`","destination":["` + recipient + `"],"headersTruncated":false}}`
}
