package worker

import (
	"fmt"
	"slices"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// nextLocalTime returns the first moment strictly after now when the wall
// clock in loc reads clock, on one of weekdays (any day if empty). Local
// dates are stepped in the calendar, not by adding 24h, so DST changes keep
// the wall-clock time: a 09:00 delay lands at 09:00 on both sides of a
// transition. A time that does not exist that day (spring-forward gap) is
// moved forward by the gap, as time.Date does.
func nextLocalTime(now time.Time, loc *time.Location, clock nodes.Clock, weekdays []time.Weekday) time.Time {
	local := now.In(loc)
	y, m, d := local.Date()
	for i := 0; i < 8; i++ {
		candidate := time.Date(y, m, d+i, clock.Hour, clock.Minute, 0, 0, loc)
		if c := candidate.In(loc); c.Hour() != clock.Hour || c.Minute() != clock.Minute {
			candidate = shiftOutOfGap(candidate, y, m, d+i, clock)
		}
		if !candidate.After(now) {
			continue
		}
		if len(weekdays) > 0 && !slices.Contains(weekdays, candidate.Weekday()) {
			continue
		}
		return candidate
	}
	// Unreachable with at least one weekday; be safe.
	return now.Add(24 * time.Hour)
}

// shiftOutOfGap places a wall-clock time that a spring-forward transition
// skips at the same distance after the gap's start as it would have had:
// 02:30 on a 02:00→03:00 day becomes 03:30 (the convention cron uses).
// time.Date alone does not guarantee which side it picks.
func shiftOutOfGap(t time.Time, y int, m time.Month, d int, clock nodes.Clock) time.Time {
	_, before := t.Add(-3 * time.Hour).Zone()
	_, after := t.Add(3 * time.Hour).Zone()
	off := min(before, after)
	return time.Date(y, m, d, clock.Hour, clock.Minute, 0, 0, time.UTC).Add(-time.Duration(off) * time.Second).In(t.Location())
}

// dateWake computes an until_date delay's wake time from the expression's
// value: the date at clock (default 00:00) in loc, shifted by offset; with
// yearly, the next anniversary (month and day) not before now. ok is false
// when the value is missing or not a date; the run then continues at once.
func dateWake(v any, now time.Time, loc *time.Location, clock nodes.Clock, hasClock bool, offset time.Duration, yearly bool) (time.Time, bool, error) {
	if v == nil {
		return time.Time{}, false, nil
	}
	t, err := expression.ToTime(v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("date: %v", err)
	}
	// A bare date (YYYY-MM-DD) means that calendar day in loc; a full
	// timestamp keeps its instant unless a time of day is set.
	local := t.In(loc)
	if s, isString := v.(string); isString && len(s) == len("2006-01-02") {
		local = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	// Whole days of the offset move the calendar date (so "-3d at 09:00"
	// stays 09:00 across a DST change); the rest is a plain duration.
	days := int(offset / (24 * time.Hour))
	rest := offset - time.Duration(days)*24*time.Hour
	at := func(year int) time.Time {
		h, mi, sec, ns := local.Hour(), local.Minute(), local.Second(), local.Nanosecond()
		if hasClock {
			h, mi, sec, ns = clock.Hour, clock.Minute, 0, 0
		}
		return time.Date(year, local.Month(), local.Day()+days, h, mi, sec, ns, loc).Add(rest)
	}
	if !yearly {
		return at(local.Year()), true, nil
	}
	year := now.In(loc).Year()
	for i := 0; i < 3; i++ {
		w := at(year + i)
		if !w.Before(now) {
			return w, true, nil
		}
	}
	return at(year + 1), true, nil
}

// inQuietHours reports whether local time t falls in the daily quiet window
// [start, end) (which may wrap past midnight), and if so when it ends.
func inQuietHours(t time.Time, loc *time.Location, start, end nodes.Clock) (bool, time.Time) {
	local := t.In(loc)
	mins := local.Hour()*60 + local.Minute()
	s, e := start.Minutes(), end.Minutes()
	if s == e {
		return false, time.Time{}
	}
	var quiet bool
	if s < e {
		quiet = mins >= s && mins < e
	} else {
		quiet = mins >= s || mins < e
	}
	if !quiet {
		return false, time.Time{}
	}
	return true, nextLocalTime(t, loc, end, nil)
}

// periodStart returns the start of the calendar day (period 24h) or week
// (Monday, period 7×24h) containing t in loc; other periods count back from t.
func periodStart(t time.Time, loc *time.Location, period time.Duration) time.Time {
	local := t.In(loc)
	y, m, d := local.Date()
	switch period {
	case 24 * time.Hour:
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	case 7 * 24 * time.Hour:
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	}
	return t.Add(-period)
}
