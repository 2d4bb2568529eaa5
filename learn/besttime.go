package learn

import (
	"math"
	"time"
)

// Engagement is one engagement event (an open, a click, a purchase) and the
// time zone of the profile that did it.
type Engagement struct {
	At       time.Time
	Location *time.Location // nil: UTC
}

// HourProfile is a recency-weighted histogram of the local hour of day at
// which engagement happened.
type HourProfile struct {
	// Weights[h] is the summed weight of events in local hour h; an event
	// of age a weighs 0.5^(a / half-life).
	Weights [24]float64 `json:"weights"`
	// Counts[h] is the plain number of events in local hour h.
	Counts [24]int `json:"counts"`
	// Evidence is the number of events counted.
	Evidence int `json:"evidence"`
}

// DefaultHalfLife is how fast old engagement fades: an event 30 days old
// counts half as much as one today.
const DefaultHalfLife = 30 * 24 * time.Hour

// Hours builds the hour-of-day histogram of events at now. Events in the
// future count with weight 1.
func Hours(events []Engagement, now time.Time, halfLife time.Duration) HourProfile {
	if halfLife <= 0 {
		halfLife = DefaultHalfLife
	}
	var p HourProfile
	for _, e := range events {
		loc := e.Location
		if loc == nil {
			loc = time.UTC
		}
		h := e.At.In(loc).Hour()
		age := now.Sub(e.At)
		w := 1.0
		if age > 0 {
			w = math.Exp2(-float64(age) / float64(halfLife))
		}
		p.Weights[h] += w
		p.Counts[h]++
		p.Evidence++
	}
	return p
}

// Scores smooths the histogram over neighbouring hours (weights ½, 1, ½,
// wrapping at midnight), so a habit split across 19:xx and 20:xx still wins
// over a single stray hour, and normalises the result to sum to 1.
func (p HourProfile) Scores() [24]float64 {
	var s [24]float64
	var total float64
	for h := 0; h < 24; h++ {
		s[h] = p.Weights[h] + 0.5*(p.Weights[(h+23)%24]+p.Weights[(h+1)%24])
		total += s[h]
	}
	if total > 0 {
		for h := range s {
			s[h] /= total
		}
	}
	return s
}

// Best returns the most likely engagement hour (the highest smoothed score,
// the earliest hour on a tie) and its share of the smoothed mass; ok is false
// when there is no evidence.
func (p HourProfile) Best() (hour int, share float64, ok bool) {
	if p.Evidence == 0 {
		return 0, 0, false
	}
	s := p.Scores()
	for h := 1; h < 24; h++ {
		if s[h] > s[hour]+1e-12 {
			hour = h
		}
	}
	return hour, s[hour], true
}

// PlanHour chooses when, within [now, now+window], to act so that it lands
// in the best local hour available: the candidates are now and every later
// top of a local hour up to the window's end, skipped where excluded (quiet
// hours) says so. The best candidate has the highest score; on a tie the one
// whose hour is closest (round the clock) to target, then the earliest.
// With every candidate excluded, it returns now+window.
func PlanHour(now time.Time, loc *time.Location, window time.Duration, scores [24]float64, target int, excluded func(time.Time) bool) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	end := now.Add(window)
	best := time.Time{}
	bestScore, bestDist := -1.0, 25
	consider := func(t time.Time) {
		if excluded != nil && excluded(t) {
			return
		}
		h := t.In(loc).Hour()
		d := h - target
		if d < 0 {
			d = -d
		}
		if 24-d < d {
			d = 24 - d
		}
		sc := scores[h]
		if sc > bestScore+1e-12 || (math.Abs(sc-bestScore) <= 1e-12 && d < bestDist) {
			best, bestScore, bestDist = t, sc, d
		}
	}
	consider(now)
	// Tops of local hours: step in absolute hours from the next local
	// hour boundary (time zones with half-hour offsets included).
	local := now.In(loc)
	t := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, loc).Add(time.Hour)
	for ; !t.After(end); t = t.Add(time.Hour) {
		consider(t)
	}
	if best.IsZero() {
		return end
	}
	return best
}
