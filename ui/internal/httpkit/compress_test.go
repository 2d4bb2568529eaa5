package httpkit

import "testing"

func TestAcceptedEncoding(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"":                         "",
		"identity":                 "",
		"gzip":                     "gzip",
		"x-gzip":                   "gzip",
		"br":                       "br",
		"gzip, deflate, br":        "br",
		"gzip, deflate, br, zstd":  "br",
		"GZIP;q=0.5, BR;q=0.4":     "gzip",
		"br;q=0, gzip":             "gzip",
		"br;q=0, gzip;q=0":         "",
		"*":                        "br",
		"*;q=0":                    "",
		"gzip;q=0, *":              "br",
		"br;q=0, *;q=0.1":          "gzip",
		"deflate":                  "",
		"br;q=nonsense, gzip":      "gzip",
		"br;q=2, gzip":             "gzip",
		" gzip ; q=1 ,  br ; q=1 ": "br",
	} {
		if got := AcceptedEncoding(header); got != want {
			t.Errorf("AcceptedEncoding(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestCompressible(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8":          true,
		"text/css; charset=utf-8":           true,
		"text/javascript; charset=utf-8":    true,
		"application/javascript":            true,
		"application/json":                  true,
		"application/problem+json":          true,
		"image/svg+xml":                     true,
		"text/csv; charset=utf-8":           true,
		"text/event-stream":                 false,
		"image/png":                         false,
		"application/octet-stream":          false,
		"application/x-www-form-urlencoded": false,
	} {
		if got := Compressible(ct); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", ct, got, want)
		}
	}
}
