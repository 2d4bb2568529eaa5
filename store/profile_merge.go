package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Identity resolution of the Segment-compatible intake (docs/cdp.md): an
// anonymousId that was identified points to the profile it merged into
// (profile_aliases, migration 00022).

type profileAliasRow struct {
	WorkspaceID string `gorm:"primaryKey"`
	AnonymousID string `gorm:"primaryKey"`
	ProfileID   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (profileAliasRow) TableName() string { return "profile_aliases" }

// AliasedProfile returns the external id of the profile an anonymous id
// was identified as; ok is false when it never was, or that profile was
// deleted or erased (its anonymous calls then start a new anonymous
// profile: nothing new lands on an erased person).
func (s *Store) AliasedProfile(ctx context.Context, workspaceID, anonymousID string) (externalID string, ok bool, err error) {
	var ids []string
	err = s.db.WithContext(ctx).Table("profile_aliases AS a").Select("p.external_id").
		Joins("JOIN profiles p ON p.id = a.profile_id").
		Where("a.workspace_id = ? AND a.anonymous_id = ? AND p.erased_at IS NULL", workspaceID, anonymousID).Limit(1).Pluck("p.external_id", &ids).Error
	if err != nil {
		return "", false, dbErr(err, "loading profile alias")
	}
	if len(ids) == 0 {
		return "", false, nil
	}
	return ids[0], true, nil
}

// ProfileMerge moves what an anonymous profile holds into an identified
// one.
type ProfileMerge struct {
	WorkspaceID string
	// AnonymousID is recorded as an alias of the identified profile.
	AnonymousID string
	// From is the anonymous profile's external id (it may not exist);
	// Into the identified profile's (created when new).
	From, Into string
}

// MergeResult says what a merge did.
type MergeResult struct {
	Profile Profile // the identified profile, after the merge
	// Merged: the anonymous profile existed and held something to move.
	Merged                        bool
	Events, Runs, Changes, Fields int64
}

// MergeProfiles merges an anonymous profile into an identified one in one
// transaction, and points the anonymous id at the identified profile:
//
//   - built-in fields (email, phone, timezone, locale) and custom
//     attributes: the identified profile's win; the anonymous profile's
//     fill only what the identified one lacks; consent likewise per
//     channel;
//   - events, runs (finished and live: a live run goes on with the
//     identified profile), per-journey entry counts, deliveries and the
//     change history are re-pointed to the identified profile;
//   - the anonymous profile stays as an empty row (no fields, attributes
//     or consent; its segment memberships dropped), so that a late call
//     that resolved to it before the merge still has a profile to land on;
//     the next merge of the same anonymous id sweeps it again.
//
// Merging again changes nothing more, and concurrent merges of the same
// pair serialise on the profiles' rows.
func (s *Store) MergeProfiles(ctx context.Context, m ProfileMerge) (MergeResult, error) {
	if m.From == m.Into {
		return MergeResult{}, fmt.Errorf("merging profile %q into itself", m.From)
	}
	var out MergeResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		out = MergeResult{}
		err = s.withTx(ctx, func(tx *gorm.DB) error { return s.mergeTx(tx, m, &out) })
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			break
		}
		// Two first-time creations of the identified profile, or a
		// deadlock PostgreSQL broke: the transaction changed nothing, so
		// running it again is safe.
	}
	return out, err
}

