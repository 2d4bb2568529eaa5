package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/store"
)

// LearningStore is the storage the learning features (bandit split,
// best-time delay) need.
type LearningStore interface {
	AssignSplit(ctx context.Context, journeyID, nodeID, runID string, decide store.SplitDecider) (store.SplitAssignment, bool, error)
	SplitCounts(ctx context.Context, journeyID, nodeID string) ([]store.ArmCount, error)
	SplitFreezes(ctx context.Context, journeyID string) ([]store.SplitFreeze, error)
	// The engagement events best-time learns from, without the opens and
	// clicks tracking recorded for machines (Apple MPP, scanners).
	HumanProfileEngagement(ctx context.Context, profileID string, names []string, since time.Time, limit int) ([]time.Time, error)
	HumanJourneyEngagement(ctx context.Context, journeyID string, names []string, since time.Time, limit int) ([]store.EngagementSample, error)
}

// LearningConfig tunes the learning features' per-worker caches.
type LearningConfig struct {
	// AllocationTTL is how long a worker reuses a bandit split's counts and
	// freeze (default 5s): a conversion or a freeze takes effect within it.
	AllocationTTL time.Duration
	// AudienceTTL is how long a worker reuses a journey audience's
	// engagement hours (default 10m).
	AudienceTTL time.Duration
	Now         func() time.Time // nil: time.Now
}

// Learning holds what the engine learns from: the store and short-lived
// per-worker caches of bandit allocations and audience engagement hours.
type Learning struct {
	st  LearningStore
	cfg LearningConfig

	mu        sync.Mutex
	allocs    map[string]cachedAllocation
	audiences map[string]cachedHours
}

type cachedAllocation struct {
	alloc learn.Allocation
	at    time.Time
}

type cachedHours struct {
	hours learn.HourProfile
	at    time.Time
}

// NewLearning returns the learning features' state for one worker.
func NewLearning(st LearningStore, cfg LearningConfig) *Learning {
	if cfg.AllocationTTL <= 0 {
		cfg.AllocationTTL = 5 * time.Second
	}
	if cfg.AudienceTTL <= 0 {
		cfg.AudienceTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Learning{st: st, cfg: cfg, allocs: map[string]cachedAllocation{}, audiences: map[string]cachedHours{}}
}

// learning returns the engine's Learning: the configured one, else an
// uncached one over the engine's store when it can serve it (nil if not).
func (e *Engine) learning() *Learning {
	if e.cfg.Learning != nil {
		return e.cfg.Learning
	}
	if ls, ok := e.cfg.Store.(LearningStore); ok {
		return &Learning{st: ls, cfg: LearningConfig{Now: e.now}, allocs: map[string]cachedAllocation{}, audiences: map[string]cachedHours{}}
	}
	return nil
}

// allocation returns a bandit split's current allocation, from the cache
// while fresh: the counts, the freeze and the Monte Carlo over them are
// reused for AllocationTTL.
func (l *Learning) allocation(ctx context.Context, journeyID, nodeID string, variants []string, minShare float64) (learn.Allocation, error) {
	key := fmt.Sprintf("%s/%s/%s/%g", journeyID, nodeID, strings.Join(variants, ","), minShare)
	now := l.cfg.Now()
	l.mu.Lock()
	c, ok := l.allocs[key]
	l.mu.Unlock()
	if ok && now.Sub(c.at) < l.cfg.AllocationTTL && !now.Before(c.at) {
		return c.alloc, nil
	}
	counts, err := l.st.SplitCounts(ctx, journeyID, nodeID)
	if err != nil {
		return learn.Allocation{}, err
	}
	freezes, err := l.st.SplitFreezes(ctx, journeyID)
	if err != nil {
		return learn.Allocation{}, err
	}
	frozen := ""
	for _, f := range freezes {
		if f.NodeID == nodeID {
			frozen = f.Variant
		}
	}
	a := BanditAllocation(journeyID, nodeID, variants, counts, minShare, frozen)
	l.mu.Lock()
	l.allocs[key] = cachedAllocation{alloc: a, at: now}
	l.mu.Unlock()
	return a, nil
}

// BanditAllocation computes a bandit split's current allocation over its
// variants (in order) from the variants' assignments and conversions,
// honouring a freeze. minShare is a fraction of the non-holdout traffic.
func BanditAllocation(journeyID, nodeID string, variants []string, counts []store.ArmCount, minShare float64, frozen string) learn.Allocation {
	byName := map[string]store.ArmCount{}
	for _, c := range counts {
		byName[c.Variant] = c
	}
	arms := make([]learn.Arm, len(variants))
	for i, v := range variants {
		c := byName[v]
		arms[i] = learn.Arm{Name: v, Trials: c.Runs, Conversions: c.Conversions}
	}
	a := learn.SplitAllocation(journeyID, nodeID, arms, minShare)
	for _, v := range variants {
		if v == frozen {
			return a.Freeze(frozen)
		}
	}
	return a
}

// splitNode runs a split node: random by weight, or the bandit.
func (x *exec) splitNode(ctx context.Context, n *flows.CompiledNode) (string, map[string]any, error) {
	if n.Config.String("strategy") != "bandit" {
		p, detail := x.split(n)
		return p, detail, nil
	}
	l := x.e.learning()
	if l == nil {
		return "", nil, errors.New("the bandit split needs a store that keeps split assignments")
	}
	var variants []string
	for _, v := range n.Config.List("variants") {
		variants = append(variants, v.String("name"))
	}
	holdout := int(n.Config.Int("holdout"))
	minShare := float64(n.Config.Int("min_share")) / 100
	alloc, err := l.allocation(ctx, x.run.JourneyID, n.ID, variants, minShare)
	if err != nil {
		return "", nil, fmt.Errorf("loading split %s counts: %w", n.ID, err)
	}
	decide := func(index int64) (string, map[string]any) {
		detail := map[string]any{"strategy": "bandit", "entry_index": index}
		if learn.Holdout(index, holdout) {
			detail["variant"] = "holdout"
			detail["holdout_pct"] = holdout
			return "holdout", detail
		}
		// The draw is derived from (run, node): replaying the decision
		// from the recorded allocation gives the same variant.
		u := learn.NewRand(learn.Seed(x.run.ID, n.ID)).Float64()
		k := learn.Pick(alloc.Shares(), u)
		arms := make([]map[string]any, len(alloc.Arms))
		for i, a := range alloc.Arms {
			arms[i] = map[string]any{"name": a.Name, "trials": a.Trials, "conversions": a.Conversions,
				"mean": round4(a.Mean), "low": round4(a.Low), "high": round4(a.High), "prob_best": round4(a.ProbBest), "share": round4(a.Share)}
		}
		detail["variant"] = variants[k]
		detail["draw"] = round4(u)
		detail["allocation"] = arms
		detail["min_share"] = minShare
		if alloc.Frozen != "" {
			detail["frozen"] = alloc.Frozen
		}
		return variants[k], detail
	}
	a, _, err := l.st.AssignSplit(ctx, x.run.JourneyID, n.ID, x.run.ID, decide)
	if err != nil {
		return "", nil, fmt.Errorf("assigning split %s: %w", n.ID, err)
	}
	return a.Variant, a.Detail, nil
}

func round4(f float64) float64 {
	return float64(int64(f*10000+0.5)) / 10000
}

// engagementNames parses a comma-separated list of event names.
func engagementNames(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return DefaultEngagementEvents
	}
	return out
}

// DefaultEngagementEvents are the events a best-time delay learns from
// unless it names its own.
var DefaultEngagementEvents = []string{"email_opened", "email_clicked", "sms_clicked", "purchase"}
