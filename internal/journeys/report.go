package journeys

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// ReportStore is what a journey's report reads: the ledger's aggregates.
type ReportStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	JourneyTimeline(ctx context.Context, workspaceID, journeyID, bucket string, p store.Period) (store.JourneyTimeline, error)
	JourneyMessageVolume(ctx context.Context, workspaceID, journeyID string, p store.Period) ([]store.ChannelCount, error)
	JourneyVariants(ctx context.Context, workspaceID, journeyID string, version int) ([]store.VariantCount, error)
	JourneyPaths(ctx context.Context, workspaceID, journeyID string, version int, p store.Period) ([]store.PathCount, bool, error)
	JourneyStats(ctx context.Context, workspaceID, journeyID string, version int) (store.JourneyStats, error)
	MessageEngagement(ctx context.Context, workspaceID, journeyID string, version int, p store.Period) ([]store.StepEngagement, error)
}

// Reports computes journeys' numbers: a version's per-node counters
// (Stats), the report's entries and conversions over time, messages per
// channel, the funnel along the most common path, split variants'
// conversion rates with intervals (Report), and lift against holdouts
// (Lift). The pages draw them; the API serves them as JSON.
type Reports struct {
	store ReportStore
	docs  *Service
}

// NewReports returns the report service; docs reads the live version's
// node titles.
func NewReports(st ReportStore, docs *Service) *Reports {
	return &Reports{store: st, docs: docs}
}

// Report ranges.
const (
	Range30Days  = "30d" // one bucket a day, the last 30 days
	Range48Hours = "48h" // one bucket an hour, the last 48 hours
)

// RangeError: a report range other than Range30Days and Range48Hours.
type RangeError struct {
	Range string
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("range: want %s or %s, got %q", Range30Days, Range48Hours, e.Range)
}

// Report is a journey's numbers over a range.
type Report struct {
	Journey     store.Journey
	Range       string
	Buckets     []Bucket // oldest first
	Entries     int64    // over the range
	Conversions int64
	Channels    []ChannelVolume // sorted by channel
	// Funnel follows the live version's most common path; Truncated: the
	// paths were read only in part.
	Funnel          []FunnelStep
	FunnelTruncated bool
	Variants        []VariantRate // the live version's split variants
	// Messages are the journey's message steps' engagement over the range
	// (deliveries written in it, every version), by node id.
	Messages []MessageStep
}

// Bucket is one day or hour of the range.
type Bucket struct {
	Start       time.Time
	Label       string // 2006-01-02, or 2006-01-02 15:00 for hours
	Entries     int64
	Conversions int64
}

// ChannelVolume is the messages of one channel, by delivery status.
type ChannelVolume struct {
	Channel  string
	Total    int64
	ByStatus []store.ChannelCount // in the store's order
}

// FunnelStep is how many runs reached a node along the most common path;
// Share is that as a fraction of the first step (0 when it had none).
type FunnelStep struct {
	NodeID  string
	Title   string
	Reached int64
	Share   float64
}

// VariantRate is a split variant's conversion rate with its 95% Wilson
// score interval.
type VariantRate struct {
	NodeID, Variant string
	Runs, Converted int64
	Rate, Low, High float64
}

