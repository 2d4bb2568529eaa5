package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// asset is an embedded file served under a content-hashed URL, so it can be
// cached forever and a new build never serves a stale copy.
type asset struct {
	url         string
	body        []byte
	contentType string
	// Text assets are compressed once, on first request, in each coding
	// (Brotli and gzip) and kept: the set of assets is fixed, so the
	// cache is bounded by twice their size. nil when compression is not
	// worth it (binary types, tiny files, no saving).
	compressible bool
	br, gz       *compressed
}

// compressed is one asset in one content coding, computed at most once.
type compressed struct {
	once sync.Once
	body []byte
}

func (a *asset) encoded(enc string) []byte {
	z, level := a.br, httpkit.StaticBrotliLevel
	if enc == httpkit.EncodingGzip {
		z, level = a.gz, httpkit.StaticGzipLevel
	}
	z.once.Do(func() {
		out := httpkit.CompressBytes(nil, enc, a.body, level)
		if len(out) < len(a.body) {
			z.body = out
		}
	})
	return z.body
}

type assets map[string]*asset // by hashed URL

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
		a := &asset{url: u, body: b, contentType: ct}
		if httpkit.Compressible(ct) && len(b) >= httpkit.MinCompressSize {
			a.compressible, a.br, a.gz = true, &compressed{}, &compressed{}
		}
		byURL[u] = a
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
	if !f.compressible {
		return c.Send(f.body)
	}
	httpkit.AddVary(c, fiber.HeaderAcceptEncoding)
	if enc := httpkit.AcceptedEncoding(c.Get(fiber.HeaderAcceptEncoding)); enc != "" {
		if body := f.encoded(enc); body != nil {
			c.Set(fiber.HeaderContentEncoding, enc)
			return c.Send(body)
		}
	}
	return c.Send(f.body)
}
