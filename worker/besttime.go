package worker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/nodes"
)

// Best-time evidence thresholds: the profile's own history decides from
// MinProfileEvidence events on; below that the journey audience's history
// decides from MinAudienceEvidence events; below that the node's default hour.
const (
	MinProfileEvidence  = 3
	MinAudienceEvidence = 20
	// EngagementLookback is how far back engagement is read.
	EngagementLookback = 180 * 24 * time.Hour
	profileEventLimit  = 500
	audienceEventLimit = 20000
)

// Best-time sources, as recorded in the ledger.
const (
	SourceProfile  = "profile"
	SourceAudience = "segment"
	SourceDefault  = "default"
)

// OutcomeScheduled is the ledger outcome of a best-time delay's decision,
// recorded when the run starts waiting (the wake-up is recorded as waited).
const OutcomeScheduled = "scheduled"

// BestHour is a learned engagement hour and where it came from.
type BestHour struct {
	Hour     int               `json:"hour"`
	Source   string            `json:"source"`
	Evidence int               `json:"evidence"`
	Share    float64           `json:"share"` // the hour's share of the smoothed histogram
	Hours    learn.HourProfile `json:"-"`
}

// ProfileHours is a profile's engagement-hour histogram in loc (its time
// zone), from the named events of the last EngagementLookback: posted
// events and the opens and clicks tracking recorded for people (a
// machine's, "human": false, never count; docs/engagement.md).
func (l *Learning) ProfileHours(ctx context.Context, profileID string, names []string, loc *time.Location) (learn.HourProfile, error) {
	now := l.cfg.Now()
	ts, err := l.st.HumanProfileEngagement(ctx, profileID, names, now.Add(-EngagementLookback), profileEventLimit)
	if err != nil {
		return learn.HourProfile{}, err
	}
	evs := make([]learn.Engagement, len(ts))
	for i, t := range ts {
		evs[i] = learn.Engagement{At: t, Location: loc}
	}
	return learn.Hours(evs, now, learn.DefaultHalfLife), nil
}

// AudienceHours is the engagement-hour histogram of a journey's entrants,
// each event in its profile's time zone (else fallback), cached per worker.
func (l *Learning) AudienceHours(ctx context.Context, journeyID string, names []string, fallback *time.Location) (learn.HourProfile, error) {
	key := journeyID + "/" + strings.Join(names, ",") + "/" + fallback.String()
	now := l.cfg.Now()
	l.mu.Lock()
	c, ok := l.audiences[key]
	l.mu.Unlock()
	if ok && now.Sub(c.at) < l.cfg.AudienceTTL && !now.Before(c.at) {
		return c.hours, nil
	}
	samples, err := l.st.HumanJourneyEngagement(ctx, journeyID, names, now.Add(-EngagementLookback), audienceEventLimit)
	if err != nil {
		return learn.HourProfile{}, err
	}
	locs := map[string]*time.Location{}
	evs := make([]learn.Engagement, len(samples))
	for i, s := range samples {
		loc, ok := locs[s.Timezone]
		if !ok {
			loc = fallback
			if s.Timezone != "" {
				if l, err := nodes.LoadTimezone(s.Timezone); err == nil {
					loc = l
				}
			}
			locs[s.Timezone] = loc
		}
		evs[i] = learn.Engagement{At: s.OccurredAt, Location: loc}
	}
	h := learn.Hours(evs, now, learn.DefaultHalfLife)
	l.mu.Lock()
	l.audiences[key] = cachedHours{hours: h, at: now}
	l.mu.Unlock()
	return h, nil
}

// ChooseHour picks the hour to aim for: the profile's when it has enough
// evidence, else the audience's, else defaultHour.
func ChooseHour(profile, audience learn.HourProfile, defaultHour int) BestHour {
	if h, share, ok := profile.Best(); ok && profile.Evidence >= MinProfileEvidence {
		return BestHour{Hour: h, Source: SourceProfile, Evidence: profile.Evidence, Share: share, Hours: profile}
	}
	if h, share, ok := audience.Best(); ok && audience.Evidence >= MinAudienceEvidence {
		return BestHour{Hour: h, Source: SourceAudience, Evidence: audience.Evidence, Share: share, Hours: audience}
	}
	var def learn.HourProfile
	def.Weights[defaultHour] = 1
	return BestHour{Hour: defaultHour, Source: SourceDefault, Hours: def}
}

// bestTimeWake is a best_time delay's wake time: the best local hour within
// the window, outside the journey's quiet hours.
func (x *exec) bestTimeWake(n *flows.CompiledNode) (time.Time, bool, map[string]any) {
	cfg := n.Config
	window := cfg.Duration("window")
	if window <= 0 {
		window = 24 * time.Hour
	}
	defaultHour := int(cfg.Int("default_hour"))
	if defaultHour < 0 || defaultHour > 23 {
		defaultHour = 0
	}
	names := engagementNames(cfg.String("events"))
	loc := x.location()
	fallback := time.UTC
	if x.c.Settings.Location != nil {
		fallback = x.c.Settings.Location
	}
	detail := map[string]any{"mode": "best_time"}
	var profile, audience learn.HourProfile
	var l *Learning
	if x.e != nil {
		l = x.e.learning()
	}
	if l != nil {
		// wakeTime has no context of its own; the reads are bounded here.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []string
		var err error
		if profile, err = l.ProfileHours(ctx, x.profile.ID, names, loc); err != nil {
			errs = append(errs, err.Error())
		}
		if profile.Evidence < MinProfileEvidence {
			if audience, err = l.AudienceHours(ctx, x.run.JourneyID, names, fallback); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			detail["error"] = strings.Join(errs, "; ")
		}
	}
	best := ChooseHour(profile, audience, defaultHour)
	var excluded func(time.Time) bool
	if q := x.c.Settings.QuietHours; q != nil {
		excluded = func(t time.Time) bool {
			quiet, _ := inQuietHours(t, loc, q.Start, q.End)
			return quiet
		}
	}
	wake := learn.PlanHour(x.now, loc, window, best.Hours.Scores(), best.Hour, excluded)
	detail["hour"] = best.Hour
	detail["source"] = best.Source
	detail["evidence"] = best.Evidence
	detail["share"] = round4(best.Share)
	detail["timezone"] = loc.String()
	detail["window"] = window.String()
	detail["until"] = wake.UTC().Format(time.RFC3339)
	detail["local"] = wake.In(loc).Format("Mon 15:04")
	if h := wake.In(loc).Hour(); h != best.Hour {
		detail["note"] = fmt.Sprintf("hour %02d:00 is not reachable within the window or is quiet; chose %02d:00", best.Hour, h)
	}
	return wake, true, detail
}