// Report computes journeyID's report over rng (Range30Days or
// Range48Hours) ending at now.
func (r *Reports) Report(ctx context.Context, ws, journeyID, rng string, now time.Time) (Report, error) {
	j, err := r.store.GetJourney(ctx, ws, journeyID)
	if err != nil {
		return Report{}, err
	}
	now = now.UTC()
	var bucket, layout string
	var starts []time.Time
	switch rng {
	case Range30Days:
		bucket, layout = store.BucketDay, "2006-01-02"
		first := now.Truncate(24*time.Hour).AddDate(0, 0, -29)
		for i := 0; i < 30; i++ {
			starts = append(starts, first.AddDate(0, 0, i))
		}
	case Range48Hours:
		bucket, layout = store.BucketHour, "2006-01-02 15:00"
		first := now.Truncate(time.Hour).Add(-47 * time.Hour)
		for i := 0; i < 48; i++ {
			starts = append(starts, first.Add(time.Duration(i)*time.Hour))
		}
	default:
		return Report{}, &RangeError{Range: rng}
	}
	period := store.Period{From: starts[0], To: now.Add(time.Second)}
	rep := Report{Journey: j, Range: rng}

	tl, err := r.store.JourneyTimeline(ctx, ws, j.ID, bucket, period)
	if err != nil {
		return Report{}, err
	}
	entries, conv := map[time.Time]int64{}, map[time.Time]int64{}
	for _, t := range tl.Entries {
		entries[t.Start] = t.Count
		rep.Entries += t.Count
	}
	for _, t := range tl.Conversions {
		conv[t.Start] = t.Count
		rep.Conversions += t.Count
	}
	for _, b := range starts {
		rep.Buckets = append(rep.Buckets, Bucket{Start: b, Label: b.Format(layout), Entries: entries[b], Conversions: conv[b]})
	}

	vol, err := r.store.JourneyMessageVolume(ctx, ws, j.ID, period)
	if err != nil {
		return Report{}, err
	}
	byChannel := map[string]*ChannelVolume{}
	for _, v := range vol {
		cv := byChannel[v.Channel]
		if cv == nil {
			cv = &ChannelVolume{Channel: v.Channel}
			byChannel[v.Channel] = cv
		}
		cv.Total += v.Count
		cv.ByStatus = append(cv.ByStatus, v)
	}
	for _, cv := range byChannel {
		rep.Channels = append(rep.Channels, *cv)
	}
	sort.Slice(rep.Channels, func(a, b int) bool { return rep.Channels[a].Channel < rep.Channels[b].Channel })

	if rep.Messages, err = r.MessageSteps(ctx, ws, j.ID, 0, period); err != nil {
		return Report{}, err
	}
	if j.LiveVersion == 0 {
		return rep, nil
	}
	doc, err := r.docs.Document(ctx, ws, j.ID, j.LiveVersion)
	if err != nil {
		return Report{}, err
	}
	titles := map[string]string{}
	for _, n := range doc.Nodes {
		titles[n.ID] = n.Title
	}
	paths, truncated, err := r.store.JourneyPaths(ctx, ws, j.ID, j.LiveVersion, period)
	if err != nil {
		return Report{}, err
	}
	rep.FunnelTruncated = truncated
	steps, reached := funnelSteps(paths)
	var first float64
	for i, id := range steps {
		if i == 0 {
			first = float64(reached[i])
		}
		st := FunnelStep{NodeID: id, Title: titles[id], Reached: reached[i]}
		if first > 0 {
			st.Share = float64(reached[i]) / first
		}
		rep.Funnel = append(rep.Funnel, st)
	}

	vs, err := r.store.JourneyVariants(ctx, ws, j.ID, j.LiveVersion)
	if err != nil {
		return Report{}, err
	}
	for _, v := range vs {
		vr := VariantRate{NodeID: v.NodeID, Variant: v.Variant, Runs: v.Runs, Converted: v.Converted}
		if v.Runs > 0 {
			vr.Rate = float64(v.Converted) / float64(v.Runs)
		}
		vr.Low, vr.High = Wilson(v.Converted, v.Runs)
		rep.Variants = append(rep.Variants, vr)
	}
	return rep, nil
}

