package store

import (
	"context"
	"fmt"
)

// SealedHookSecret is one journey webhook signing secret as key management
// sees it (the start-up key check, `waymark secrets check` and `rotate`):
// the sealed value and the journey it belongs to, so a value that does not
// open can be named.
type SealedHookSecret struct {
	ID          string
	WorkspaceID string
	JourneyID   string
	JourneyName string
	Sealed      string // JSON of the sealed value
}

// ListSealedHookSecrets returns the hook secrets of every workspace that
// are valid now (expired ones are never opened again), by journey, oldest
// first.
func (s *Store) ListSealedHookSecrets(ctx context.Context) ([]SealedHookSecret, error) {
	var out []SealedHookSecret
	err := s.db.WithContext(ctx).Table("journey_hook_secrets AS hs").
		Select("hs.id AS id, j.workspace_id AS workspace_id, hs.journey_id AS journey_id, j.name AS journey_name, hs.sealed AS sealed").
		Joins("JOIN journeys j ON j.id = hs.journey_id").
		Where("hs.expires_at IS NULL OR hs.expires_at > ?", s.nowUTC()).
		Order("hs.journey_id, hs.created_at, hs.id").Scan(&out).Error
	return out, dbErr(err, "listing hook secrets")
}

// ReplaceSealedHookSecret swaps one hook secret's sealed value if it is
// still old (compare-and-swap, for key rotation running beside other
// writers). A changed or deleted row is ErrConflict.
func (s *Store) ReplaceSealedHookSecret(ctx context.Context, id, old, updated string) error {
	res := s.db.WithContext(ctx).Model(&hookSecretRow{}).Where("id = ? AND sealed = ?", id, old).Update("sealed", updated)
	if res.Error != nil {
		return dbErr(res.Error, "replacing hook secret "+id)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("hook secret %s changed during rotation: %w", id, ErrConflict)
	}
	return nil
}
