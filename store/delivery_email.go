package store

import "encoding/json"

// An email's delivery keeps its HTML in Body and, when the step has one,
// its plain-text part in Payload as {"text": "…"}: a delivery is the
// message as rendered, every part of it (the Test inbox shows them; erasing
// a profile blanks the payload with the body).

type emailParts struct {
	Text string `json:"text"`
}

// EmailPayload is the payload of a send_email delivery whose plain-text
// part is text (nil without one).
func EmailPayload(text string) json.RawMessage {
	if text == "" {
		return nil
	}
	b, err := json.Marshal(emailParts{Text: text})
	if err != nil {
		return nil // a string always encodes
	}
	return b
}

// EmailText is the plain-text part of a send_email delivery ("" for other
// kinds, or an email without one).
func (d Delivery) EmailText() string {
	if d.Channel != "send_email" || len(d.Payload) == 0 {
		return ""
	}
	var p emailParts
	if json.Unmarshal(d.Payload, &p) != nil {
		return ""
	}
	return p.Text
}
