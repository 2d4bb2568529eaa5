package web

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// adminStore is what user, session, API key and audit administration and
// sign-in throttling need.
type adminStore interface {
	ListUsers(ctx context.Context, workspaceID string) ([]store.User, error)
	GetWorkspaceUser(ctx context.Context, workspaceID, id string) (store.User, error)
	SetUserRole(ctx context.Context, workspaceID, id string, role store.Role) (store.User, store.User, error)
	SetUserDisabled(ctx context.Context, workspaceID, id string, disabled bool) (store.User, store.User, error)
	CountActiveAdmins(ctx context.Context, workspaceID string) (int64, error)
	CreateUserToken(ctx context.Context, t store.UserToken) (store.UserToken, error)
	PeekUserToken(ctx context.Context, id, purpose string) (store.UserToken, store.User, error)
	UseUserToken(ctx context.Context, id, purpose, passwordHash string) (store.User, error)

	ListWorkspaceSessions(ctx context.Context, workspaceID string) ([]store.SessionView, error)
	DeleteWorkspaceSession(ctx context.Context, workspaceID, id string) (store.Session, error)

	CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error)
	ListAPIKeys(ctx context.Context, workspaceID string) ([]store.APIKey, error)
	RevokeAPIKey(ctx context.Context, workspaceID, id string) error

	QueryAudit(ctx context.Context, workspaceID string, q store.AuditQuery) ([]store.AuditEntry, error)
	EachAudit(ctx context.Context, workspaceID string, q store.AuditQuery, fn func(store.AuditEntry) error) error

	loginStore // sign-in throttling (auth_throttle.go)
}

// Lifetimes of one-time links.
const (
	inviteTTL = 7 * 24 * time.Hour
	resetTTL  = 24 * time.Hour
)

var roleNames = []string{string(store.RoleViewer), string(store.RoleEditor), string(store.RoleAdmin)}

func userStatus(u store.User) string {
	switch {
	case u.DisabledAt != nil:
		return "disabled"
	case u.PasswordHash == "":
		return "invited"
	}
	return "active"
}

// userSummary is a user as the audit log records it: no password hash.
func userSummary(u store.User) map[string]any {
	return map[string]any{"email": u.Email, "role": string(u.Role), "status": userStatus(u)}
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (h *Handler) renderUsers(c *fiber.Ctx, status int, st views.UsersPage) error {
	me, _ := httpkit.User(c)
	users, err := h.store.ListUsers(c.UserContext(), me.WorkspaceID)
	if err != nil {
		return err
	}
	for _, u := range users {
		st.Rows = append(st.Rows, views.UserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role),
			Status: userStatus(u), LastLogin: fmtTime(u.LastLoginAt), Self: u.ID == me.ID})
	}
	st.Roles = roleNames
	if st.InviteRole == "" {
		st.InviteRole = string(store.RoleViewer)
	}
	if st.Errors == nil {
		st.Errors = views.FieldErrors{}
	}
	return h.renderStatus(c, status, views.Users(h.page(c, "Users"), st))
}

func (h *Handler) usersPage(c *fiber.Ctx) error {
	return h.renderUsers(c, fiber.StatusOK, views.UsersPage{})
}

// linkURL makes an absolute one-time link when the public origin is known.
func (h *Handler) linkURL(c *fiber.Ctx, path string) string {
	base := h.cfg.TrustedOrigin
	if base == "" {
		base = c.Protocol() + "://" + string(c.Request().Host())
	}
	return strings.TrimSuffix(base, "/") + path
}

func (h *Handler) issueLink(c *fiber.Ctx, u store.User, purpose string, ttl time.Duration) (string, error) {
	me, _ := httpkit.User(c)
	tok := auth.Token(32)
	_, err := h.store.CreateUserToken(c.UserContext(), store.UserToken{
		ID: auth.HashToken(tok), UserID: u.ID, Purpose: purpose, CreatedBy: me.ID, ExpiresAt: h.cfg.Now().Add(ttl),
	})
	if err != nil {
		return "", err
	}
	return h.linkURL(c, "/"+purpose+"/"+tok), nil
}

