// Package migrations holds Waymark's versioned SQL migrations, one folder per
// database dialect, embedded in the binary.
//
// Rules: a released migration is never edited; a change is a new numbered file
// in both folders. Each file runs in its own transaction (goose's default).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migrations for a dialect ("postgres" or "sqlite").
func FS(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}
