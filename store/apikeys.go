package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIKey is a credential for /api/v1. Only its SHA-256 hash is stored; the
// key itself is shown once when created.
type APIKey struct {
	ID          string
	WorkspaceID string
	Name        string
	Prefix      string
	KeyHash     string
	Scopes      []string
	CreatedBy   string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
}

// HasScope reports whether the key carries scope (or admin, which implies all).
func (k APIKey) HasScope(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope || s == "admin" {
			return true
		}
	}
	return false
}

// Usable reports whether the key is neither revoked nor expired at t.
func (k APIKey) Usable(t time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

type apiKeyRow struct {
	ID          string
	WorkspaceID string
	Name        string
	Prefix      string
	KeyHash     string
	Scopes      string
	CreatedBy   string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
}

func (apiKeyRow) TableName() string { return "api_keys" }

func (r apiKeyRow) domain() APIKey {
	return APIKey{
		ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Prefix: r.Prefix, KeyHash: r.KeyHash,
		Scopes: strings.Fields(r.Scopes), CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt,
	}
}

// CreateAPIKey stores a key's hash and metadata.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	row := apiKeyRow{
		ID: NewID(), WorkspaceID: k.WorkspaceID, Name: k.Name, Prefix: k.Prefix, KeyHash: k.KeyHash,
		Scopes: strings.Join(k.Scopes, " "), CreatedBy: k.CreatedBy, CreatedAt: s.nowUTC(), ExpiresAt: k.ExpiresAt,
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return APIKey{}, dbErr(err, "creating API key")
	}
	return row.domain(), nil
}

// GetAPIKeyByHash finds a key by the hash of the presented secret, revoked or not.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	var row apiKeyRow
	if err := s.db.WithContext(ctx).Where("key_hash = ?", hash).Take(&row).Error; err != nil {
		return APIKey{}, dbErr(err, "loading API key")
	}
	return row.domain(), nil
}

// ListAPIKeys lists a workspace's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, workspaceID string) ([]APIKey, error) {
	var rows []apiKeyRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing API keys")
	}
	out := make([]APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RevokeAPIKey revokes a key of the workspace; revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, workspaceID, id string) error {
	var row apiKeyRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error
	if err != nil {
		return dbErr(err, "revoking API key")
	}
	if row.RevokedAt != nil {
		return nil
	}
	err = s.db.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ?", id).Update("revoked_at", s.nowUTC()).Error
	return dbErr(err, "revoking API key")
}

// TouchAPIKey records that a key was used.
func (s *Store) TouchAPIKey(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ?", id).Update("last_used_at", s.nowUTC())
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "touching API key")
	}
	return dbErr(res.Error, "touching API key")
}