// userInvite: POST /users/invite {email, role} — creates the user without a
// password and shows a one-time link to choose one.
func (h *Handler) userInvite(c *fiber.Ctx) error {
	me, _ := httpkit.User(c)
	st := views.UsersPage{InviteEmail: strings.TrimSpace(c.FormValue("email")), InviteRole: c.FormValue("role"), Errors: views.FieldErrors{}}
	if a, err := mail.ParseAddress(st.InviteEmail); err != nil || a.Address != st.InviteEmail || len(st.InviteEmail) > 254 {
		st.Errors["email"] = "Enter a valid email address."
	}
	role := store.Role(st.InviteRole)
	if !role.Valid() {
		st.Errors["role"] = "Choose viewer, editor or admin."
	}
	if len(st.Errors) > 0 {
		return h.renderUsers(c, fiber.StatusUnprocessableEntity, st)
	}
	u, err := h.store.CreateUser(c.UserContext(), store.User{WorkspaceID: me.WorkspaceID, Email: st.InviteEmail, Name: st.InviteEmail, Role: role})
	if errors.Is(err, store.ErrConflict) {
		st.Errors["email"] = "A user with this email already exists."
		return h.renderUsers(c, fiber.StatusUnprocessableEntity, st)
	}
	if err != nil {
		return err
	}
	link, err := h.issueLink(c, u, store.TokenInvite, inviteTTL)
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "user.invite", "user", u.ID, map[string]any{"after": userSummary(u), "link_expires_in": inviteTTL.String()}); err != nil {
		return err
	}
	return h.renderUsers(c, fiber.StatusOK, views.UsersPage{LinkFor: u.Email, LinkKind: "Invitation", Link: link})
}

// adminTarget loads the user an admin action is about, refusing actions on
// oneself (an admin cannot demote, disable or reset themselves here).
func (h *Handler) adminTarget(c *fiber.Ctx) (store.User, error) {
	me, _ := httpkit.User(c)
	u, err := h.store.GetWorkspaceUser(c.UserContext(), me.WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, httpkit.NotFound("user")
	}
	if err != nil {
		return store.User{}, err
	}
	if u.ID == me.ID {
		return store.User{}, httpkit.NewError(fiber.StatusForbidden, "self_change", "you cannot change your own role, status or password here; ask another admin")
	}
	return u, nil
}

// keepsAnAdmin refuses a change that would leave the workspace without an
// active admin.
func (h *Handler) keepsAnAdmin(c *fiber.Ctx, u store.User) error {
	if u.Role != store.RoleAdmin || u.DisabledAt != nil {
		return nil
	}
	n, err := h.store.CountActiveAdmins(c.UserContext(), u.WorkspaceID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return httpkit.NewError(fiber.StatusConflict, "last_admin", "%s is the last active admin; make someone else admin first", u.Email)
	}
	return nil
}

// userSetRole: POST /users/{id}/role {role}.
func (h *Handler) userSetRole(c *fiber.Ctx) error {
	u, err := h.adminTarget(c)
	if err != nil {
		return err
	}
	role := store.Role(c.FormValue("role"))
	if !role.Valid() {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_field", Message: "role: choose viewer, editor or admin",
			Details: []httpkit.Detail{{Field: "role", Message: "choose viewer, editor or admin"}}}
	}
	if role == u.Role {
		return c.Redirect("/users", fiber.StatusSeeOther)
	}
	if role != store.RoleAdmin {
		if err := h.keepsAnAdmin(c, u); err != nil {
			return err
		}
	}
	before, after, err := h.store.SetUserRole(c.UserContext(), u.WorkspaceID, u.ID, role)
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "user.role_change", "user", u.ID, map[string]any{"before": userSummary(before), "after": userSummary(after)}); err != nil {
		return err
	}
	return c.Redirect("/users", fiber.StatusSeeOther)
}

// userSetDisabled: POST /users/{id}/disable|enable. Disabling ends every
// session of the user at once.
func (h *Handler) userSetDisabled(disabled bool) fiber.Handler {
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return func(c *fiber.Ctx) error {
		u, err := h.adminTarget(c)
		if err != nil {
			return err
		}
		if disabled {
			if err := h.keepsAnAdmin(c, u); err != nil {
				return err
			}
		}
		before, after, err := h.store.SetUserDisabled(c.UserContext(), u.WorkspaceID, u.ID, disabled)
		if err != nil {
			return err
		}
		if err := httpkit.Audit(c, h.store, action, "user", u.ID, map[string]any{"before": userSummary(before), "after": userSummary(after)}); err != nil {
			return err
		}
		return c.Redirect("/users", fiber.StatusSeeOther)
	}
}

