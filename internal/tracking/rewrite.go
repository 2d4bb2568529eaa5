package tracking

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
)

// MaxLinks bounds how many links of one message are tracked; links past
// it are left as they are.
const MaxLinks = 500

// NoTrackAttr on a link leaves it untracked (and is removed from the
// message): <a href="…" data-waymark-notrack>.
const NoTrackAttr = "data-waymark-notrack"

// Message names the delivery whose HTML is rewritten.
type Message struct {
	WorkspaceID string
	DeliveryID  string
}

// Rewriter puts tracking into a message's HTML.
type Rewriter struct {
	// Base is Waymark's public base URL (no trailing slash): the redirect
	// and the pixel are served under Base/t/. Links to Base/u/ (the
	// unsubscribe page) and Base/t/ are never rewritten.
	Base   string
	Signer *Signer
}

// ClickURL is the redirect URL for a token.
func (r *Rewriter) ClickURL(tok string) string { return r.Base + "/t/c/" + tok }

// PixelURL is the open pixel's URL for a token.
func (r *Rewriter) PixelURL(tok string) string { return r.Base + "/t/o/" + tok + ".gif" }

// Rewrite returns src with every trackable link (<a> and <area> href,
// http or https) through a signed click redirect and an open pixel before
// the closing </body> (at the end when there is none), and the links it
// rewrote in order (their index is their token's link index). Everything
// else is copied byte for byte: mailto:, tel:, #anchors, relative links,
// the unsubscribe link, links with NoTrackAttr, comments (Outlook's
// conditional blocks included), scripts and styles. It parses with the
// HTML5 tokenizer, never with patterns over the text.
func (r *Rewriter) Rewrite(src string, m Message) (string, []string) {
	if r == nil || r.Signer == nil || r.Base == "" || m.DeliveryID == "" || m.WorkspaceID == "" {
		return src, nil
	}
	var out bytes.Buffer
	out.Grow(len(src) + 512)
	var links []string
	z := html.NewTokenizer(strings.NewReader(src))
	bodyEnd := -1 // where the last </body> starts in out
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			// io.EOF or a tokenizer error: copy what is left as it is.
			out.Write(z.Raw())
			break
		}
		// TagName and TagAttr lower-case and unescape in the tokenizer's
		// buffer, which Raw points into: keep a copy first.
		raw := append([]byte(nil), z.Raw()...)
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if hasAttr && (bytes.Equal(name, []byte("a")) || bytes.Equal(name, []byte("area"))) && len(links) < MaxLinks {
				rawCopy := raw
				tok := tokenFromTokenizer(z, tt, name)
				if rewritten, link, ok := r.link(tok, m, len(links)); ok {
					out.WriteString(rewritten)
					if link != "" {
						links = append(links, link)
					}
					continue
				}
				out.Write(rawCopy)
				continue
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); bytes.Equal(name, []byte("body")) {
				bodyEnd = out.Len()
			}
		}
		out.Write(raw)
	}
	pixel := r.pixel(m)
	if pixel == "" {
		return out.String(), links
	}
	s := out.String()
	if bodyEnd >= 0 {
		return s[:bodyEnd] + pixel + s[bodyEnd:], links
	}
	return s + pixel, links
}

// tokenFromTokenizer reads the current tag's attributes (TagAttr
// unescapes values as a browser does: &amp; is &).
func tokenFromTokenizer(z *html.Tokenizer, tt html.TokenType, name []byte) html.Token {
	t := html.Token{Type: tt, Data: string(name)}
	for {
		k, v, more := z.TagAttr()
		t.Attr = append(t.Attr, html.Attribute{Key: string(k), Val: string(v)})
		if !more {
			break
		}
	}
	return t
}

// link rewrites one tag. ok false: copy the tag as it was. A tag with
// NoTrackAttr is re-serialised without it and with no link.
func (r *Rewriter) link(t html.Token, m Message, index int) (string, string, bool) {
	href := -1
	skip := false
	for i, a := range t.Attr {
		switch a.Key {
		case "href":
			if href < 0 {
				href = i
			}
		case NoTrackAttr:
			skip = true
		}
	}
	if skip {
		attrs := t.Attr[:0:0]
		for _, a := range t.Attr {
			if a.Key != NoTrackAttr {
				attrs = append(attrs, a)
			}
		}
		t.Attr = attrs
		return t.String(), "", true
	}
	if href < 0 {
		return "", "", false
	}
	target := strings.TrimSpace(t.Attr[href].Val)
	if !Trackable(target) || r.own(target) {
		return "", "", false
	}
	tok, err := r.Signer.Sign(Token{Kind: Click, WorkspaceID: m.WorkspaceID, DeliveryID: m.DeliveryID, Link: index, URL: target})
	if err != nil {
		return "", "", false
	}
	t.Attr[href].Val = r.ClickURL(tok)
	return t.String(), target, true
}

// own reports a link to Waymark's own unsubscribe page or tracking routes.
func (r *Rewriter) own(target string) bool {
	l := strings.ToLower(target)
	b := strings.ToLower(r.Base)
	return strings.HasPrefix(l, b+"/u/") || strings.HasPrefix(l, b+"/t/")
}

func (r *Rewriter) pixel(m Message) string {
	tok, err := r.Signer.Sign(Token{Kind: Open, WorkspaceID: m.WorkspaceID, DeliveryID: m.DeliveryID})
	if err != nil {
		return ""
	}
	return `<img src="` + html.EscapeString(r.PixelURL(tok)) + `" width="1" height="1" alt="" border="0" style="display:block;height:1px;width:1px;border:0;margin:0;padding:0">`
}
