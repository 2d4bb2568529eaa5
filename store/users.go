package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// DefaultWorkspaceID is the workspace every single-tenant install uses.
const DefaultWorkspaceID = "default"

// Workspace is a tenant: every row belongs to one.
type Workspace struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

type workspaceRow Workspace

func (workspaceRow) TableName() string { return "workspaces" }

// EnsureWorkspace creates the workspace if it does not exist and returns it.
func (s *Store) EnsureWorkspace(ctx context.Context, id, name string) (Workspace, error) {
	row := workspaceRow{ID: id, Name: name, CreatedAt: s.nowUTC()}
	err := s.db.WithContext(ctx).Where(workspaceRow{ID: id}).FirstOrCreate(&row).Error
	if err != nil {
		return Workspace{}, dbErr(err, "ensuring workspace")
	}
	return Workspace(row), nil
}

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleAdmin  Role = "admin"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleEditor || r == RoleViewer }

// User is a person who signs in to the UI.
type User struct {
	ID           string
	WorkspaceID  string
	Email        string
	Name         string
	PasswordHash string
	Role         Role
	DisabledAt   *time.Time
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type userRow User

func (userRow) TableName() string { return "users" }

func (r userRow) domain() User { return User(r) }

// NormalizeEmail lower-cases and trims an address for lookups.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts a user; a taken email is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	now := s.nowUTC()
	row := userRow{
		ID: NewID(), WorkspaceID: u.WorkspaceID, Email: NormalizeEmail(u.Email), Name: u.Name,
		PasswordHash: u.PasswordHash, Role: u.Role, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return User{}, dbErr(err, "creating user")
	}
	return row.domain(), nil
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return User{}, dbErr(err, "loading user")
	}
	return row.domain(), nil
}

// GetUserByEmail returns a user by (case-insensitive) email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Take(&row).Error; err != nil {
		return User{}, dbErr(err, "loading user")
	}
	return row.domain(), nil
}

// ListUsers returns a workspace's users by email.
func (s *Store) ListUsers(ctx context.Context, workspaceID string) ([]User, error) {
	var rows []userRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("email").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing users")
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// CountUsers counts users in every workspace; zero means first run.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&userRow{}).Count(&n).Error; err != nil {
		return 0, dbErr(err, "counting users")
	}
	return n, nil
}

// SetUserPassword replaces a user's password hash.
func (s *Store) SetUserPassword(ctx context.Context, id, hash string) error {
	return s.updateUser(ctx, id, map[string]any{"password_hash": hash})
}

// RecordLogin stamps a successful sign-in.
func (s *Store) RecordLogin(ctx context.Context, id string) error {
	return s.updateUser(ctx, id, map[string]any{"last_login_at": s.nowUTC()})
}

func (s *Store) updateUser(ctx context.Context, id string, fields map[string]any) error {
	fields["updated_at"] = s.nowUTC()
	res := s.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).Updates(fields)
	if res.Error != nil {
		return dbErr(res.Error, "updating user")
	}
	if res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "updating user")
	}
	return nil
}
