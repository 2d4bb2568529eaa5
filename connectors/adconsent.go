package connectors

import "strings"

// Signal is one ad consent signal as a profile records it.
type Signal int

// The three states of a signal.
const (
	// SignalUnknown: nothing recorded.
	SignalUnknown Signal = iota
	// SignalGranted: granted.
	SignalGranted
	// SignalDenied: recorded and not granted (revoked, opted out, denied…).
	SignalDenied
)

// AdConsent is a profile's consent for ad platforms: the two signals of
// Google's EU user consent policy, which Waymark applies to every audience
// connector.
type AdConsent struct {
	// UserData: may the profile's (hashed) identifiers be sent to an ad
	// platform at all. Consent keys ads and ad_user_data.
	UserData Signal
	// Personalization: may the platform use them for personalised ads.
	// Consent keys ads and ad_personalization.
	Personalization Signal
}

// ReadAdConsent reads a profile's consent map. "ads" is the general key;
// "ad_user_data" and "ad_personalization" are Google's consent signals.
// Each signal combines the general key and its own: any of the two
// recorded as not granted makes it denied (a withdrawal anywhere wins),
// else any of them granted makes it granted, else it is unknown.
//
// A key holds a status, as profiles store it ({"status": "granted"}), or a
// value (true, false, "granted", "revoked"…); granted is true or the status
// "granted" (any case; "true", "yes" and "1" too). A key that is absent,
// null or has an empty status is not recorded.
func ReadAdConsent(c map[string]any) AdConsent {
	general := signal(c["ads"])
	return AdConsent{UserData: combine(general, signal(c["ad_user_data"])), Personalization: combine(general, signal(c["ad_personalization"]))}
}

// MayUpload reports whether audience_add may upload the profile: its
// ad_user_data signal is granted. Removal never needs consent.
func (a AdConsent) MayUpload() bool { return a.UserData == SignalGranted }

// Why says, for a profile that may not be uploaded, why not.
func (a AdConsent) Why() string {
	if a.UserData == SignalDenied {
		return "ad-platform consent withdrawn (ads or ad_user_data not granted)"
	}
	return "no ad-platform consent (neither ads nor ad_user_data granted)"
}

func combine(a, b Signal) Signal {
	switch {
	case a == SignalDenied || b == SignalDenied:
		return SignalDenied
	case a == SignalGranted || b == SignalGranted:
		return SignalGranted
	}
	return SignalUnknown
}

func signal(v any) Signal {
	switch x := v.(type) {
	case nil:
		return SignalUnknown
	case map[string]any:
		return signal(x["status"])
	case bool:
		if x {
			return SignalGranted
		}
		return SignalDenied
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "":
			return SignalUnknown
		case "granted", "true", "yes", "1":
			return SignalGranted
		}
	}
	return SignalDenied
}
