package learn

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
)

// Arm is one variant's evidence: how many runs it received and how many of
// them converted.
type Arm struct {
	Name        string
	Trials      int64
	Conversions int64
}

// Posterior is Beta(1 + conversions, 1 + non-conversions): a uniform prior
// updated with the arm's evidence.
func (a Arm) Posterior() (alpha, beta float64) {
	fails := a.Trials - a.Conversions
	if fails < 0 {
		fails = 0
	}
	return 1 + float64(a.Conversions), 1 + float64(fails)
}

// ArmEstimate is what the bandit believes about one arm.
type ArmEstimate struct {
	Name        string  `json:"name"`
	Trials      int64   `json:"trials"`
	Conversions int64   `json:"conversions"`
	Mean        float64 `json:"mean"`      // posterior mean conversion rate
	Low         float64 `json:"low"`       // 2.5% posterior quantile
	High        float64 `json:"high"`      // 97.5% posterior quantile
	ProbBest    float64 `json:"prob_best"` // estimated probability this arm has the highest rate
	Share       float64 `json:"share"`     // share of the non-holdout traffic it gets now
}

// Allocation is the bandit's current split of non-holdout traffic.
type Allocation struct {
	Arms     []ArmEstimate `json:"arms"`
	MinShare float64       `json:"min_share"`
	Draws    int           `json:"draws"`
	Frozen   string        `json:"frozen,omitempty"` // all traffic to this arm
}

// DefaultDraws is the number of Monte Carlo draws per allocation: the
// standard error of a probability estimated from it is at most 0.5/√4000 ≈ 0.008.
const DefaultDraws = 4000

// Allocate estimates, by Monte Carlo with draws joint samples from the arms'
// posteriors, each arm's probability of being best (Thompson sampling's
// assignment probabilities) and its 95% credible interval, then clips the
// shares to at least minShare each (a fraction, 0 ≤ minShare ≤ 1/len(arms))
// and renormalises the rest.
func Allocate(r *rand.Rand, arms []Arm, minShare float64, draws int) Allocation {
	if draws <= 0 {
		draws = DefaultDraws
	}
	k := len(arms)
	out := Allocation{Arms: make([]ArmEstimate, k), MinShare: minShare, Draws: draws}
	if k == 0 {
		return out
	}
	samples := make([][]float64, k)
	for i := range samples {
		samples[i] = make([]float64, draws)
	}
	wins := make([]float64, k)
	params := make([][2]float64, k)
	for i, a := range arms {
		params[i][0], params[i][1] = a.Posterior()
	}
	for d := 0; d < draws; d++ {
		best, bestV := 0, -1.0
		for i := range arms {
			v := Beta(r, params[i][0], params[i][1])
			samples[i][d] = v
			if v > bestV {
				best, bestV = i, v
			}
		}
		wins[best]++
	}
	probs := make([]float64, k)
	for i, a := range arms {
		sort.Float64s(samples[i])
		al, be := params[i][0], params[i][1]
		probs[i] = wins[i] / float64(draws)
		out.Arms[i] = ArmEstimate{
			Name: a.Name, Trials: a.Trials, Conversions: a.Conversions,
			Mean: al / (al + be), Low: quantile(samples[i], 0.025), High: quantile(samples[i], 0.975),
			ProbBest: probs[i],
		}
	}
	for i, s := range ClipShares(probs, minShare) {
		out.Arms[i].Share = s
	}
	return out
}

// quantile of sorted xs by linear interpolation.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
}

// ClipShares raises every share below min to min and scales the others
// down in proportion so the total stays 1, repeating until no share is
// below min (water-filling). min is clamped to [0, 1/len(p)].
func ClipShares(p []float64, min float64) []float64 {
	k := len(p)
	out := make([]float64, k)
	if k == 0 {
		return out
	}
	if min < 0 {
		min = 0
	}
	if min > 1/float64(k) {
		min = 1 / float64(k)
	}
	clipped := make([]bool, k)
	for {
		var freeMass float64
		nClipped := 0
		for i := range p {
			if clipped[i] {
				nClipped++
			} else {
				freeMass += p[i]
			}
		}
		rest := 1 - float64(nClipped)*min
		changed := false
		for i := range p {
			if clipped[i] {
				out[i] = min
				continue
			}
			if freeMass > 0 {
				out[i] = p[i] / freeMass * rest
			} else {
				out[i] = rest / float64(k-nClipped)
			}
			if out[i] < min-1e-12 {
				clipped[i] = true
				changed = true
			}
		}
		if !changed {
			return out
		}
	}
}

// Pick returns the index of the arm that a uniform u in [0, 1) selects
// from shares (cumulative).
func Pick(shares []float64, u float64) int {
	acc := 0.0
	for i, s := range shares {
		acc += s
		if u < acc {
			return i
		}
	}
	// Rounding left u above the total: the last arm with a share.
	for i := len(shares) - 1; i >= 0; i-- {
		if shares[i] > 0 {
			return i
		}
	}
	return 0
}

// Holdout reports whether the entry with 0-based index i goes to a holdout
// of pct percent. Exactly ⌊n·pct/100⌋ of the first n entries are held out,
// spread evenly (entry i is held out when ⌊(i+1)·pct/100⌋ > ⌊i·pct/100⌋).
func Holdout(i int64, pct int) bool {
	if pct <= 0 || i < 0 {
		return false
	}
	if pct >= 100 {
		return true
	}
	p := int64(pct)
	return (i+1)*p/100 > i*p/100
}

// Seed derives a 64-bit seed from strings (FNV-1a over them, separated), so
// a decision made from it can be replayed exactly.
func Seed(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// NewRand returns a PCG generator seeded with seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// SplitAllocation is the allocation of a split node's variants from their
// evidence, with the Monte Carlo seeded from the node and the evidence:
// the same counts give the same numbers wherever they are computed (the
// engine's decision, the canvas, the API).
func SplitAllocation(journeyID, nodeID string, arms []Arm, minShare float64) Allocation {
	parts := []string{journeyID, nodeID}
	for _, a := range arms {
		parts = append(parts, a.Name, strconv.FormatInt(a.Trials, 10), strconv.FormatInt(a.Conversions, 10))
	}
	return Allocate(NewRand(Seed(parts...)), arms, minShare, DefaultDraws)
}

// Freeze returns the allocation with all traffic on the named arm.
func (a Allocation) Freeze(name string) Allocation {
	out := a
	out.Arms = append([]ArmEstimate(nil), a.Arms...)
	out.Frozen = name
	for i := range out.Arms {
		out.Arms[i].Share = 0
		if out.Arms[i].Name == name {
			out.Arms[i].Share = 1
		}
	}
	return out
}

// Shares lists the arms' shares in order.
func (a Allocation) Shares() []float64 {
	out := make([]float64, len(a.Arms))
	for i, arm := range a.Arms {
		out[i] = arm.Share
	}
	return out
}