// MessageStep is one message step's engagement (docs/engagement.md):
// what was sent and what became of it. Opens and clicks are tracked for
// email (Tracked); a machine's open (Apple Mail Privacy Protection, a
// scanner) is never counted as opened. Rates are over Delivered (the
// bounce rate over Sent, click-to-open over Opened), 0 without a
// denominator.
type MessageStep struct {
	NodeID  string `json:"node_id"`
	Title   string `json:"title,omitempty"`
	Kind    string `json:"kind"`
	Tracked bool   `json:"tracked"` // opens and clicks are tracked for this kind (email)
	// Sent: handed to the provider. Delivered: Sent less Bounced (a
	// provider's delivery receipt is not needed). Bounced: accepted, then
	// reported failed by the provider.
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Bounced   int64 `json:"bounced"`
	// Opened and Clicked count messages a person opened or clicked
	// (unique); Opens and Clicks every time they did. A click implies an
	// open.
	Opened        int64 `json:"opened"`
	Clicked       int64 `json:"clicked"`
	Opens         int64 `json:"opens"`
	Clicks        int64 `json:"clicks"`
	MachineOpened int64 `json:"machine_opened"` // messages a machine opened (not counted in Opened)
	// Unsubscribed: recipients who unsubscribed after this message and
	// before the next to them. Converted: runs that reached the journey's
	// goal after this message.
	Unsubscribed    int64   `json:"unsubscribed"`
	Converted       int64   `json:"converted"`
	OpenRate        float64 `json:"open_rate"`
	ClickRate       float64 `json:"click_rate"`
	ClickToOpenRate float64 `json:"click_to_open_rate"`
	BounceRate      float64 `json:"bounce_rate"`
	UnsubscribeRate float64 `json:"unsubscribe_rate"`
	ConversionRate  float64 `json:"conversion_rate"`
}

// MessageSteps computes the engagement of a journey's message steps
// (version 0: every version; a zero period: all time), by node id, titled
// from that version (the draft for 0).
func (r *Reports) MessageSteps(ctx context.Context, ws, journeyID string, version int, p store.Period) ([]MessageStep, error) {
	raw, err := r.store.MessageEngagement(ctx, ws, journeyID, version, p)
	if err != nil {
		return nil, err
	}
	titles := map[string]string{}
	if len(raw) > 0 {
		if doc, err := r.docs.Document(ctx, ws, journeyID, version); err == nil {
			for _, n := range doc.Nodes {
				titles[n.ID] = n.Title
			}
		}
	}
	out := []MessageStep{}
	for _, e := range raw {
		spec, ok := r.docs.reg.Lookup(e.Channel)
		if !ok || spec.Action == nil || len(spec.Action.Message) == 0 {
			continue // not a message (an audience change)
		}
		m := MessageStep{NodeID: e.NodeID, Title: titles[e.NodeID], Kind: e.Channel, Tracked: spec.Action.Channel == "email" && spec.Action.HasPart(nodes.PartHTML),
			Sent: e.Sent, Bounced: e.Bounced, Delivered: max(0, e.Sent-e.Bounced), Opened: e.Opened, Clicked: e.Clicked,
			Opens: e.Opens, Clicks: e.Clicks, MachineOpened: e.MachineOpened, Unsubscribed: e.Unsubscribed, Converted: e.Converted}
		m.OpenRate = rate(m.Opened, m.Delivered)
		m.ClickRate = rate(m.Clicked, m.Delivered)
		m.ClickToOpenRate = rate(m.Clicked, m.Opened)
		m.BounceRate = rate(m.Bounced, m.Sent)
		m.UnsubscribeRate = rate(m.Unsubscribed, m.Delivered)
		m.ConversionRate = rate(m.Converted, m.Delivered)
		out = append(out, m)
	}
	return out, nil
}

// StatsWithMessages are a version's numbers (Stats) and its message
// steps' engagement: GET /api/v1/journeys/{id}/stats and the canvas's
// counters. Messages is empty for a journey never published.
type StatsWithMessages struct {
	Stats
	Messages []MessageStep `json:"messages"`
}

