package worker

// Tracker puts open and click tracking into an email's HTML for one
// delivery: links through the signed click redirect, the open pixel
// (internal/tracking.Rewriter via internal/engagement; docs/engagement.md).
// The engine calls it once the delivery has its id, just before the
// connector's Send; the delivery row keeps the HTML as rendered.
type Tracker interface {
	Track(workspaceID, deliveryID, html string) string
}
