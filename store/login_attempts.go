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
	return loginFailures(s.db.WithContext(ctx), "email", NormalizeEmail(email), since, true)
}

// LoginFailuresForIP counts failed attempts from an IP address since
// since. A success from the IP does not reset it: one valid account must
// not let an attacker keep guessing at others.
func (s *Store) LoginFailuresForIP(ctx context.Context, ip string, since time.Time) (LoginFailures, error) {
	return loginFailures(s.db.WithContext(ctx), "ip", ip, since, false)
}

// LoginCheck decides, from the failures counted so far for the account
// (as LoginFailuresForEmail counts them) and for the IP (as
// LoginFailuresForIP does), how long a new attempt must still wait: 0 lets
// it go ahead.
type LoginCheck func(account, ip LoginFailures) time.Duration

// LoginReservation is the outcome of ReserveLoginAttempt.
type LoginReservation struct {
	ID   int64         // the attempt's row; 0 when refused
	Wait time.Duration // > 0 when refused: how long until the next try may go ahead
}

// Advisory-lock classes (the first key of PostgreSQL's two-key advisory
// locks) that serialize reservations per account and per IP.
const (
	loginLockEmail int32 = 0x57410001
	loginLockIP    int32 = 0x57410002
)

// ReserveLoginAttempt counts the failures of email and ip since since,
// asks check whether one more attempt may go ahead, and if so records that
// attempt at once, as a failure, before the caller checks the password. The
// count and the insert are atomic per account and per IP across every
// process sharing the database (SQLite: the immediate transaction holds the
// database's write lock; PostgreSQL: transaction-scoped advisory locks on
// the email and on the IP, always taken in that order), so concurrent
// attempts cannot all pass the check before any of them is counted.
//
// A refused attempt records nothing. The caller settles a reservation with
// MarkLoginAttemptSucceeded, or ReleaseLoginAttempt when the password could
// not be checked at all; otherwise it stays a failure.
func (s *Store) ReserveLoginAttempt(ctx context.Context, email, ip string, since time.Time, check LoginCheck) (LoginReservation, error) {
	email = NormalizeEmail(email)
	var res LoginReservation
	err := s.withTx(ctx, func(tx *gorm.DB) error {
		if s.dialect == DialectPostgres {
			for _, l := range []struct {
				class int32
				key   string
			}{{loginLockEmail, email}, {loginLockIP, ip}} {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?, hashtext(?))", l.class, l.key).Error; err != nil {
					return err
				}
			}
		}
		acc, err := loginFailures(tx, "email", email, since, true)
		if err != nil {
			return err
		}
		byIP, err := loginFailures(tx, "ip", ip, since, false)
		if err != nil {
			return err
		}
		if res.Wait = check(acc, byIP); res.Wait > 0 {
			return nil
		}
		row := loginAttemptRow{Email: email, IP: ip, Succeeded: false, CreatedAt: s.nowUTC()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		res.ID = row.ID
		return nil
	})
	if err != nil {
		return LoginReservation{}, dbErr(err, "reserving login attempt")
	}
	return res, nil
}

// MarkLoginAttemptSucceeded turns a reserved attempt into a success, which
// clears the account's run of failures (not the IP's).
func (s *Store) MarkLoginAttemptSucceeded(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&loginAttemptRow{}).Where("id = ?", id).Update("succeeded", true)
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "marking login attempt succeeded")
	}
	return dbErr(res.Error, "marking login attempt succeeded")
}

// ReleaseLoginAttempt removes a reserved attempt whose password was never
// checked (the server was too busy), so it counts against no one.
func (s *Store) ReleaseLoginAttempt(ctx context.Context, id int64) error {
	return dbErr(s.db.WithContext(ctx).Where("id = ?", id).Delete(&loginAttemptRow{}).Error, "releasing login attempt")
}

func loginFailures(db *gorm.DB, column, value string, since time.Time, resetOnSuccess bool) (LoginFailures, error) {
	since = since.UTC()
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