func (s *Store) mergeTx(tx *gorm.DB, m ProfileMerge, out *MergeResult) error {
	now := s.nowUTC()
	// The identified profile, created when new (as an event for a new
	// external id does).
	into, _, err := s.upsertProfileTx(tx, ProfileUpsert{WorkspaceID: m.WorkspaceID, ExternalID: m.Into, Source: "merge"})
	if err != nil {
		return err
	}
	alias := profileAliasRow{WorkspaceID: m.WorkspaceID, AnonymousID: m.AnonymousID, ProfileID: into.ID, CreatedAt: now, UpdatedAt: now}
	if err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "workspace_id"}, {Name: "anonymous_id"}},
		DoUpdates: clause.Assignments(map[string]any{"profile_id": into.ID, "updated_at": now}),
	}).Create(&alias).Error; err != nil {
		return dbErr(err, "saving profile alias")
	}

	var from profileRow
	err = tx.Clauses(lockNoKeyUpdate(s.dialect)...).Where("workspace_id = ? AND external_id = ?", m.WorkspaceID, m.From).Take(&from).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		out.Profile = into
		return nil // nothing anonymous to merge
	}
	if err != nil {
		return dbErr(err, "loading anonymous profile")
	}
	var row profileRow
	if err := tx.Clauses(lockNoKeyUpdate(s.dialect)...).Where("id = ?", into.ID).Take(&row).Error; err != nil {
		return dbErr(err, "loading identified profile")
	}

	// Fields, attributes and consent: the identified profile wins.
	before := row
	var fields int64
	for _, f := range []struct{ src, dst *string }{{&from.Email, &row.Email}, {&from.Phone, &row.Phone}, {&from.Timezone, &row.Timezone}, {&from.Locale, &row.Locale}} {
		if *f.dst == "" && *f.src != "" {
			*f.dst = *f.src
			fields++
		}
	}
	attrs, fromAttrs := decodeObject(row.Attributes), decodeObject(from.Attributes)
	touched := map[string]any{}
	for k, v := range fromAttrs {
		if _, has := attrs[k]; !has && v != nil {
			attrs[k] = v
			touched[k] = v
			fields++
		}
	}
	consent, fromConsent := decodeObject(row.Consent), decodeObject(from.Consent)
	for ch, v := range fromConsent {
		if _, has := consent[ch]; !has {
			consent[ch] = v
			fields++
		}
	}
	if row.Attributes, err = encodeObject(attrs); err != nil {
		return err
	}
	if row.Consent, err = encodeObject(consent); err != nil {
		return err
	}

	// What happened, re-pointed. (Should the engine hold one of these runs
	// while it waits for a profile this holds, PostgreSQL breaks the
	// deadlock and MergeProfiles runs the transaction again.)
	moves := []struct {
		n     *int64
		query string
	}{
		{&out.Runs, "UPDATE runs SET profile_id = ? WHERE profile_id = ?"},
		{&out.Events, "UPDATE events SET profile_id = ? WHERE profile_id = ?"},
		{&out.Changes, "UPDATE profile_changes SET profile_id = ? WHERE profile_id = ?"},
		{nil, "UPDATE deliveries SET profile_id = ? WHERE profile_id = ?"},
	}
	for _, mv := range moves {
		res := tx.Exec(mv.query, row.ID, from.ID)
		if res.Error != nil {
			return dbErr(res.Error, "re-pointing the anonymous profile's history")
		}
		if mv.n != nil {
			*mv.n = res.RowsAffected
		}
	}
	if err := mergeJourneyProfiles(tx, from.ID, row.ID); err != nil {
		return err
	}
	if err := tx.Exec("DELETE FROM segment_members WHERE profile_id = ?", from.ID).Error; err != nil {
		return dbErr(err, "dropping the anonymous profile's segment memberships")
	}

	out.Fields = fields
	out.Merged = fields > 0 || out.Events > 0 || out.Runs > 0 || out.Changes > 0
	if fields > 0 {
		if err := tx.Model(&profileRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"email": row.Email, "phone": row.Phone, "timezone": row.Timezone, "locale": row.Locale,
			"attributes": row.Attributes, "consent": row.Consent, "updated_at": now,
		}).Error; err != nil {
			return dbErr(err, "saving merged profile")
		}
		row.UpdatedAt = now
		if err := recordChange(tx, row, diffProfile(before, row, touched), ChangeSource{Source: "merge"}, now); err != nil {
			return err
		}
		if err := tx.Model(&profileRow{}).Where("id = ?", from.ID).Updates(map[string]any{
			"email": "", "phone": "", "timezone": "", "locale": "", "attributes": "{}", "consent": "{}", "updated_at": now,
		}).Error; err != nil {
			return dbErr(err, "emptying anonymous profile")
		}
	}
	out.Profile = row.domain()
	return nil
}

// mergeJourneyProfiles moves the anonymous profile's per-journey entry
// rows: a journey only it entered moves as it is; a journey both entered
// keeps one row with the entries summed, the identified profile's active
// run (or else the anonymous one's) and the later entry time.
func mergeJourneyProfiles(tx *gorm.DB, fromID, intoID string) error {
	var rows []journeyProfileRow
	if err := tx.Where("profile_id = ?", fromID).Find(&rows).Error; err != nil {
		return dbErr(err, "loading the anonymous profile's journeys")
	}
	for _, r := range rows {
		var mine journeyProfileRow
		err := tx.Where("journey_id = ? AND profile_id = ?", r.JourneyID, intoID).Take(&mine).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			if err := tx.Exec("UPDATE journey_profiles SET profile_id = ? WHERE journey_id = ? AND profile_id = ?", intoID, r.JourneyID, fromID).Error; err != nil {
				return dbErr(err, "moving journey entries")
			}
			continue
		case err != nil:
			return dbErr(err, "loading journey entries")
		}
		active, last := mine.ActiveRunID, mine.LastEnteredAt
		if active == "" {
			active = r.ActiveRunID
		}
		if last == nil || (r.LastEnteredAt != nil && r.LastEnteredAt.After(*last)) {
			last = r.LastEnteredAt
		}
		if err := tx.Model(&journeyProfileRow{}).Where("journey_id = ? AND profile_id = ?", r.JourneyID, intoID).
			Updates(map[string]any{"entries": mine.Entries + r.Entries, "active_run_id": active, "last_entered_at": last}).Error; err != nil {
			return dbErr(err, "merging journey entries")
		}
		if err := tx.Exec("DELETE FROM journey_profiles WHERE journey_id = ? AND profile_id = ?", r.JourneyID, fromID).Error; err != nil {
			return dbErr(err, "merging journey entries")
		}
	}
	return nil
}

// lockNoKeyUpdate locks a profile row against other writers without
// blocking the foreign-key checks of rows that reference it (an event
// inserted meanwhile waits for nothing).
func lockNoKeyUpdate(dialect string) []clause.Expression {
	if dialect == DialectPostgres {
		return []clause.Expression{clause.Locking{Strength: "NO KEY UPDATE"}}
	}
	return nil
}
