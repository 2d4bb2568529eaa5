package connectors_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
)

func TestReadAdConsent(t *testing.T) {
	t.Parallel()
	st := func(s string) map[string]any {
		return map[string]any{"status": s, "source": "api", "at": "2026-01-01T00:00:00Z"}
	}
	const (
		u = connectors.SignalUnknown
		g = connectors.SignalGranted
		d = connectors.SignalDenied
	)
	for _, tt := range []struct {
		name    string
		consent map[string]any
		want    connectors.AdConsent
		upload  bool
	}{
		{"nothing", nil, connectors.AdConsent{UserData: u, Personalization: u}, false},
		{"other channels only", map[string]any{"email": st("granted")}, connectors.AdConsent{UserData: u, Personalization: u}, false},
		{"ads granted (stored)", map[string]any{"ads": st("granted")}, connectors.AdConsent{UserData: g, Personalization: g}, true},
		{"ads true", map[string]any{"ads": true}, connectors.AdConsent{UserData: g, Personalization: g}, true},
		{"ads GRANTED", map[string]any{"ads": "GRANTED"}, connectors.AdConsent{UserData: g, Personalization: g}, true},
		{"ad_user_data alone", map[string]any{"ad_user_data": st("granted")}, connectors.AdConsent{UserData: g, Personalization: u}, true},
		{"ads, personalization revoked", map[string]any{"ads": st("granted"), "ad_personalization": st("revoked")},
			connectors.AdConsent{UserData: g, Personalization: d}, true},
		{"ads revoked", map[string]any{"ads": st("revoked")}, connectors.AdConsent{UserData: d, Personalization: d}, false},
		{"ads false", map[string]any{"ads": false}, connectors.AdConsent{UserData: d, Personalization: d}, false},
		{"ads unsubscribed", map[string]any{"ads": st("unsubscribed")}, connectors.AdConsent{UserData: d, Personalization: d}, false},
		{"ads opted_out, ad_user_data granted", map[string]any{"ads": st("opted_out"), "ad_user_data": st("granted")},
			connectors.AdConsent{UserData: d, Personalization: d}, false},
		{"ad_user_data revoked, ads granted", map[string]any{"ads": st("granted"), "ad_user_data": st("revoked")},
			connectors.AdConsent{UserData: d, Personalization: g}, false},
		{"unknown status", map[string]any{"ads": "maybe"}, connectors.AdConsent{UserData: d, Personalization: d}, false},
		{"empty status", map[string]any{"ads": st("")}, connectors.AdConsent{UserData: u, Personalization: u}, false},
		{"null", map[string]any{"ads": nil}, connectors.AdConsent{UserData: u, Personalization: u}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := connectors.ReadAdConsent(tt.consent)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.upload, got.MayUpload())
		})
	}
}
