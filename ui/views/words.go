package views

import "net/url"

// Pages say statuses in words; the machine value stays in a data-status
// attribute and the tooltip (support, tests), and CSV exports and the API
// keep it as it is.

// RunStatusText says a run's status.
func RunStatusText(s string) string {
	switch s {
	case "active":
		return "Running"
	case "waiting":
		return "Waiting"
	case "waiting_event":
		return "Waiting for an event"
	case "paused":
		return "Paused"
	case "completed":
		return "Completed"
	case "exited":
		return "Exited"
	case "failed":
		return "Failed"
	}
	return s
}

// DeliveryStatusText says a message's delivery status.
func DeliveryStatusText(s string) string {
	switch s {
	case "pending":
		return "Sending"
	case "sent":
		return "Sent"
	case "delivered":
		return "Delivered"
	case "failed":
		return "Failed"
	case "unknown":
		return "Unknown (may have gone out)"
	case "suppressed":
		return "Suppressed"
	case "skipped":
		return "Skipped"
	}
	return s
}

// ImportStatusText says a profile import's status.
func ImportStatusText(s string) string {
	switch s {
	case "staged":
		return "Waiting for the column mapping"
	case "running":
		return "Importing"
	case "done":
		return "Done"
	case "failed":
		return "Failed"
	}
	return s
}

// StepOutcomeText says how a step ended, as the run timeline shows it.
func StepOutcomeText(s string) string {
	switch s {
	case "entered":
		return "Entered"
	case "ok":
		return "Done"
	case "waited":
		return "Waited"
	case "matched":
		return "The event arrived"
	case "timeout":
		return "Timed out"
	case "sent":
		return "Sent"
	case "failed":
		return "Failed"
	case "unknown":
		return "Unknown (may have gone out)"
	case "skipped":
		return "Skipped"
	case "deferred":
		return "Deferred"
	case "scheduled":
		return "Scheduled for the best time"
	case "converted":
		return "Converted"
	case "exited":
		return "Exited"
	case "completed":
		return "Completed"
	case "migrated":
		return "Moved to a new version"
	case "moved":
		return "Moved by an admin"
	}
	return s
}

// ReadsProfiles reports whether a role may open profiles (profiles:read:
// editors and admins; docs/security.md), so pages link to them.
func ReadsProfiles(role string) bool { return role == "editor" || role == "admin" }

// ProfileURL is a profile page's address: the external id
// percent-escaped as one path segment; an id that would read as another
// page under /profiles (import) has its first letter escaped too.
func ProfileURL(externalID string) string {
	seg := url.PathEscape(externalID)
	if seg == "import" {
		seg = "%69mport"
	}
	return "/profiles/" + seg
}
