// Package pmtest has a fake that speaks Postmark's email API, and
// Postmark's documented webhook payloads, for tests.
package pmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/waymarkhq/waymark/connectors/postmark"
)

// Sent is one accepted /email request.
type Sent struct {
	Request   postmark.Email
	MessageID string
}

// API is a fake Postmark API for one server token.
type API struct {
	*httptest.Server
	Token string

	mu       sync.Mutex
	sent     []Sent
	inactive map[string]bool
	fail     *failure
	n        int
}

type failure struct {
	status, code int
	message      string
}

// NewAPI starts the fake (plain HTTP on loopback).
func NewAPI(t testing.TB, token string) *API {
	a := &API{Token: token, inactive: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// Deactivate makes the fake refuse address as Postmark refuses an
// inactive recipient (ErrorCode 406).
func (a *API) Deactivate(address string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inactive[address] = true
}

// FailNext answers the next /email with status and a Postmark error.
func (a *API) FailNext(status, code int, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = &failure{status: status, code: code, message: message}
}

// Sent returns the accepted messages.
func (a *API) Sent() []Sent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Sent(nil), a.sent...)
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "application/json" {
		answer(w, http.StatusNotAcceptable, map[string]any{"ErrorCode": 0, "Message": "Accept: application/json is required"})
		return
	}
	if r.Header.Get(postmark.HeaderToken) != a.Token {
		answer(w, http.StatusUnauthorized, map[string]any{"ErrorCode": 10, "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == postmark.ServerPath:
		answer(w, http.StatusOK, map[string]any{"ID": 1, "Name": "Staging Testing", "ApiTokens": []string{a.Token}, "Color": "red",
			"SmtpApiActivated": true, "RawEmailEnabled": false, "DeliveryType": "Live", "InboundHash": "yourhash"})
	case r.Method == http.MethodPost && r.URL.Path == postmark.SendPath:
		if r.Header.Get("Content-Type") != "application/json" {
			answer(w, http.StatusUnprocessableEntity, map[string]any{"ErrorCode": 409, "Message": "JSON data required"})
			return
		}
		var req postmark.Email
		dec := json.NewDecoder(io.LimitReader(r.Body, 10<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			answer(w, http.StatusUnprocessableEntity, map[string]any{"ErrorCode": 402, "Message": "Invalid JSON"})
			return
		}
		if req.From == "" || req.To == "" || (req.HTMLBody == "" && req.TextBody == "") {
			answer(w, http.StatusUnprocessableEntity, map[string]any{"ErrorCode": 300, "Message": "Invalid email request"})
			return
		}
		for k, v := range req.Metadata {
			if len(k) > 20 || len(v) > 80 {
				answer(w, http.StatusUnprocessableEntity, map[string]any{"ErrorCode": 300, "Message": "Metadata keys are limited to 20 characters and values to 80"})
				return
			}
		}
		a.mu.Lock()
		if a.inactive[req.To] {
			a.mu.Unlock()
			answer(w, http.StatusUnprocessableEntity, map[string]any{"ErrorCode": 406,
				"Message": "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: " + req.To + ". Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression."})
			return
		}
		if f := a.fail; f != nil {
			a.fail = nil
			a.mu.Unlock()
			answer(w, f.status, map[string]any{"ErrorCode": f.code, "Message": f.message})
			return
		}
		a.n++
		id := fmt.Sprintf("b7bc2f4a-e38e-4336-af7d-e6c3%08x", a.n)
		a.sent = append(a.sent, Sent{Request: req, MessageID: id})
		a.mu.Unlock()
		answer(w, http.StatusOK, map[string]any{"To": req.To, "SubmittedAt": "2014-02-17T07:25:01.4178645-05:00", "MessageID": id, "ErrorCode": 0, "Message": "OK"})
	default:
		answer(w, http.StatusNotFound, map[string]any{"ErrorCode": 0, "Message": "not found"})
	}
}

// DeliveryWebhook is Postmark's documented Delivery webhook payload.
func DeliveryWebhook(messageID, recipient string) []byte {
	return []byte(`{"RecordType":"Delivery","ServerID":23,"MessageStream":"outbound","MessageID":"` + messageID + `","Recipient":"` + recipient +
		`","Tag":"welcome-email","DeliveredAt":"2019-11-05T16:33:54.9070259Z","Details":"Test delivery webhook details","Metadata":{"example":"value","example_2":"value"}}`)
}

// BounceWebhook is Postmark's documented Bounce webhook payload with the
// bounce type (HardBounce, SoftBounce, Transient…).
func BounceWebhook(messageID, email, typ string, inactive bool) []byte {
	return []byte(fmt.Sprintf(`{"RecordType":"Bounce","MessageStream":"outbound","ID":4323372036854775807,"Type":%q,"TypeCode":1,"Name":"Hard bounce",`+
		`"Tag":"Test","MessageID":%q,"Metadata":{"a_key":"a_value","b_key":"b_value"},"ServerID":23,`+
		`"Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).","Details":"Test bounce details",`+
		`"Email":%q,"From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z","DumpAvailable":true,"Inactive":%t,"CanActivate":true,`+
		`"Subject":"Test subject","Content":"Return-Path:..."}`, typ, messageID, email, inactive))
}

// SpamComplaintWebhook is Postmark's documented SpamComplaint payload.
func SpamComplaintWebhook(messageID, email string) []byte {
	return []byte(`{"RecordType":"SpamComplaint","MessageStream":"outbound","ID":42,"Type":"SpamComplaint","TypeCode":100001,"Name":"Spam complaint",` +
		`"Tag":"Test","MessageID":"` + messageID + `","Metadata":{"a_key":"a_value","b_key":"b_value"},"ServerID":1234,"Description":"The subscriber explicitly marked this message as spam.",` +
		`"Details":"Test spam complaint details","Email":"` + email + `","From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z",` +
		`"DumpAvailable":true,"Inactive":true,"CanActivate":false,"Subject":"Test subject","Content":"<Abuse report dump>"}`)
}

// SubscriptionChangeWebhook is Postmark's documented SubscriptionChange
// payload.
func SubscriptionChangeWebhook(messageID, recipient string, suppress bool, reason string) []byte {
	return []byte(fmt.Sprintf(`{"RecordType":"SubscriptionChange","MessageID":%q,"ServerID":123456,"MessageStream":"outbound",`+
		`"ChangedAt":"2020-02-01T10:53:34.416071Z","Recipient":%q,"Origin":"Recipient","SuppressSending":%t,"SuppressionReason":%q,`+
		`"Tag":"my-tag","Metadata":{"example":"value","example_2":"value"}}`, messageID, recipient, suppress, reason))
}
