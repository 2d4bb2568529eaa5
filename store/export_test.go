package store

import "gorm.io/gorm"

// DB exposes the handle to this package's tests, for fixtures that no
// repository method writes yet.
func (s *Store) DB() *gorm.DB { return s.db }