// StatsWithMessages computes Stats and the same version's MessageSteps.
func (r *Reports) StatsWithMessages(ctx context.Context, ws, journeyID string, version int) (StatsWithMessages, error) {
	st, err := r.Stats(ctx, ws, journeyID, version)
	if err != nil {
		return StatsWithMessages{}, err
	}
	out := StatsWithMessages{Stats: st, Messages: []MessageStep{}}
	if st.Version > 0 {
		if out.Messages, err = r.MessageSteps(ctx, ws, st.JourneyID, st.Version, store.Period{}); err != nil {
			return StatsWithMessages{}, err
		}
	}
	return out, nil
}

func rate(x, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return min(1, float64(x)/float64(n))
}

// Wilson is the 95% Wilson score interval of x successes in n trials.
func Wilson(x, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 0
	}
	const z = 1.959963984540054
	p, nf := float64(x)/float64(n), float64(n)
	den := 1 + z*z/nf
	center := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(0, center-half), min(1, center+half)
}

// funnelSteps picks the most common path — the one most finished runs
// took (or, before any run finished, most runs so far) — and counts, for
// each step along it, the runs whose path begins with the path up to that
// step: how many got that far that way.
func funnelSteps(paths []store.PathCount) (steps []string, reached []int64) {
	var best *store.PathCount
	for i := range paths {
		p := &paths[i]
		switch {
		case best == nil,
			p.Finished && !best.Finished,
			p.Finished == best.Finished && p.Count > best.Count:
			best = p
		}
	}
	if best == nil {
		return nil, nil
	}
	steps = best.Nodes
	reached = make([]int64, len(steps))
	for _, p := range paths {
		for k := 0; k < len(steps) && k < len(p.Nodes) && p.Nodes[k] == steps[k]; k++ {
			reached[k] += p.Count
		}
	}
	return steps, reached
}

// Lift is a journey's conversion lift against holdouts, over every
// version: per split node with a holdout, the treatment (all variants)
// and each variant; Overall pools every such split (nil without one).
type Lift struct {
	JourneyID string
	Overall   *learn.Lift
	Splits    []SplitLift // by node id
}

// SplitLift is one split node's lift.
type SplitLift struct {
	NodeID    string
	Treatment learn.Lift
	Variants  []VariantLift
}

// VariantLift is one variant's lift against its split's holdout.
type VariantLift struct {
	Variant string
	learn.Lift
}

// Lift computes journeyID's lift report.
func (r *Reports) Lift(ctx context.Context, ws, journeyID string) (Lift, error) {
	vs, err := r.store.JourneyVariants(ctx, ws, journeyID, 0)
	if err != nil {
		return Lift{}, err
	}
	byNode := map[string][]store.VariantCount{}
	var ids []string
	for _, v := range vs {
		if _, ok := byNode[v.NodeID]; !ok {
			ids = append(ids, v.NodeID)
		}
		byNode[v.NodeID] = append(byNode[v.NodeID], v)
	}
	sort.Strings(ids)
	out := Lift{JourneyID: journeyID}
	var tx, tn, hx, hn int64
	for _, id := range ids {
		var hold *store.VariantCount
		for i, v := range byNode[id] {
			if v.Variant == "holdout" {
				hold = &byNode[id][i]
			}
		}
		if hold == nil {
			continue
		}
		sl := SplitLift{NodeID: id, Variants: []VariantLift{}}
		var x, n int64
		for _, v := range byNode[id] {
			if v.Variant == "holdout" {
				continue
			}
			x, n = x+v.Converted, n+v.Runs
			sl.Variants = append(sl.Variants, VariantLift{Variant: v.Variant, Lift: learn.ComputeLift(v.Converted, v.Runs, hold.Converted, hold.Runs)})
		}
		sl.Treatment = learn.ComputeLift(x, n, hold.Converted, hold.Runs)
		tx, tn, hx, hn = tx+x, tn+n, hx+hold.Converted, hn+hold.Runs
		out.Splits = append(out.Splits, sl)
	}
	if len(out.Splits) > 0 {
		l := learn.ComputeLift(tx, tn, hx, hn)
		out.Overall = &l
	}
	return out, nil
}
