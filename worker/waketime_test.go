package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestNextLocalTimeAcrossDST(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	paris := mustLoc(t, "Europe/Paris")
	nine := nodes.Clock{Hour: 9}
	tests := []struct {
		name     string
		now      time.Time
		loc      *time.Location
		clock    nodes.Clock
		weekdays []time.Weekday
		want     time.Time
	}{
		// US spring forward: 2026-03-08 02:00 → 03:00. 09:00 EST on the 7th, 09:00 EDT on the 8th.
		{"before spring forward", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), ny, nine, nil, time.Date(2026, 3, 8, 9, 0, 0, 0, ny)},
		// EU fall back: 2026-10-25 03:00 → 02:00.
		{"across fall back", time.Date(2026, 10, 24, 20, 0, 0, 0, paris), paris, nine, nil, time.Date(2026, 10, 25, 9, 0, 0, 0, paris)},
		{"later today", time.Date(2026, 6, 1, 8, 0, 0, 0, paris), paris, nine, nil, time.Date(2026, 6, 1, 9, 0, 0, 0, paris)},
		{"exactly now is next day", time.Date(2026, 6, 1, 9, 0, 0, 0, paris), paris, nine, nil, time.Date(2026, 6, 2, 9, 0, 0, 0, paris)},
		// 2026-06-05 is a Friday: the next weekday 09:00 is Monday the 8th.
		{"weekdays skip weekend", time.Date(2026, 6, 5, 10, 0, 0, 0, paris), paris, nine,
			[]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, time.Date(2026, 6, 8, 9, 0, 0, 0, paris)},
		// 02:30 does not exist in New York on 2026-03-08: it lands an hour later.
		{"inside the gap", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), ny, nodes.Clock{Hour: 2, Minute: 30}, nil, time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextLocalTime(tt.now, tt.loc, tt.clock, tt.weekdays)
			require.True(t, got.Equal(tt.want), "got %v want %v", got, tt.want)
			if tt.name != "inside the gap" {
				l := got.In(tt.loc)
				require.Equal(t, tt.clock.Hour, l.Hour(), "wall clock kept")
			}
		})
	}
	// The elapsed time across spring-forward is 23h, not 24h.
	got := nextLocalTime(time.Date(2026, 3, 7, 9, 0, 0, 0, ny), ny, nine, nil)
	require.Equal(t, 23*time.Hour, got.Sub(time.Date(2026, 3, 7, 9, 0, 0, 0, ny)))
}

func TestDateWake(t *testing.T) {
	t.Parallel()
	paris := mustLoc(t, "Europe/Paris")
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, paris)
	w, ok, err := dateWake("1990-06-20", now, paris, nodes.Clock{Hour: 9}, true, 0, true)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.Equal(time.Date(2026, 6, 20, 9, 0, 0, 0, paris)), "%v", w)
	w, ok, err = dateWake("1990-06-01", now, paris, nodes.Clock{Hour: 9}, true, -3*24*time.Hour, true)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.Equal(time.Date(2027, 5, 29, 9, 0, 0, 0, paris)), "next year's anniversary minus 3 days: %v", w)
	w, ok, err = dateWake("2026-07-01T10:00:00Z", now, paris, nodes.Clock{}, false, time.Hour, false)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.Equal(time.Date(2026, 7, 1, 11, 0, 0, 0, time.UTC)))
	w, ok, err = dateWake("2026-07-01T10:00:00.250Z", now, paris, nodes.Clock{}, false, 0, false)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.Equal(time.Date(2026, 7, 1, 10, 0, 0, 250e6, time.UTC)), "a full timestamp keeps its instant, fractions of a second too: %v", w)
	_, ok, err = dateWake(nil, now, paris, nodes.Clock{}, false, 0, false)
	require.NoError(t, err)
	require.False(t, ok)
	_, _, err = dateWake("next tuesday", now, paris, nodes.Clock{}, false, 0, false)
	require.Error(t, err)
}

func TestQuietHoursAndPeriods(t *testing.T) {
	t.Parallel()
	paris := mustLoc(t, "Europe/Paris")
	start, end := nodes.Clock{Hour: 21}, nodes.Clock{Hour: 8}
	quiet, until := inQuietHours(time.Date(2026, 6, 1, 23, 0, 0, 0, paris), paris, start, end)
	require.True(t, quiet)
	require.True(t, until.Equal(time.Date(2026, 6, 2, 8, 0, 0, 0, paris)))
	quiet, until = inQuietHours(time.Date(2026, 6, 2, 7, 59, 0, 0, paris), paris, start, end)
	require.True(t, quiet)
	require.True(t, until.Equal(time.Date(2026, 6, 2, 8, 0, 0, 0, paris)))
	quiet, _ = inQuietHours(time.Date(2026, 6, 2, 8, 0, 0, 0, paris), paris, start, end)
	require.False(t, quiet)
	quiet, _ = inQuietHours(time.Date(2026, 6, 2, 13, 0, 0, 0, paris), paris, nodes.Clock{Hour: 12}, nodes.Clock{Hour: 14})
	require.True(t, quiet)

	wed := time.Date(2026, 6, 3, 15, 0, 0, 0, paris)
	require.True(t, periodStart(wed, paris, 24*time.Hour).Equal(time.Date(2026, 6, 3, 0, 0, 0, 0, paris)))
	require.True(t, periodStart(wed, paris, 7*24*time.Hour).Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, paris)))
	sun := time.Date(2026, 6, 7, 15, 0, 0, 0, paris)
	require.True(t, periodStart(sun, paris, 7*24*time.Hour).Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, paris)))
}

func TestDateOffsetKeepsWallClockAcrossDST(t *testing.T) {
	t.Parallel()
	paris := mustLoc(t, "Europe/Paris")
	// Three days before 30 March 2026 (after the 29 March change) at
	// 09:00 is 27 March 09:00 CET, not 08:00.
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, paris)
	w, ok, err := dateWake("2026-03-30", now, paris, nodes.Clock{Hour: 9}, true, -3*24*time.Hour, false)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.Equal(time.Date(2026, 3, 27, 9, 0, 0, 0, paris)), "%v", w.In(paris))
	// A sub-day remainder still applies as a duration.
	w, _, err = dateWake("2026-03-30", now, paris, nodes.Clock{Hour: 9}, true, -(3*24*time.Hour + 90*time.Minute), false)
	require.NoError(t, err)
	require.True(t, w.Equal(time.Date(2026, 3, 27, 7, 30, 0, 0, paris)), "%v", w.In(paris))
}
