package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Profile is one customer.
type Profile struct {
	ID          string
	WorkspaceID string
	ExternalID  string
	Email       string
	Phone       string
	Timezone    string
	Locale      string
	Attributes  map[string]any
	Consent     map[string]any
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ErasedAt    *time.Time
}

type profileRow struct {
	ID          string
	WorkspaceID string
	ExternalID  string
	Email       string
	Phone       string
	Timezone    string
	Locale      string
	Attributes  string
	Consent     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ErasedAt    *time.Time
}

func (profileRow) TableName() string { return "profiles" }

func (r profileRow) domain() Profile {
	p := Profile{
		ID: r.ID, WorkspaceID: r.WorkspaceID, ExternalID: r.ExternalID, Email: r.Email, Phone: r.Phone,
		Timezone: r.Timezone, Locale: r.Locale, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ErasedAt: r.ErasedAt,
	}
	p.Attributes = decodeObject(r.Attributes)
	p.Consent = decodeObject(r.Consent)
	return p
}

func decodeObject(s string) map[string]any {
	m := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func encodeObject(m map[string]any) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// ProfileUpsert creates or updates a profile by external id. Nil pointer
// fields are left as they are; Attributes are merged key by key (a null
// value removes the attribute); Consent sets the status of each channel it
// names (validated by the caller: internal/profiles), recorded with Source
// and the time. Everything commits in one transaction.
type ProfileUpsert struct {
	WorkspaceID string
	ExternalID  string
	Email       *string
	Phone       *string
	Timezone    *string
	Locale      *string
	Attributes  map[string]any
	Consent     map[string]string
	// Source says who writes (api, event, import, webhook…): the consent
	// records and the profile change records keep it.
	Source string
}

// UpsertProfile creates the profile or merges the changes into it, and
// reports whether it was created.
func (s *Store) UpsertProfile(ctx context.Context, u ProfileUpsert) (Profile, bool, error) {
	var out Profile
	var created bool
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var err error
		out, created, err = s.upsertProfileTx(tx, u)
		return err
	})
	if errors.Is(err, ErrConflict) {
		// Two first-time upserts raced on the unique key: the row exists now.
		err = s.withTx(ctx, func(tx *gorm.DB) error {
			var err error
			out, created, err = s.upsertProfileTx(tx, u)
			return err
		})
	}
	return out, created, err
}

func (s *Store) upsertProfileTx(tx *gorm.DB, u ProfileUpsert) (Profile, bool, error) {
	now := s.nowUTC()
	var row profileRow
	err := tx.Clauses(lockForUpdate(s.dialect)...).Where("workspace_id = ? AND external_id = ?", u.WorkspaceID, u.ExternalID).Take(&row).Error
	created := false
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		created = true
		row = profileRow{ID: NewID(), WorkspaceID: u.WorkspaceID, ExternalID: u.ExternalID, Attributes: "{}", Consent: "{}", CreatedAt: now}
	case err != nil:
		return Profile{}, false, dbErr(err, "loading profile")
	}
	for _, f := range []struct {
		src *string
		dst *string
	}{{u.Email, &row.Email}, {u.Phone, &row.Phone}, {u.Timezone, &row.Timezone}, {u.Locale, &row.Locale}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	attrs := decodeObject(row.Attributes)
	mergeAttributes(attrs, u.Attributes)
	if row.Attributes, err = encodeObject(attrs); err != nil {
		return Profile{}, false, err
	}
	if len(u.Consent) > 0 {
		consent := decodeObject(row.Consent)
		for ch, status := range u.Consent {
			consent[ch] = consentRecord(status, u.Source, now)
		}
		if row.Consent, err = encodeObject(consent); err != nil {
			return Profile{}, false, err
		}
	}
	row.UpdatedAt = now
	if created {
		err = tx.Create(&row).Error
	} else {
		err = tx.Model(&profileRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"email": row.Email, "phone": row.Phone, "timezone": row.Timezone, "locale": row.Locale,
			"attributes": row.Attributes, "consent": row.Consent, "updated_at": now,
		}).Error
	}
	if err != nil {
		return Profile{}, false, dbErr(err, "saving profile")
	}
	return row.domain(), created, nil
}

func mergeAttributes(dst, changes map[string]any) {
	for k, v := range changes {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// GetProfile returns a profile by its internal id.
func (s *Store) GetProfile(ctx context.Context, id string) (Profile, error) {
	var row profileRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Profile{}, dbErr(err, "loading profile")
	}
	return row.domain(), nil
}

// GetProfileByExternalID returns a workspace's profile by external id.
func (s *Store) GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (Profile, error) {
	var row profileRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND external_id = ?", workspaceID, externalID).Take(&row).Error; err != nil {
		return Profile{}, dbErr(err, "loading profile "+externalID)
	}
	return row.domain(), nil
}

// consentRecord is how a channel's consent is stored: its status, who set
// it and when.
func consentRecord(status, source string, now time.Time) map[string]any {
	return map[string]any{"status": status, "source": source, "at": now.Format(time.RFC3339)}
}

// SetProfileConsent records a profile's consent for a channel (email, sms,
// ads…): status (granted, denied, revoked, unsubscribed, opted_out), its
// source and the time. Sends check it at send time.
func (s *Store) SetProfileConsent(ctx context.Context, profileID, channel, status, source string) (Profile, error) {
	var out Profile
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		var row profileRow
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("id = ?", profileID).Take(&row).Error; err != nil {
			return err
		}
		consent := decodeObject(row.Consent)
		now := s.nowUTC()
		consent[channel] = consentRecord(status, source, now)
		enc, err := encodeObject(consent)
		if err != nil {
			return err
		}
		if err := tx.Model(&profileRow{}).Where("id = ?", profileID).Updates(map[string]any{"consent": enc, "updated_at": now}).Error; err != nil {
			return err
		}
		row.Consent, row.UpdatedAt = enc, now
		out = row.domain()
		return nil
	})
	return out, dbErr(err, "setting consent")
}
