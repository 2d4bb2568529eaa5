// Package sgtest has a fake that speaks SendGrid's v3 Mail Send API and a
// signer for its Signed Event Webhook, for tests.
package sgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waymarkhq/waymark/connectors/sendgrid"
)

// Sent is one accepted Mail Send request.
type Sent struct {
	Request   sendgrid.MailSend
	MessageID string
}

// API is a fake SendGrid API for one API key.
type API struct {
	*httptest.Server
	Key string

	mu   sync.Mutex
	sent []Sent
	fail *failure
	n    int
}

type failure struct {
	status  int
	body    string
	headers map[string]string
}

// NewAPI starts the fake (plain HTTP on loopback).
func NewAPI(t testing.TB, key string) *API {
	a := &API{Key: key}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// FailNext answers the next Mail Send with status, a SendGrid error body
// and headers.
func (a *API) FailNext(status int, message string, headers map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": message, "field": nil, "help": nil}}})
	a.fail = &failure{status: status, body: string(b), headers: headers}
}

// Sent returns the accepted requests.
func (a *API) Sent() []Sent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Sent(nil), a.sent...)
}

func writeErr(w http.ResponseWriter, status int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "field": nil, "help": nil}
	if field != "" {
		e["field"] = field
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{e}})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+a.Key {
		writeErr(w, http.StatusUnauthorized, "", "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == sendgrid.ScopesPath:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"scopes":["mail.send","scopes.read","user.profile.read"]}`)
	case r.Method == http.MethodPost && r.URL.Path == sendgrid.SendPath:
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeErr(w, http.StatusUnsupportedMediaType, "", "Content-Type should be application/json.")
			return
		}
		var req sendgrid.MailSend
		dec := json.NewDecoder(io.LimitReader(r.Body, 30<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, "", "Bad Request")
			return
		}
		switch {
		case len(req.Personalizations) == 0 || len(req.Personalizations[0].To) == 0:
			writeErr(w, http.StatusBadRequest, "personalizations", "The personalizations field is required and must have at least one personalization.")
			return
		case req.From.Email == "":
			writeErr(w, http.StatusBadRequest, "from.email", "The from object must be provided for every email send.")
			return
		case req.Subject == "":
			writeErr(w, http.StatusBadRequest, "subject", "The subject is required.")
			return
		case len(req.Content) == 0:
			writeErr(w, http.StatusBadRequest, "content", "Unless a valid template_id is provided, the content parameter is required.")
			return
		case len(req.Content) > 1 && req.Content[0].Type != "text/plain":
			writeErr(w, http.StatusBadRequest, "content", "If present, text/plain must be first, followed by text/html.")
			return
		}
		a.mu.Lock()
		if f := a.fail; f != nil {
			a.fail = nil
			a.mu.Unlock()
			for k, v := range f.headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			return
		}
		a.n++
		id := fmt.Sprintf("W86EgYT6SQKk0lRflf%04d", a.n)
		a.sent = append(a.sent, Sent{Request: req, MessageID: id})
		a.mu.Unlock()
		w.Header().Set("X-Message-Id", id)
		w.WriteHeader(http.StatusAccepted)
	default:
		writeErr(w, http.StatusNotFound, "", "not found")
	}
}

// Signer signs Event Webhook batches as SendGrid does.
type Signer struct {
	key *ecdsa.PrivateKey
}

// NewSigner makes a key pair.
func NewSigner() *Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Signer{key: k}
}

// PublicKey is the verification key as SendGrid shows it (base64 DER).
func (s *Signer) PublicKey() string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Headers signs body: the signature and timestamp headers.
func (s *Signer) Headers(body []byte) map[string]string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, h.Sum(nil))
	if err != nil {
		panic(err)
	}
	return map[string]string{sendgrid.HeaderSignature: base64.StdEncoding.EncodeToString(sig), sendgrid.HeaderTimestamp: ts}
}

// Events is an Event Webhook batch in SendGrid's documented shape: one
// event of kind ("delivered", "bounce", "dropped", "spamreport",
// "unsubscribe"…) for the message, with Waymark's custom args.
func Events(kind, messageID, email, deliveryID string, extra map[string]any) []byte {
	e := map[string]any{"email": email, "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": kind,
		"category": "cat facts", "sg_event_id": "sg_event_id", "sg_message_id": messageID + ".filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
		sendgrid.ArgDeliveryID: deliveryID}
	switch kind {
	case "delivered":
		e["response"] = "250 OK"
	case "bounce":
		e["reason"], e["status"], e["type"] = "500 unknown recipient", "5.0.0", "bounce"
		e["bounce_classification"] = "Invalid Address"
	case "dropped":
		e["reason"], e["status"] = "Bounced Address", "5.0.0"
	}
	for k, v := range extra {
		e[k] = v
	}
	b, _ := json.Marshal([]any{e})
	return b
}
