package tracking

import (
	"net/netip"
	"strings"
	"time"
)

// MinHumanDelay: a hit sooner than this after the message was sent is a
// machine's (a security gateway opening or following links on arrival).
const MinHumanDelay = 10 * time.Second

// Hit is one request to the pixel or a redirect.
type Hit struct {
	Method    string // GET, HEAD…
	UserAgent string
	IP        netip.Addr // the client's address (invalid when unknown)
	SentAt    time.Time  // when the message went out (zero: unknown)
	At        time.Time
}

// Verdict is whether a hit is a person's, and when not, why.
type Verdict struct {
	Human  bool
	Reason string // "" for a person; else head_request, no_user_agent, apple_mpp, scanner, too_soon
}

// appleMPP is the address block Apple Mail Privacy Protection fetches
// remote content from (Apple's 17.0.0.0/8, as ESPs such as SparkPost,
// Litmus and Twilio SendGrid document); its proxy also sends the bare user
// agent "Mozilla/5.0".
var appleMPP = netip.MustParsePrefix("17.0.0.0/8")

// scannerAgents are substrings (lower case) of the user agents of link
// scanners, preview fetchers and HTTP libraries. Image proxies that fetch
// when a person opens the message (GoogleImageProxy, YahooMailProxy) are
// not on the list: their hits are opens.
var scannerAgents = []string{
	"bot", "crawler", "spider", "scanner", "scan/", "preview", "headless", "phantomjs", "python", "curl/", "wget",
	"go-http-client", "java/", "okhttp", "libwww", "httpclient", "axios", "node-fetch", "barracuda", "mimecast",
	"proofpoint", "zscaler", "symantec", "messagelabs", "forcepoint", "fortinet", "fortiguard", "sophos",
	"trendmicro", "trend micro", "cisco", "ironport", "checkpoint", "paloalto", "safelinks", "appengine-google",
	"facebookexternalhit", "slackbot", "whatsapp", "skypeuripreview", "discordbot", "microsoft office",
	"ms-office", "urlscan", "virustotal",
}

// Classify tells a person's hit from a machine's: HEAD requests, hits
// without a user agent, Apple Mail Privacy Protection's proxy, scanners'
// and libraries' user agents and hits within MinHumanDelay of the send are
// machines. The rules are in docs/engagement.md.
func Classify(h Hit) Verdict {
	if strings.EqualFold(h.Method, "HEAD") {
		return Verdict{Reason: "head_request"}
	}
	ua := strings.TrimSpace(h.UserAgent)
	if ua == "" {
		return Verdict{Reason: "no_user_agent"}
	}
	if ua == "Mozilla/5.0" || (h.IP.IsValid() && appleMPP.Contains(h.IP.Unmap())) {
		return Verdict{Reason: "apple_mpp"}
	}
	l := strings.ToLower(ua)
	for _, s := range scannerAgents {
		if strings.Contains(l, s) {
			return Verdict{Reason: "scanner"}
		}
	}
	if !h.SentAt.IsZero() && h.At.Sub(h.SentAt) < MinHumanDelay {
		return Verdict{Reason: "too_soon"}
	}
	return Verdict{Human: true}
}
