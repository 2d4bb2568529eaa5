package profiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
)

// WithdrawAdConsent is called before a write records consent (channel →
// value, as the write gives it) for the profile externalID. When the write
// takes its ad consent away — an audience_add could upload it before the
// write and cannot after (connectors.AdConsent.MayUpload) — it queues the
// profile's removal from every ad audience of the workspace, as erasure
// does, with the identifiers stored before the write (those the platforms
// matched). It reports whether it queued one.
//
// Call it before the write: if queueing fails, nothing is written and a
// retry of the write queues the removal again.
func (s *Service) WithdrawAdConsent(ctx context.Context, workspaceID, externalID string, consent map[string]any) (bool, error) {
	if s.audiences == nil || !touchesAdConsent(consent) {
		return false, nil
	}
	p, err := s.st.GetProfileByExternalID(ctx, workspaceID, externalID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // a new profile was never uploaded
	}
	if err != nil {
		return false, err
	}
	after := maps.Clone(p.Consent)
	if after == nil {
		after = map[string]any{}
	}
	maps.Copy(after, consent)
	if p.Email == "" && p.Phone == "" || !connectors.ReadAdConsent(p.Consent).MayUpload() || connectors.ReadAdConsent(after).MayUpload() {
		return false, nil
	}
	if err := s.audiences(ctx, workspaceID, connectors.Member{ProfileID: p.ID, Email: p.Email, Phone: p.Phone}); err != nil {
		return false, fmt.Errorf("queueing removal from ad audiences: %w", err)
	}
	s.logger.Info("ad consent withdrawn: removal from ad audiences queued", slog.String("profile_id", p.ID))
	return true, nil
}

// touchesAdConsent reports whether a consent write names a key that
// decides uploads.
func touchesAdConsent(consent map[string]any) bool {
	_, ads := consent["ads"]
	_, userData := consent["ad_user_data"]
	return ads || userData
}
