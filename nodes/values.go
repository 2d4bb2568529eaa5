package nodes

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zone names validate the same on every host, with or without zoneinfo
)

// Day and Week are the calendar-free units used by durations.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// MaxDuration bounds every duration value: two years.
const MaxDuration = 730 * Day

var durationUnits = map[byte]time.Duration{
	'w': Week, 'd': Day, 'h': time.Hour, 'm': time.Minute, 's': time.Second,
}

// ParseDuration parses a duration such as "90m", "2h", "3d", "1w2d12h" or
// "-1d". Units are w, d (24 h), h, m and s; each number is a whole number.
// It rejects values beyond ±[MaxDuration].
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, errors.New("empty duration")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", orig)
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("invalid duration %q: use a whole number and a unit (w, d, h, m, s), e.g. 3d or 1h30m", orig)
		}
		if i > 9 {
			return 0, fmt.Errorf("duration %q is too long (at most %s)", orig, FormatDuration(MaxDuration))
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		unit, ok := durationUnits[s[i]]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (use w, d, h, m or s)", orig, s[i:i+1])
		}
		total += time.Duration(n) * unit
		if total > MaxDuration {
			return 0, fmt.Errorf("duration %q is too long (at most %s)", orig, FormatDuration(MaxDuration))
		}
		s = s[i+1:]
	}
	if neg {
		total = -total
	}
	return total, nil
}

// FormatDuration formats d in the form ParseDuration reads, largest
// units first, without weeks ("9d3h", "730d"). Sub-second parts are
// dropped.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		c byte
		d time.Duration
	}{{'d', Day}, {'h', time.Hour}, {'m', time.Minute}, {'s', time.Second}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteByte(u.c)
			d -= n * u.d
		}
	}
	if b.Len() == 0 || b.String() == "-" {
		return "0s"
	}
	return b.String()
}

// Clock is a local time of day.
type Clock struct {
	Hour, Minute int
}

// ParseClock parses "HH:MM" (24-hour, "00:00" to "23:59").
func ParseClock(s string) (Clock, error) {
	if len(s) != 5 || s[2] != ':' {
		return Clock{}, fmt.Errorf("invalid time of day %q: use HH:MM, e.g. 09:30", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || s[0] == '+' || s[3] == '+' {
		return Clock{}, fmt.Errorf("invalid time of day %q: use HH:MM between 00:00 and 23:59", s)
	}
	return Clock{Hour: h, Minute: m}, nil
}

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// Minutes returns minutes since midnight.
func (c Clock) Minutes() int { return c.Hour*60 + c.Minute }

// MarshalText implements encoding.TextMarshaler.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// WeekdayNames are the accepted weekday names, Monday first.
var WeekdayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// ParseWeekday parses a three-letter lower-case weekday name ("mon").
func ParseWeekday(s string) (time.Weekday, error) {
	d, ok := weekdayNames[s]
	if !ok {
		return 0, fmt.Errorf("invalid weekday %q: use one of %s", s, strings.Join(WeekdayNames, ", "))
	}
	return d, nil
}

// LoadTimezone loads an IANA time zone by name. It rejects "Local" and
// the empty name, which would depend on the server.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Paris", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Paris", name)
	}
	return loc, nil
}

var cronDescriptors = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

var cronFields = []struct {
	name     string
	min, max int
	names    map[string]int
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{"day of week", 0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// ValidateCron checks a standard 5-field cron spec ("0 9 * * mon-fri")
// or a descriptor (@hourly, @daily, @midnight, @weekly, @monthly,
// @yearly, @annually). The accepted syntax is a subset of what
// github.com/robfig/cron/v3's standard parser reads.
func ValidateCron(spec string) error {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "@") {
		if cronDescriptors[spec] {
			return nil
		}
		return fmt.Errorf("unknown cron descriptor %q", spec)
	}
	parts := strings.Fields(spec)
	if len(parts) != 5 {
		return fmt.Errorf("cron spec %q has %d fields, want 5 (minute hour day-of-month month day-of-week)", spec, len(parts))
	}
	for i, p := range parts {
		f := cronFields[i]
		for _, item := range strings.Split(p, ",") {
			if err := cronItem(item, f.min, f.max, f.names); err != nil {
				return fmt.Errorf("cron %s field %q: %v", f.name, p, err)
			}
		}
	}
	return nil
}

func cronItem(item string, lo, hi int, names map[string]int) error {
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > hi-lo+1 {
			return fmt.Errorf("invalid step %q", step)
		}
	}
	if rng == "*" || rng == "?" {
		return nil
	}
	a, b, isRange := strings.Cut(rng, "-")
	x, err := cronValue(a, lo, hi, names)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	y, err := cronValue(b, lo, hi, names)
	if err != nil {
		return err
	}
	if y < x {
		return fmt.Errorf("range %q ends before it starts", rng)
	}
	return nil
}

func cronValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("value %q out of range %d-%d", s, lo, hi)
	}
	return n, nil
}
