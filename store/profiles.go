package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
	before := row
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
	changes := diffProfile(before, row, u.Attributes)
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
	if err := recordChange(tx, row, changes, ChangeSource{Source: u.Source}, now); err != nil {
		return Profile{}, false, err
	}
	return row.domain(), created, nil
}

// ProfileUpdate is what a journey's update_profile step writes, committed
// with the step (RunUpdate): built-in fields (email, phone, timezone,
// locale; validated by the engine, "" clears one) and custom attributes
// (a nil value removes one).
type ProfileUpdate struct {
	Fields     map[string]string
	Attributes map[string]any
}

// Empty reports whether the update changes nothing.
func (u ProfileUpdate) Empty() bool { return len(u.Fields) == 0 && len(u.Attributes) == 0 }

// updateProfileTx applies a journey's update to a profile under a row
// lock and records the change.
func updateProfileTx(tx *gorm.DB, dialect, profileID string, u ProfileUpdate, src ChangeSource, now time.Time) error {
	var row profileRow
	if err := tx.Clauses(lockForUpdate(dialect)...).Where("id = ?", profileID).Take(&row).Error; err != nil {
		return err
	}
	before := row
	set := map[string]any{"updated_at": now}
	for name, v := range u.Fields {
		dst := builtinField(&row, name)
		if dst == nil {
			return fmt.Errorf("updating profile: %q is not a built-in field", name)
		}
		*dst = v
		set[name] = v
	}
	if len(u.Attributes) > 0 {
		attrs := decodeObject(row.Attributes)
		mergeAttributes(attrs, u.Attributes)
		enc, err := encodeObject(attrs)
		if err != nil {
			return err
		}
		row.Attributes = enc
		set["attributes"] = enc
	}
	if err := tx.Model(&profileRow{}).Where("id = ?", profileID).Updates(set).Error; err != nil {
		return err
	}
	return recordChange(tx, row, diffProfile(before, row, u.Attributes), src, now)
}

func builtinField(r *profileRow, name string) *string {
	switch name {
	case "email":
		return &r.Email
	case "phone":
		return &r.Phone
	case "timezone":
		return &r.Timezone
	case "locale":
		return &r.Locale
	}
	return nil
}

// ValueChange is one field's or attribute's value before and after a
// write; nil is absent (an empty built-in field, a removed attribute).
type ValueChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ChangeSource says who made a profile change.
type ChangeSource struct {
	// Source is api, event, import, webhook, journey, simulation… ("" when
	// the writer does not say).
	Source string
	// JourneyID and RunID name the update_profile step that made it.
	JourneyID string
	RunID     string
	// Depth counts the attribute-triggered entries that led to the
	// change: 0 for a write from outside; a run entered by a change of
	// depth n makes changes of depth n+1.
	Depth int
}

// ProfileChange is an accepted profile write that changed fields or
// attributes, recorded in the write's transaction. Attribute triggers
// consume it (worker) and delete it once handled.
type ProfileChange struct {
	ID          int64
	WorkspaceID string
	ProfileID   string
	ChangeSource
	// Changes maps each changed built-in field (email, phone, timezone,
	// locale) or custom attribute to its old and new value.
	Changes   map[string]ValueChange
	CreatedAt time.Time
}

type profileChangeRow struct {
	ID          int64 `gorm:"primaryKey"`
	WorkspaceID string
	ProfileID   string
	Source      string
	JourneyID   string
	RunID       string
	Depth       int
	Changes     string
	CreatedAt   time.Time
}

func (profileChangeRow) TableName() string { return "profile_changes" }

func (r profileChangeRow) domain() ProfileChange {
	c := ProfileChange{ID: r.ID, WorkspaceID: r.WorkspaceID, ProfileID: r.ProfileID, CreatedAt: r.CreatedAt.UTC(),
		ChangeSource: ChangeSource{Source: r.Source, JourneyID: r.JourneyID, RunID: r.RunID, Depth: r.Depth}}
	_ = json.Unmarshal([]byte(r.Changes), &c.Changes) // written by recordChange: always an object
	return c
}

// diffProfile lists what a write changed: the built-in fields whose value
// differs, and the attributes it named (touched) whose value differs, as
// stored (JSON).
func diffProfile(before, after profileRow, touched map[string]any) map[string]ValueChange {
	out := map[string]ValueChange{}
	field := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	for _, f := range []struct {
		name     string
		old, new string
	}{{"email", before.Email, after.Email}, {"phone", before.Phone, after.Phone}, {"timezone", before.Timezone, after.Timezone}, {"locale", before.Locale, after.Locale}} {
		if f.old != f.new {
			out[f.name] = ValueChange{Old: field(f.old), New: field(f.new)}
		}
	}
	if len(touched) > 0 {
		oldAttrs, newAttrs := decodeObject(before.Attributes), decodeObject(after.Attributes)
		for k := range touched {
			if o, n := oldAttrs[k], newAttrs[k]; !reflect.DeepEqual(o, n) {
				out[k] = ValueChange{Old: o, New: n}
			}
		}
	}
	return out
}

// recordChange writes a profile change in the write's transaction (none
// when nothing changed).
func recordChange(tx *gorm.DB, p profileRow, changes map[string]ValueChange, src ChangeSource, now time.Time) error {
	if len(changes) == 0 || p.ErasedAt != nil {
		return nil
	}
	enc, err := json.Marshal(changes)
	if err != nil {
		return fmt.Errorf("encoding profile change: %w", err)
	}
	row := profileChangeRow{WorkspaceID: p.WorkspaceID, ProfileID: p.ID, Source: src.Source, JourneyID: src.JourneyID, RunID: src.RunID,
		Depth: src.Depth, Changes: string(enc), CreatedAt: now}
	return dbErr(tx.Create(&row).Error, "recording profile change")
}

// ListProfileChanges returns a profile's unhandled changes, oldest first
// (at most limit).
func (s *Store) ListProfileChanges(ctx context.Context, profileID string, limit int) ([]ProfileChange, error) {
	return s.listProfileChanges(ctx, limit, "profile_id = ?", profileID)
}

// ListStaleProfileChanges returns unhandled changes recorded at or before
// `before`, oldest first (at most limit), across workspaces: those whose
// writer did not hand them to the engine (a crash, a webhook).
func (s *Store) ListStaleProfileChanges(ctx context.Context, before time.Time, limit int) ([]ProfileChange, error) {
	return s.listProfileChanges(ctx, limit, "created_at <= ?", before.UTC())
}

func (s *Store) listProfileChanges(ctx context.Context, limit int, where string, args ...any) ([]ProfileChange, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []profileChangeRow
	if err := s.db.WithContext(ctx).Where(where, args...).Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing profile changes")
	}
	out := make([]ProfileChange, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DeleteProfileChanges removes handled changes.
func (s *Store) DeleteProfileChanges(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return dbErr(s.db.WithContext(ctx).Where("id IN ?", ids).Delete(&profileChangeRow{}).Error, "deleting profile changes")
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
