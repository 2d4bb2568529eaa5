package store

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/waymarkhq/waymark/connectors/delivery"
)

// Suppression channels: the address kinds a suppression applies to
// (declared in connectors/delivery).
const (
	SuppressEmail = delivery.SuppressEmail
	SuppressSMS   = delivery.SuppressSMS
)

// Suppression reasons (declared in connectors/delivery).
const (
	ReasonUnsubscribed = delivery.ReasonUnsubscribed // List-Unsubscribe, /u/{token}
	ReasonHardBounce   = delivery.ReasonHardBounce   // permanent SMTP rejection of the address
	ReasonStop         = delivery.ReasonStop         // SMS STOP reply (Twilio 21610)
	ReasonComplaint    = delivery.ReasonComplaint    // spam complaint
	ReasonManual       = delivery.ReasonManual       // added by an admin
)

// Suppression stops a channel from messaging an address, whatever journey
// asks. The engine checks it at send time.
type Suppression struct {
	WorkspaceID string
	Channel     string // email or sms
	Address     string // normalised: see NormalizeAddress
	Reason      string
	Source      string // what added it: a connector name, "unsubscribe_link", an admin
	CreatedAt   time.Time
}

type suppressionRow struct {
	WorkspaceID string `gorm:"primaryKey"`
	Channel     string `gorm:"primaryKey"`
	Address     string `gorm:"primaryKey"`
	Reason      string
	Source      string
	CreatedAt   time.Time
}

func (suppressionRow) TableName() string { return "suppressions" }

func (r suppressionRow) domain() Suppression {
	return Suppression(r)
}

// NormalizeAddress puts an address in the form suppressions are keyed by:
// emails trimmed and lowercased; phone numbers without spaces, dashes,
// dots or brackets.
func NormalizeAddress(channel, address string) string {
	a := strings.TrimSpace(address)
	switch channel {
	case SuppressEmail:
		return strings.ToLower(a)
	case SuppressSMS:
		return strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')', '\t':
				return -1
			}
			return r
		}, a)
	}
	return a
}

// AddSuppression suppresses an address. Suppressing an address twice
// keeps the first entry (its reason and date) and is not an error.
func (s *Store) AddSuppression(ctx context.Context, sup Suppression) (Suppression, error) {
	row := suppressionRow{WorkspaceID: sup.WorkspaceID, Channel: sup.Channel, Address: NormalizeAddress(sup.Channel, sup.Address),
		Reason: sup.Reason, Source: sup.Source, CreatedAt: s.nowUTC()}
	if row.Address == "" {
		return Suppression{}, dbErr(gorm.ErrInvalidValue, "adding suppression: empty address")
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if err != nil {
		return Suppression{}, dbErr(err, "adding suppression")
	}
	var cur suppressionRow
	err = s.db.WithContext(ctx).Where("workspace_id = ? AND channel = ? AND address = ?", row.WorkspaceID, row.Channel, row.Address).Take(&cur).Error
	return cur.domain(), dbErr(err, "adding suppression")
}

// IsSuppressed reports whether channel must not message address.
func (s *Store) IsSuppressed(ctx context.Context, workspaceID, channel, address string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&suppressionRow{}).
		Where("workspace_id = ? AND channel = ? AND address = ?", workspaceID, channel, NormalizeAddress(channel, address)).
		Limit(1).Count(&n).Error
	return n > 0, dbErr(err, "checking suppression")
}

// SuppressionFilter narrows ListSuppressions; empty fields match everything.
type SuppressionFilter struct {
	Channel string
	Search  string // substring of the address
	Limit   int    // default 50, at most 500
	After   string // cursor from the previous page
}

// ListSuppressions returns a page of a workspace's suppressions ordered by
// channel and address, and the next page's cursor ("" at the end).
func (s *Store) ListSuppressions(ctx context.Context, workspaceID string, f SuppressionFilter) ([]Suppression, string, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if f.Channel != "" {
		q = q.Where("channel = ?", f.Channel)
	}
	if f.Search != "" {
		q = q.Where("address LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(strings.TrimSpace(f.Search)))+"%")
	}
	if f.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.After)
		ch, addr, ok := strings.Cut(string(b), "\n")
		if err != nil || !ok {
			return nil, "", dbErr(gorm.ErrInvalidValue, "listing suppressions: bad cursor")
		}
		q = q.Where("(channel > ?) OR (channel = ? AND address > ?)", ch, ch, addr)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var rows []suppressionRow
	if err := q.Order("channel, address").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", dbErr(err, "listing suppressions")
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.Channel + "\n" + last.Address))
	}
	out := make([]Suppression, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, next, nil
}

// DeleteSuppression lets a channel message an address again.
func (s *Store) DeleteSuppression(ctx context.Context, workspaceID, channel, address string) error {
	res := s.db.WithContext(ctx).Where("workspace_id = ? AND channel = ? AND address = ?", workspaceID, channel, NormalizeAddress(channel, address)).
		Delete(&suppressionRow{})
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "deleting suppression")
	}
	return dbErr(res.Error, "deleting suppression")
}
