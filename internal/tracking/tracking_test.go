package tracking

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

func testSigner(t testing.TB, keys ...string) *Signer {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{"0123456789abcdef0123456789abcdef"}
	}
	var ks [][]byte
	for _, k := range keys {
		ks = append(ks, []byte(k))
	}
	s, err := NewSigner(ks)
	require.NoError(t, err)
	return s
}

func TestTokenRoundTripAndForgery(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	click := Token{Kind: Click, WorkspaceID: "default", DeliveryID: "0190-abc", Link: 3, URL: "https://shop.example/p?a=1&b=2"}
	tok, err := s.Sign(click)
	require.NoError(t, err)
	got, err := s.Open(tok)
	require.NoError(t, err)
	require.Equal(t, click, got)

	open := Token{Kind: Open, WorkspaceID: "default", DeliveryID: "0190-abc"}
	otok, err := s.Sign(open)
	require.NoError(t, err)
	got, err = s.Open(otok)
	require.NoError(t, err)
	require.Equal(t, open, got)

	// Every single-character change is refused.
	for i := range tok {
		for _, c := range []byte{'A', '_', '-', 'z'} {
			if tok[i] == c {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if got, err := s.Open(bad); err == nil {
				// Base64's last character may carry unused bits: the
				// same bytes, the same token.
				require.Equal(t, click, got, "altered token %q opened as something else", bad)
			}
		}
	}
	// Another key, truncation, garbage, too long.
	other := testSigner(t, "fedcba9876543210fedcba9876543210")
	_, err = other.Open(tok)
	require.ErrorIs(t, err, ErrBadToken)
	for _, bad := range []string{"", "x", tok[:len(tok)-3], "!!!!", strings.Repeat("A", MaxTokenLen+1)} {
		_, err := s.Open(bad)
		require.ErrorIs(t, err, ErrBadToken, "%q", bad)
	}
	// Rotation: a token signed with the old key opens when it is kept.
	rotated := testSigner(t, "fedcba9876543210fedcba9876543210", "0123456789abcdef0123456789abcdef")
	got, err = rotated.Open(tok)
	require.NoError(t, err)
	require.Equal(t, click.URL, got.URL)

	_, err = s.Sign(Token{Kind: Click, WorkspaceID: "w", DeliveryID: "d", URL: strings.Repeat("a", MaxURLLen+1)})
	require.Error(t, err)
	_, err = NewSigner([][]byte{[]byte("short")})
	require.Error(t, err)
}

func rewriter(t testing.TB) *Rewriter {
	return &Rewriter{Base: "https://wm.example", Signer: testSigner(t)}
}

// hrefs returns every a/area href of doc and the img srcs.
func hrefs(t testing.TB, doc string) (links, imgs []string) {
	z := html.NewTokenizer(strings.NewReader(doc))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		for _, a := range tok.Attr {
			if (tok.Data == "a" || tok.Data == "area") && a.Key == "href" {
				links = append(links, a.Val)
			}
			if tok.Data == "img" && a.Key == "src" {
				imgs = append(imgs, a.Val)
			}
		}
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	r := rewriter(t)
	src := `<!DOCTYPE html><html><body>
<p>Hi <A HREF="https://shop.example/a?x=1&amp;y=2" class="btn">Shop</A></p>
<a href="mailto:help@example.com">mail</a> <a href="tel:+441234">call</a> <a href="#top">top</a>
<a href="/relative">rel</a> <a href="https://wm.example/u/TOKEN">Unsubscribe</a>
<a href="http://plain.example/" data-waymark-notrack>no track</a>
<!--[if mso]><a href="https://outlook.example/">o</a><![endif]-->
<area href="http://map.example/r">
<script>var s = '<a href="https://in-script.example/">';</script>
<a href=" https://spaced.example/path ">spaced</a>
</BODY></html>`
	out, links := r.Rewrite(src, Message{WorkspaceID: "default", DeliveryID: "d1"})
	require.Equal(t, []string{"https://shop.example/a?x=1&y=2", "http://map.example/r", "https://spaced.example/path"}, links)

	got, imgs := hrefs(t, out)
	require.Len(t, imgs, 1)
	require.True(t, strings.HasPrefix(imgs[0], "https://wm.example/t/o/"), imgs[0])
	require.True(t, strings.HasSuffix(imgs[0], ".gif"))
	require.Less(t, strings.Index(out, imgs[0][:30]), strings.Index(out, "</BODY>"), "the pixel goes before </body>")

	want := []string{"", "mailto:help@example.com", "tel:+441234", "#top", "/relative", "https://wm.example/u/TOKEN", "http://plain.example/", "", ""}
	require.Len(t, got, len(want))
	var tracked []string
	for i, h := range got {
		if want[i] == "" {
			require.True(t, strings.HasPrefix(h, "https://wm.example/t/c/"), h)
			tracked = append(tracked, h)
			continue
		}
		require.Equal(t, want[i], h)
	}
	for i, h := range tracked {
		tok, err := r.Signer.Open(strings.TrimPrefix(h, "https://wm.example/t/c/"))
		require.NoError(t, err)
		require.Equal(t, Token{Kind: Click, WorkspaceID: "default", DeliveryID: "d1", Link: []int{0, 1, 2}[i], URL: links[[]int{0, 1, 2}[i]]}, tok)
	}
	// Untouched parts stay byte for byte.
	for _, keep := range []string{`<!--[if mso]><a href="https://outlook.example/">o</a><![endif]-->`,
		`<script>var s = '<a href="https://in-script.example/">';</script>`, `<a href="mailto:help@example.com">mail</a>`} {
		require.Contains(t, out, keep)
	}
	require.NotContains(t, out, "data-waymark-notrack")
	require.Contains(t, out, `class="btn"`)

	// No body: the pixel is appended; nothing to sign with: unchanged.
	out, _ = r.Rewrite("<p>plain</p>", Message{WorkspaceID: "w", DeliveryID: "d"})
	require.True(t, strings.HasPrefix(out, "<p>plain</p><img "), out)
	out, links = (&Rewriter{}).Rewrite("<p>x</p>", Message{})
	require.Equal(t, "<p>x</p>", out)
	require.Empty(t, links)
}

func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`<a href="https://a.example/x">x</a>`, `<a href='http://b.example'>`, `<A HREF=http://c.example/?q=1&amp;r=2>`,
		`<body><a href="mailto:x@y">m</a></body>`, `<!-- <a href="http://x.example"> -->`, `<a href="https://x.example" href="http://y.example">`,
		`<a href="javascript:alert(1)">`, `<a href="https://user@host.example/">`, `<area href="https://z.example"/>`, "<a href=\"https://x.example/\x00\">",
	} {
		f.Add(s)
	}
	r := rewriter(f)
	f.Fuzz(func(t *testing.T, src string) {
		out, links := r.Rewrite(src, Message{WorkspaceID: "w", DeliveryID: "d"})
		if len(links) > MaxLinks {
			t.Fatalf("%d links", len(links))
		}
		for _, l := range links {
			if !Trackable(l) {
				t.Fatalf("tracked an untrackable link %q", l)
			}
		}
		// Every redirect in the output opens and points to a tracked link
		// of this delivery.
		got, _ := hrefs(t, out)
		for _, h := range got {
			rest, ok := strings.CutPrefix(h, r.Base+"/t/c/")
			if !ok {
				continue
			}
			tok, err := r.Signer.Open(rest)
			if err != nil {
				continue // a redirect-looking link the source already had
			}
			if tok.DeliveryID != "d" || tok.Link >= len(links) || links[tok.Link] != tok.URL {
				t.Fatalf("bad token %+v for links %q", tok, links)
			}
		}
		if !strings.Contains(out, "/t/o/") {
			t.Fatalf("no pixel in %q", out)
		}
		if u, err := url.Parse(r.Base); err != nil || u.Host == "" {
			t.Fatal("base")
		}
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	sent := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	later := sent.Add(5 * time.Minute)
	chrome := "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	for _, tc := range []struct {
		name   string
		hit    Hit
		reason string
	}{
		{"person", Hit{Method: "GET", UserAgent: chrome, IP: netip.MustParseAddr("203.0.113.9"), SentAt: sent, At: later}, ""},
		{"gmail image proxy is an open", Hit{Method: "GET", UserAgent: "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", SentAt: sent, At: later}, ""},
		{"head", Hit{Method: "HEAD", UserAgent: chrome, SentAt: sent, At: later}, "head_request"},
		{"no agent", Hit{Method: "GET", SentAt: sent, At: later}, "no_user_agent"},
		{"apple mpp agent", Hit{Method: "GET", UserAgent: "Mozilla/5.0", SentAt: sent, At: later}, "apple_mpp"},
		{"apple mpp address", Hit{Method: "GET", UserAgent: chrome, IP: netip.MustParseAddr("17.58.1.2"), SentAt: sent, At: later}, "apple_mpp"},
		{"apple mpp mapped v6", Hit{Method: "GET", UserAgent: chrome, IP: netip.MustParseAddr("::ffff:17.1.1.1"), SentAt: sent, At: later}, "apple_mpp"},
		{"scanner", Hit{Method: "GET", UserAgent: "Mozilla/5.0 (compatible; Barracuda Sentinel)", SentAt: sent, At: later}, "scanner"},
		{"library", Hit{Method: "GET", UserAgent: "python-requests/2.31", SentAt: sent, At: later}, "scanner"},
		{"too soon", Hit{Method: "GET", UserAgent: chrome, SentAt: sent, At: sent.Add(2 * time.Second)}, "too_soon"},
		{"send time unknown", Hit{Method: "GET", UserAgent: chrome, At: later}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Classify(tc.hit)
			require.Equal(t, tc.reason, v.Reason)
			require.Equal(t, tc.reason == "", v.Human)
		})
	}
}
