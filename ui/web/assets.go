package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// asset is an embedded file served under a content-hashed URL, so it can be
// cached forever and a new build never serves a stale copy.
type asset struct {
	url         string
	body        []byte
	contentType string
}

type assets map[string]asset // by hashed URL

func loadAssets(staticFS fs.FS) (assets, map[string]string, error) {
	byURL := assets{}
	urls := map[string]string{} // path under static/ -> hashed URL
	prefixes, err := modulePrefixes(staticFS)
	if err != nil {
		return nil, nil, err
	}
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFS, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		// name is the path under static/: "app.css", "vendor/x6.min.js".
		name := strings.TrimPrefix(p, "static/")
		prefix := hex.EncodeToString(sum[:6])
		if d := moduleDir(name); d != "" {
			prefix = prefixes[d] // one prefix for a directory of modules
		}
		u := "/static/" + prefix + "/" + name
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		byURL[u] = asset{url: u, body: b, contentType: ct}
		urls[name] = u
		return nil
	})
	return byURL, urls, err
}

func (a assets) handler(c *fiber.Ctx) error {
	f, ok := a[c.Path()]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}
