package httpkit

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Response compression: Brotli or gzip, whichever the client prefers by
// its Accept-Encoding (Brotli on a tie). Assets are compressed once and
// kept (ui/web/assets.go); pages and JSON are compressed per response by
// Compress, at levels that cost a few milliseconds for the editor's
// largest page.

// Content codings.
const (
	EncodingBrotli = "br"
	EncodingGzip   = "gzip"
)

// MinCompressSize is the smallest body worth compressing: below it the
// saving is a few bytes and the compressed form can even be larger.
const MinCompressSize = 1024

// Compression levels for bodies compressed on every response and for
// assets compressed once. Brotli 6 is within 3% of Brotli 9 on the
// editor's scripts at a fifth of the time; 11 costs seconds.
const (
	dynamicBrotliLevel = 4
	dynamicGzipLevel   = 6
	StaticBrotliLevel  = 6
	StaticGzipLevel    = 9
)

// AcceptedEncoding is the coding to send for an Accept-Encoding header:
// "br", "gzip" or "" (identity). q-values are honoured: "br;q=0" refuses
// Brotli, "*" stands for any coding not named.
func AcceptedEncoding(header string) string {
	if header == "" {
		return ""
	}
	br, gz, star := -1.0, -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		switch name {
		case EncodingBrotli:
			br = q
		case EncodingGzip, "x-gzip":
			gz = q
		case "*":
			star = q
		}
	}
	if br < 0 {
		br = star
	}
	if gz < 0 {
		gz = star
	}
	switch {
	case br > 0 && br >= gz:
		return EncodingBrotli
	case gz > 0:
		return EncodingGzip
	}
	return ""
}

// Compressible reports whether a body of this content type is text that
// compresses well (HTML, CSS, JavaScript, JSON, SVG, CSV, plain text).
// Event streams are excluded: they must reach the client as written.
func Compressible(contentType string) bool {
	ct, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	ct = strings.TrimSpace(ct)
	switch {
	case ct == "text/event-stream":
		return false
	case strings.HasPrefix(ct, "text/"):
		return true
	case ct == "application/javascript", ct == "application/json", ct == "application/xml",
		ct == "image/svg+xml", ct == "application/manifest+json":
		return true
	case strings.HasSuffix(ct, "+json"), strings.HasSuffix(ct, "+xml"):
		return true
	}
	return false
}

// CompressBytes returns body in the coding enc ("br" or "gzip") at the
// given level, appended to dst.
func CompressBytes(dst []byte, enc string, body []byte, level int) []byte {
	if enc == EncodingBrotli {
		return fasthttp.AppendBrotliBytesLevel(dst, body, level)
	}
	return fasthttp.AppendGzipBytesLevel(dst, body, level)
}

// AddVary adds a field name to the response's Vary header unless it is
// there already.
func AddVary(c *fiber.Ctx, field string) {
	h := &c.Response().Header
	cur := string(h.Peek(fiber.HeaderVary))
	for _, f := range strings.Split(cur, ",") {
		if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, field) {
			return
		}
	}
	if cur == "" {
		h.Set(fiber.HeaderVary, field)
		return
	}
	h.Set(fiber.HeaderVary, cur+", "+field)
}

// Compress compresses the response the rest of the chain wrote, when the
// client accepts Brotli or gzip and the body is text of at least
// MinCompressSize bytes. It leaves alone: HEAD requests, responses
// without a body (204, 304), bodies already encoded (a precompressed
// asset), streamed bodies (CSV exports, which are written as they are
// read and must not be held back) and other content types. Every
// response it could have compressed says Vary: Accept-Encoding, so a
// cache never hands a compressed body to a client that did not ask for
// one.
func Compress(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return err
	}
	CompressResponse(c)
	return nil
}

// CompressResponse is Compress's work on a response already written.
func CompressResponse(c *fiber.Ctx) {
	resp := c.Response()
	if c.Method() == fiber.MethodHead || resp.IsBodyStream() || len(resp.Header.Peek(fiber.HeaderContentEncoding)) > 0 {
		return
	}
	switch status := resp.StatusCode(); {
	case status < 200, status == fiber.StatusNoContent, status == fiber.StatusNotModified, status == fiber.StatusPartialContent:
		return
	}
	if !Compressible(string(resp.Header.ContentType())) {
		return
	}
	body := resp.Body()
	if len(body) < MinCompressSize {
		return
	}
	AddVary(c, fiber.HeaderAcceptEncoding)
	enc := AcceptedEncoding(c.Get(fiber.HeaderAcceptEncoding))
	if enc == "" {
		return
	}
	level := dynamicGzipLevel
	if enc == EncodingBrotli {
		level = dynamicBrotliLevel
	}
	out := CompressBytes(make([]byte, 0, len(body)/3), enc, body, level)
	if len(out) >= len(body) {
		return
	}
	resp.SetBodyRaw(out)
	resp.Header.Set(fiber.HeaderContentEncoding, enc)
	// A strong validator names one representation; the compressed body is
	// another.
	if et := resp.Header.Peek(fiber.HeaderETag); len(et) > 0 && !bytes.HasPrefix(et, []byte("W/")) {
		resp.Header.Set(fiber.HeaderETag, "W/"+string(et))
	}
}
