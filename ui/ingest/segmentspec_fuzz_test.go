package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// The decoder never panics and answers every body either with calls that
// satisfy the entry path's rules or with a 4xx naming what is wrong.
func FuzzDecodeSpec(f *testing.F) {
	for _, s := range []struct{ call, body string }{
		{"track", `{"userId": "019mr8mf4r", "event": "Item Purchased", "properties": {"revenue": 14.99}, "timestamp": "2012-12-02T00:30:12.984Z"}`},
		{"identify", `{"anonymousId": "a", "userId": 42, "traits": {"email": "A@b.co", "phone": "555"}, "context": {"locale": "en-US", "timezone": "Europe/Paris"}}`},
		{"batch", `{"batch": [{"type": "page", "anonymousId": "x", "name": "Home"}, {"type": "alias", "previousId": "x", "userId": "u"}], "sentAt": "2020-01-01T00:00:00Z"}`},
		{"group", `{"userId": "u", "groupId": "g", "traits": {"name": "Initech"}}`},
		{"b", `{"batch": [{"type": "track"}], "writeKey": "k"}`},
		{"t", `{"userId": "u", "event": "e", "originalTimestamp": "2019-06-21T16:33:26.060Z", "sentAt": "2019-06-21T16:33:26.060Z", "messageId": "m"}`},
	} {
		f.Add(s.call, s.body)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, call, body string) {
		req, err := decodeSpec(call, []byte(body), now)
		if err != nil {
			e := httpkit.ToError(err)
			require.True(t, e.Status == 400 || e.Status == 404, "status %d: %v", e.Status, err)
			require.NotEmpty(t, e.Message)
			return
		}
		require.NotEmpty(t, req.Calls)
		for _, c := range req.Calls {
			require.True(t, c.UserID != "" || c.AnonymousID != "" || c.Type == specAlias)
			require.LessOrEqual(t, len(c.UserID), 256)
			require.LessOrEqual(t, len(c.AnonymousID), 200)
			if c.Event != nil {
				ev := *c.Event
				ev.ProfileID = "p"
				require.Empty(t, ev.Validate("", now), "a decoded event passes the entry path's validation")
				require.LessOrEqual(t, len(ev.IdempotencyKey), 255)
				if ev.OccurredAt != nil {
					require.False(t, ev.OccurredAt.After(now.Add(24*time.Hour)))
				}
			} else {
				require.True(t, c.Profile != nil || c.Type == specAlias)
			}
		}
	})
}

func TestDecodeSpecLimitsAndClock(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	// The client's clock is an hour fast: the call happened 2 s before it
	// was sent, so 2 s before it was received.
	req, err := decodeSpec("track", []byte(`{"userId": "u", "event": "e", "timestamp": "2026-12-07T13:00:00Z", "sentAt": "2026-12-07T13:00:02Z"}`), now)
	require.NoError(t, err)
	require.Equal(t, now.Add(-2*time.Second), *req.Calls[0].Event.OccurredAt)
	// Without sentAt the timestamp is taken as given.
	req, err = decodeSpec("track", []byte(`{"userId": "u", "event": "e", "timestamp": "2012-12-02T00:30:12.984Z"}`), now)
	require.NoError(t, err)
	require.Equal(t, time.Date(2012, 12, 2, 0, 30, 12, 984e6, time.UTC), *req.Calls[0].Event.OccurredAt)
	// The batch's sentAt applies to its calls.
	req, err = decodeSpec("batch", []byte(`{"batch": [{"type": "track", "userId": "u", "event": "e", "originalTimestamp": "2026-12-07T11:00:00Z"}], "sentAt": "2026-12-07T11:00:05Z"}`), now)
	require.NoError(t, err)
	require.Equal(t, now.Add(-5*time.Second), *req.Calls[0].Event.OccurredAt)

	call := `{"type": "track", "userId": "u", "event": "e", "properties": {"blob": "` + strings.Repeat("a", 20<<10) + `"}}`
	batch := `{"batch": [` + strings.TrimSuffix(strings.Repeat(call+",", 26), ",") + `]}`
	require.Greater(t, len(batch), SpecMaxBatchBytes)
	_, err = decodeSpec("batch", []byte(batch), now)
	require.Equal(t, "payload_too_large", httpkit.ToError(err).Code)
	many := `{"batch": [` + strings.TrimSuffix(strings.Repeat(`{"type":"track","userId":"u","event":"e"},`, SpecMaxBatchCalls+1), ",") + `]}`
	_, err = decodeSpec("batch", []byte(many), now)
	require.ErrorContains(t, err, "batch: at most 1000 calls")
}
