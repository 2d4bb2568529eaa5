package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// HookSample is a request to a journey's webhook trigger, kept while
// someone listens for one in the editor (internal/hooks: Listen, Capture),
// with what its sender was answered.
type HookSample struct {
	ID         string
	JourneyID  string
	ReceivedAt time.Time
	Status     int    // the HTTP status the sender got
	Code       string // the error code, if any
	Message    string
	RunID      string // the run it started, if any
	// Verified: the signature matched. An unsigned or wrongly signed
	// request keeps no body.
	Verified bool
	Body     string
	BodySize int // bytes received; Body is empty when they were too many to keep
}

type hookSampleRow HookSample

func (hookSampleRow) TableName() string { return "hook_samples" }

// ListenHook records that someone listens to a journey's hook until t (the
// latest call sets it).
func (s *Store) ListenHook(ctx context.Context, journeyID string, t time.Time) error {
	return dbErr(s.db.WithContext(ctx).Exec(`INSERT INTO hook_listens (journey_id, listen_until) VALUES (?, ?)
		ON CONFLICT (journey_id) DO UPDATE SET listen_until = excluded.listen_until`, journeyID, t.UTC()).Error, "listening to hook")
}

// HookListenUntil returns until when someone listens to a journey's hook;
// the zero time if nobody ever did.
func (s *Store) HookListenUntil(ctx context.Context, journeyID string) (time.Time, error) {
	var rows []struct{ ListenUntil time.Time }
	err := s.db.WithContext(ctx).Table("hook_listens").Select("listen_until").Where("journey_id = ?", journeyID).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return time.Time{}, dbErr(err, "loading hook listen")
	}
	return rows[0].ListenUntil, nil
}

// AddHookSample keeps a captured request. In the same transaction it
// drops the journey's samples beyond the newest keep, and every journey's
// samples received before expireBefore: samples hold personal data and
// are kept only for a while.
func (s *Store) AddHookSample(ctx context.Context, h HookSample, keep int, expireBefore time.Time) (HookSample, error) {
	if h.ID == "" {
		h.ID = NewID()
	}
	if h.ReceivedAt.IsZero() {
		h.ReceivedAt = s.nowUTC()
	}
	h.ReceivedAt = h.ReceivedAt.UTC()
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		row := hookSampleRow(h)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Where("received_at < ?", expireBefore.UTC()).Delete(&hookSampleRow{}).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM hook_samples WHERE journey_id = ? AND id NOT IN
			(SELECT id FROM hook_samples WHERE journey_id = ? ORDER BY received_at DESC, id DESC LIMIT ?)`, h.JourneyID, h.JourneyID, keep).Error
	})
	return h, dbErr(err, "storing hook sample")
}

// HookSamples returns a journey's samples received at or after since,
// newest first, at most limit.
func (s *Store) HookSamples(ctx context.Context, journeyID string, since time.Time, limit int) ([]HookSample, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var rows []hookSampleRow
	err := s.db.WithContext(ctx).Where("journey_id = ? AND received_at >= ?", journeyID, since.UTC()).
		Order("received_at DESC, id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "loading hook samples")
	}
	out := make([]HookSample, len(rows))
	for i, r := range rows {
		out[i] = HookSample(r)
	}
	return out, nil
}
