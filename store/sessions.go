package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Session is a signed-in browser. ID is the SHA-256 of the cookie token, so
// a database leak does not leak usable cookies.
type Session struct {
	ID          string
	UserID      string
	WorkspaceID string
	CSRFToken   string
	IP          string
	UserAgent   string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time
}

type sessionRow Session

func (sessionRow) TableName() string { return "sessions" }

// CreateSession stores a new session; CreatedAt and LastSeenAt are set now.
func (s *Store) CreateSession(ctx context.Context, sess Session) (Session, error) {
	now := s.nowUTC()
	sess.CreatedAt, sess.LastSeenAt = now, now
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	row := sessionRow(sess)
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Session{}, dbErr(err, "creating session")
	}
	return sess, nil
}

// GetSession returns a session by its hashed id, with its user. Expired
// sessions are ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string) (Session, User, error) {
	var row sessionRow
	err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, s.nowUTC()).Take(&row).Error
	if err != nil {
		return Session{}, User{}, dbErr(err, "loading session")
	}
	u, err := s.GetUser(ctx, row.UserID)
	if err != nil {
		return Session{}, User{}, err
	}
	return Session(row), u, nil
}

// TouchSession records activity.
func (s *Store) TouchSession(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&sessionRow{}).Where("id = ?", id).Update("last_seen_at", s.nowUTC())
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "touching session")
	}
	return dbErr(res.Error, "touching session")
}

// DeleteSession ends one session; deleting a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return dbErr(s.db.WithContext(ctx).Where("id = ?", id).Delete(&sessionRow{}).Error, "deleting session")
}

// DeleteUserSessions ends every session of a user and reports how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	res := s.db.WithContext(ctx).Where("user_id = ?", userID).Delete(&sessionRow{})
	return res.RowsAffected, dbErr(res.Error, "deleting user sessions")
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", s.nowUTC()).Delete(&sessionRow{})
	return res.RowsAffected, dbErr(res.Error, "deleting expired sessions")
}
