package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Purposes of one-time user links.
const (
	TokenInvite = "invite" // a new user chooses a password
	TokenReset  = "reset"  // an admin-issued password reset
)

// ErrTokenInvalid means a one-time link is unknown, used or expired.
var ErrTokenInvalid = errors.New("the link is unknown, already used or expired")

// UserToken is a one-time link for a user. ID is the SHA-256 of the token
// in the link, so a database leak does not leak usable links.
type UserToken struct {
	ID        string
	UserID    string
	Purpose   string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

type userTokenRow UserToken

func (userTokenRow) TableName() string { return "user_tokens" }

// GetWorkspaceUser returns a user of the workspace by id; users of other
// workspaces are ErrNotFound.
func (s *Store) GetWorkspaceUser(ctx context.Context, workspaceID, id string) (User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return User{}, dbErr(err, "loading user")
	}
	return row.domain(), nil
}

// SetUserRole changes a user's role and returns the user before and after.
func (s *Store) SetUserRole(ctx context.Context, workspaceID, id string, role Role) (before, after User, err error) {
	if !role.Valid() {
		return User{}, User{}, fmt.Errorf("setting role: unknown role %q", role)
	}
	return s.changeUser(ctx, workspaceID, id, map[string]any{"role": string(role)})
}

// SetUserDisabled disables (or re-enables) a user and returns the user
// before and after. Disabling also ends every session of the user, in the
// same transaction.
func (s *Store) SetUserDisabled(ctx context.Context, workspaceID, id string, disabled bool) (before, after User, err error) {
	var at any
	if disabled {
		at = s.nowUTC()
	}
	return s.changeUser(ctx, workspaceID, id, map[string]any{"disabled_at": at})
}

func (s *Store) changeUser(ctx context.Context, workspaceID, id string, fields map[string]any) (before, after User, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row userRow
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
			return err
		}
		before = row.domain()
		fields["updated_at"] = s.nowUTC()
		if err := tx.Model(&userRow{}).Where("id = ?", id).Updates(fields).Error; err != nil {
			return err
		}
		if fields["disabled_at"] != nil {
			if err := tx.Where("user_id = ?", id).Delete(&sessionRow{}).Error; err != nil {
				return err
			}
		}
		var fresh userRow
		if err := tx.Where("id = ?", id).Take(&fresh).Error; err != nil {
			return err
		}
		after = fresh.domain()
		return nil
	})
	return before, after, dbErr(err, "changing user")
}

// CountActiveAdmins counts the workspace's admins who are not disabled.
func (s *Store) CountActiveAdmins(ctx context.Context, workspaceID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&userRow{}).
		Where("workspace_id = ? AND role = ? AND disabled_at IS NULL", workspaceID, string(RoleAdmin)).Count(&n).Error
	return n, dbErr(err, "counting admins")
}

// CreateUserToken stores a one-time link's hash. Earlier unused links of
// the same user and purpose stop working: only the newest link is valid.
func (s *Store) CreateUserToken(ctx context.Context, t UserToken) (UserToken, error) {
	t.CreatedAt, t.ExpiresAt = s.nowUTC(), t.ExpiresAt.UTC()
	t.UsedAt = nil
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&userTokenRow{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, t.Purpose).
			Update("expires_at", t.CreatedAt).Error; err != nil {
			return err
		}
		row := userTokenRow(t)
		return tx.Create(&row).Error
	})
	if err != nil {
		return UserToken{}, dbErr(err, "creating user link")
	}
	return t, nil
}

// PeekUserToken returns the live (unused, unexpired) link with this hash
// and its user, without using it. Anything else is ErrTokenInvalid.
func (s *Store) PeekUserToken(ctx context.Context, id, purpose string) (UserToken, User, error) {
	var row userTokenRow
	err := s.db.WithContext(ctx).Where("id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", id, purpose, s.nowUTC()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return UserToken{}, User{}, ErrTokenInvalid
	}
	if err != nil {
		return UserToken{}, User{}, dbErr(err, "loading user link")
	}
	u, err := s.GetUser(ctx, row.UserID)
	if err != nil {
		return UserToken{}, User{}, err
	}
	if u.DisabledAt != nil {
		return UserToken{}, User{}, ErrTokenInvalid
	}
	return UserToken(row), u, nil
}

// UseUserToken spends a live link and sets the user's password hash, in
// one transaction: a link works once even under concurrent use. Every
// session of the user ends (a reset locks out whoever knew the old
// password). Anything but a live link is ErrTokenInvalid.
func (s *Store) UseUserToken(ctx context.Context, id, purpose, passwordHash string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.nowUTC()
		var row userTokenRow
		if err := tx.Where("id = ? AND purpose = ?", id, purpose).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrTokenInvalid
			}
			return err
		}
		res := tx.Model(&userTokenRow{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", id, now).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrTokenInvalid
		}
		var ur userRow
		if err := tx.Where("id = ? AND disabled_at IS NULL", row.UserID).Take(&ur).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrTokenInvalid
			}
			return err
		}
		if err := tx.Model(&userRow{}).Where("id = ?", ur.ID).Updates(map[string]any{"password_hash": passwordHash, "updated_at": now}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", ur.ID).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		ur.PasswordHash, ur.UpdatedAt = passwordHash, now
		u = ur.domain()
		return nil
	})
	if errors.Is(err, ErrTokenInvalid) {
		return User{}, err
	}
	return u, dbErr(err, "using user link")
}

// SessionView is a session with its user's email, for the admin list.
type SessionView struct {
	Session
	UserEmail string
}

// ListWorkspaceSessions lists the workspace's unexpired sessions, most
// recently active first.
func (s *Store) ListWorkspaceSessions(ctx context.Context, workspaceID string) ([]SessionView, error) {
	var rows []sessionRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND expires_at > ?", workspaceID, s.nowUTC()).
		Order("last_seen_at DESC, id").Limit(1000).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing sessions")
	}
	users, err := s.ListUsers(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	emails := make(map[string]string, len(users))
	for _, u := range users {
		emails[u.ID] = u.Email
	}
	out := make([]SessionView, len(rows))
	for i, r := range rows {
		out[i] = SessionView{Session: Session(r), UserEmail: emails[r.UserID]}
	}
	return out, nil
}

// DeleteWorkspaceSession ends one session of the workspace and returns it;
// a session of another workspace is ErrNotFound.
func (s *Store) DeleteWorkspaceSession(ctx context.Context, workspaceID, id string) (Session, error) {
	var row sessionRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Session{}, dbErr(err, "revoking session")
	}
	if err := s.db.WithContext(ctx).Where("id = ?", id).Delete(&sessionRow{}).Error; err != nil {
		return Session{}, dbErr(err, "revoking session")
	}
	return Session(row), nil
}
