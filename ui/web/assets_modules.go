package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
)

// moduleDirs are the directories of ES modules under static/ (the editor's
// scripts). A module imports its siblings by relative URL ("./api.js"),
// which the browser resolves against the importer's own URL, so every file
// of such a directory is served under one prefix: the hash of the whole
// directory (each file's path, length and content). A change to any module
// changes the prefix of all of them, so immutable caching never mixes an
// old module with a new one.
var moduleDirs = []string{"editor"}

// moduleDir is the module directory a file (path under static/) is in, or "".
func moduleDir(name string) string {
	for _, d := range moduleDirs {
		if strings.HasPrefix(name, d+"/") {
			return d
		}
	}
	return ""
}

// modulePrefixes hashes each module directory: directory -> URL prefix.
func modulePrefixes(staticFS fs.FS) (map[string]string, error) {
	out := map[string]string{}
	for _, d := range moduleDirs {
		h := sha256.New()
		err := fs.WalkDir(staticFS, "static/"+d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := fs.ReadFile(staticFS, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("static/%s: %w", d, err)
		}
		out[d] = hex.EncodeToString(h.Sum(nil)[:6])
	}
	return out, nil
}
