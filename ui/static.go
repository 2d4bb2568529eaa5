package ui

import "embed"

// staticFS holds the pages' assets (ui/static: CSS, the editor's scripts,
// vendored libraries), served under content-hashed URLs (ui/web).
//
//go:embed static
var staticFS embed.FS
