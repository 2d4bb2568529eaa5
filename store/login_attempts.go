package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// LoginAttempt is one sign-in try. Attempts live in the database so that
// rate limits and lockouts hold across every web process.
type LoginAttempt struct {
	Email     string // normalised; need not name a user
	IP        string
	Succeeded bool
	CreatedAt time.Time
}

type loginAttemptRow struct {
	ID        int64 `gorm:"primaryKey"`
	Email     string
	IP        string
	Succeeded bool
	CreatedAt time.Time
}

func (loginAttemptRow) TableName() string { return "login_attempts" }

// RecordLoginAttempt stores an attempt at the store's clock.
func (s *Store) RecordLoginAttempt(ctx context.Context, a LoginAttempt) error {
	row := loginAttemptRow{Email: NormalizeEmail(a.Email), IP: a.IP, Succeeded: a.Succeeded, CreatedAt: s.nowUTC()}
	return dbErr(s.db.WithContext(ctx).Create(&row).Error, "recording login attempt")
}

// LoginFailures is a run of failed attempts.
type LoginFailures struct {
	Count int64
	Last  time.Time // zero when Count is 0
}

// LoginFailuresForEmail counts failed attempts for an address since the
// later of since and its last successful sign-in.
func (s *Store) LoginFailuresForEmail(ctx context.Context, email string, since time.Time) (LoginFailures, error) {
	return s.loginFailures(ctx, "email", NormalizeEmail(email), since, true)
}

// LoginFailuresForIP counts failed attempts from an IP address since
// since. A success from the IP does not reset it: one valid account must
// not let an attacker keep guessing at others.
func (s *Store) LoginFailuresForIP(ctx context.Context, ip string, since time.Time) (LoginFailures, error) {
	return s.loginFailures(ctx, "ip", ip, since, false)
}

func (s *Store) loginFailures(ctx context.Context, column, value string, since time.Time, resetOnSuccess bool) (LoginFailures, error) {
	since = since.UTC()
	db := s.db.WithContext(ctx)
	if resetOnSuccess {
		var ok []loginAttemptRow
		err := db.Where(column+" = ? AND succeeded = ? AND created_at >= ?", value, true, since).Order("created_at DESC").Limit(1).Find(&ok).Error
		if err != nil {
			return LoginFailures{}, dbErr(err, "counting login failures")
		}
		if len(ok) > 0 {
			since = ok[0].CreatedAt
		}
	}
	failed := func() *gorm.DB {
		return db.Model(&loginAttemptRow{}).Where(column+" = ? AND succeeded = ? AND created_at > ?", value, false, since)
	}
	var n int64
	if err := failed().Count(&n).Error; err != nil {
		return LoginFailures{}, dbErr(err, "counting login failures")
	}
	if n == 0 {
		return LoginFailures{}, nil
	}
	var last []loginAttemptRow
	if err := failed().Order("created_at DESC").Limit(1).Find(&last).Error; err != nil {
		return LoginFailures{}, dbErr(err, "counting login failures")
	}
	return LoginFailures{Count: n, Last: last[0].CreatedAt.UTC()}, nil
}

// DeleteLoginAttemptsBefore removes attempts older than t (housekeeping).
func (s *Store) DeleteLoginAttemptsBefore(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("created_at < ?", t.UTC()).Delete(&loginAttemptRow{})
	return res.RowsAffected, dbErr(res.Error, "deleting old login attempts")
}