// userReset: POST /users/{id}/reset — a one-time password reset link. The
// old password keeps working until the link is used.
func (h *Handler) userReset(c *fiber.Ctx) error {
	u, err := h.adminTarget(c)
	if err != nil {
		return err
	}
	if u.DisabledAt != nil {
		return httpkit.NewError(fiber.StatusConflict, "user_disabled", "%s is disabled; enable the user first", u.Email)
	}
	link, err := h.issueLink(c, u, store.TokenReset, resetTTL)
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "user.password_reset_link", "user", u.ID, map[string]any{"email": u.Email, "link_expires_in": resetTTL.String()}); err != nil {
		return err
	}
	return h.renderUsers(c, fiber.StatusOK, views.UsersPage{LinkFor: u.Email, LinkKind: "Password reset", Link: link})
}

func linkTitle(purpose string) string {
	if purpose == store.TokenInvite {
		return "Accept your invitation"
	}
	return "Reset your password"
}

// tokenForm: GET /invite/{token}, /reset/{token}.
func (h *Handler) tokenForm(purpose string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		_, u, err := h.store.PeekUserToken(c.UserContext(), auth.HashToken(c.Params("token")), purpose)
		if errors.Is(err, store.ErrTokenInvalid) {
			return httpkit.NotFound("link (it was already used, has expired, or is wrong)")
		}
		if err != nil {
			return err
		}
		c.Set("Referrer-Policy", "no-referrer") // the token is in the URL
		return render(c, views.PasswordPage(h.page(c, linkTitle(purpose)), views.PasswordForm{
			Action: "/" + purpose + "/" + c.Params("token"), Title: linkTitle(purpose), Email: u.Email, Errors: views.FieldErrors{}}))
	}
}

// tokenAccept: POST /invite/{token}, /reset/{token} {password, password_confirm}.
func (h *Handler) tokenAccept(purpose string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := auth.HashToken(c.Params("token"))
		_, u, err := h.store.PeekUserToken(c.UserContext(), id, purpose)
		if errors.Is(err, store.ErrTokenInvalid) {
			return httpkit.NotFound("link (it was already used, has expired, or is wrong)")
		}
		if err != nil {
			return err
		}
		f := views.PasswordForm{Action: "/" + purpose + "/" + c.Params("token"), Title: linkTitle(purpose), Email: u.Email, Errors: views.FieldErrors{}}
		pw := c.FormValue("password")
		if err := auth.CheckPassword(pw); err != nil {
			f.Errors["password"] = strings.ToUpper(err.Error()[:1]) + err.Error()[1:] + "."
		} else if c.FormValue("password_confirm") != pw {
			f.Errors["password_confirm"] = "The two passwords differ."
		}
		if len(f.Errors) > 0 {
			c.Set("Referrer-Policy", "no-referrer")
			return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.PasswordPage(h.page(c, f.Title), f))
		}
		hash, err := h.passwords.Hash(c.UserContext(), pw)
		if hashBusy(c, err) {
			f.Errors["password"] = hashBusyMessage
			c.Set("Referrer-Policy", "no-referrer")
			return h.renderStatus(c, fiber.StatusServiceUnavailable, views.PasswordPage(h.page(c, f.Title), f))
		}
		if err != nil {
			return err
		}
		u, err = h.store.UseUserToken(c.UserContext(), id, purpose, hash)
		if errors.Is(err, store.ErrTokenInvalid) {
			return httpkit.NotFound("link (it was already used, has expired, or is wrong)")
		}
		if err != nil {
			return err
		}
		if _, err := h.store.AppendAudit(c.UserContext(), store.AuditEntry{WorkspaceID: u.WorkspaceID, ActorType: "user", ActorID: u.ID,
			Action: "user.password_set", TargetType: "user", TargetID: u.ID, Summary: map[string]any{"via": purpose}, IP: c.IP()}); err != nil {
			return err
		}
		if err := h.startSession(c, u); err != nil {
			return err
		}
		return c.Redirect("/journeys", fiber.StatusSeeOther)
	}
}
