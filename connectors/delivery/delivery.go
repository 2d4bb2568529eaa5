// Package delivery is the vocabulary connectors and the store share about
// what happens to a message: delivery statuses, and the suppressions that
// stop one. It imports nothing, so a connector provider can speak it
// without linking the store (package store re-exports these names).
package delivery

// Statuses of a delivery.
const (
	Pending    = "pending"    // written before the connector is called
	Sent       = "sent"       // the provider accepted it
	Delivered  = "delivered"  // final success (sandbox, delivery receipts)
	Failed     = "failed"     // permanent failure, reason in the error
	Unknown    = "unknown"    // may or may not have gone out; never re-sent blindly
	Suppressed = "suppressed" // suppression list or consent stopped it
	Skipped    = "skipped"    // frequency cap or other policy
)

// Suppression channels: the address kinds a suppression applies to.
const (
	SuppressEmail = "email"
	SuppressSMS   = "sms"
)

// Suppression reasons.
const (
	ReasonUnsubscribed = "unsubscribed" // List-Unsubscribe, /u/{token}
	ReasonHardBounce   = "hard_bounce"  // permanent SMTP rejection of the address
	ReasonStop         = "stop"         // SMS STOP reply (Twilio 21610)
	ReasonComplaint    = "complaint"    // spam complaint
	ReasonManual       = "manual"       // added by an admin
)
