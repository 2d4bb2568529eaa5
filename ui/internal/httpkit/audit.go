package httpkit

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
)

// AuditStore appends to the audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// Audit records a change made by the request's actor: the signed-in user,
// else the API key.
func Audit(c *fiber.Ctx, st AuditStore, action, targetType, targetID string, summary map[string]any) error {
	e := AuditActor(c)
	e.Action, e.TargetType, e.TargetID, e.Summary = action, targetType, targetID, summary
	_, err := st.AppendAudit(c.UserContext(), *e)
	return err
}

// AuditActor is the actor of an audit entry (the API key or the signed-in
// user), for entries written inside a store transaction.
func AuditActor(c *fiber.Ctx) *store.AuditEntry {
	k := APIKey(c)
	e := &store.AuditEntry{WorkspaceID: k.WorkspaceID, ActorType: "api_key", ActorID: k.ID, IP: c.IP()}
	if u, ok := User(c); ok {
		e.WorkspaceID, e.ActorType, e.ActorID = u.WorkspaceID, "user", u.ID
	}
	return e
}
