package store

import "gorm.io/gorm"

// DB exposes the handle to this package's tests, for fixtures that no
// repository method writes yet.
func (s *Store) DB() *gorm.DB { return s.db }

// LiteBatches is how many transactions SQLite's group commit ran (0 on
// PostgreSQL).
func (s *Store) LiteBatches() int64 {
	if s.lite == nil {
		return 0
	}
	return s.lite.batches.Load()
}
