package learn

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func TestGammaAndBetaMoments(t *testing.T) {
	t.Parallel()
	r := seeded(1)
	for _, shape := range []float64{0.3, 1, 2.5, 40} {
		const n = 200000
		var sum, sq float64
		for i := 0; i < n; i++ {
			v := Gamma(r, shape)
			require.False(t, v < 0 || math.IsNaN(v))
			sum += v
			sq += v * v
		}
		mean := sum / n
		variance := sq/n - mean*mean
		// Gamma(k, 1): mean k, variance k.
		require.InDelta(t, shape, mean, 0.02*shape+0.01, "mean of Gamma(%v)", shape)
		require.InDelta(t, shape, variance, 0.05*shape+0.01, "variance of Gamma(%v)", shape)
	}
	// Beta(3, 7): mean 0.3, variance ab/((a+b)²(a+b+1)) = 21/1100.
	const n = 200000
	var sum, sq float64
	for i := 0; i < n; i++ {
		v := Beta(r, 3, 7)
		require.True(t, v >= 0 && v <= 1)
		sum += v
		sq += v * v
	}
	mean := sum / n
	require.InDelta(t, 0.3, mean, 0.002)
	require.InDelta(t, 21.0/1100, sq/n-mean*mean, 0.0005)
	require.True(t, math.IsNaN(Gamma(r, 0)))
}

func TestCredibleInterval(t *testing.T) {
	t.Parallel()
	// 49 of 98 converted: Beta(50, 50), mean 0.5, sd √(0.25/101) ≈ 0.04975;
	// the exact 95% interval is 0.4026…0.5974 (symmetric; normal approximation
	// 0.5 ± 1.96·0.04975 = 0.4025…0.5975).
	a := Allocate(seeded(7), []Arm{{Name: "a", Trials: 98, Conversions: 49}}, 0, 20000)
	require.InDelta(t, 0.5, a.Arms[0].Mean, 1e-12)
	require.InDelta(t, 0.4026, a.Arms[0].Low, 0.004)
	require.InDelta(t, 0.5974, a.Arms[0].High, 0.004)
	require.Equal(t, 1.0, a.Arms[0].ProbBest)
	require.Equal(t, 1.0, a.Arms[0].Share)
}

func TestAllocateIsDeterministicAndEvenWithoutEvidence(t *testing.T) {
	t.Parallel()
	arms := []Arm{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	x := Allocate(seeded(3), arms, 0.1, 3000)
	y := Allocate(seeded(3), arms, 0.1, 3000)
	require.Equal(t, x, y, "same seed, same allocation")
	for _, a := range x.Arms {
		require.InDelta(t, 1.0/3, a.Share, 0.03, a.Name)
	}
}

func TestClipShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    []float64
		min  float64
		want []float64
	}{
		{"nothing to clip", []float64{0.3, 0.7}, 0.1, []float64{0.3, 0.7}},
		{"one clipped", []float64{0, 1}, 0.1, []float64{0.1, 0.9}},
		{"proportional rest", []float64{0.02, 0.49, 0.49}, 0.1, []float64{0.1, 0.45, 0.45}},
		{"cascade", []float64{0.01, 0.09, 0.9}, 0.2, []float64{0.2, 0.2, 0.6}},
		{"min above 1/k is 1/k", []float64{0, 1}, 0.7, []float64{0.5, 0.5}},
		{"no mass", []float64{0, 0}, 0, []float64{0.5, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClipShares(tt.p, tt.min)
			require.InDeltaSlice(t, tt.want, got, 1e-9)
		})
	}
}

func TestHoldoutIsExact(t *testing.T) {
	t.Parallel()
	for _, pct := range []int{0, 1, 7, 10, 33, 50, 99, 100} {
		n := 0
		for i := int64(0); i < 20000; i++ {
			if Holdout(i, pct) {
				n++
			}
			// Every prefix holds exactly ⌊(i+1)·pct/100⌋.
			require.Equal(t, int((i+1)*int64(pct)/100), n, "pct %d after %d entries", pct, i+1)
		}
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	s := []float64{0.25, 0.75}
	require.Equal(t, 0, Pick(s, 0))
	require.Equal(t, 0, Pick(s, 0.2499))
	require.Equal(t, 1, Pick(s, 0.25))
	require.Equal(t, 1, Pick(s, 0.99999999))
	require.Equal(t, 0, Pick([]float64{1, 0}, 1.0000001), "rounding falls to the last arm with a share")
}

// TestBanditSimulation is the acceptance test: variant A converts
// at 5%, B at 8%; 20,000 entries with a 10% holdout and a 10% minimum
// share. As in the engine, the allocation is recomputed from the counts
// periodically (every 100 entries, standing in for the per-worker cache)
// and each entry draws its variant from it.
func TestBanditSimulation(t *testing.T) {
	t.Parallel()
	const (
		entries  = 20000
		holdout  = 10
		minShare = 0.10
	)
	rates := []float64{0.05, 0.08}
	arms := []Arm{{Name: "a"}, {Name: "b"}}
	world := seeded(42)  // who converts
	bandit := seeded(43) // the Monte Carlo draws
	picks := seeded(44)  // per-entry draws
	var alloc Allocation
	held := 0
	var lastNonHoldout []int
	for i := int64(0); i < entries; i++ {
		if i%100 == 0 {
			alloc = Allocate(bandit, arms, minShare, 2000)
			for _, a := range alloc.Arms {
				require.GreaterOrEqual(t, a.Share, minShare-1e-9, "arm %s starved at entry %d", a.Name, i)
			}
		}
		if Holdout(i, holdout) {
			held++
			continue
		}
		shares := []float64{alloc.Arms[0].Share, alloc.Arms[1].Share}
		k := Pick(shares, picks.Float64())
		arms[k].Trials++
		if world.Float64() < rates[k] {
			arms[k].Conversions++
		}
		lastNonHoldout = append(lastNonHoldout, k)
	}
	require.Equal(t, entries*holdout/100, held, "holdout share is exact")
	tail := lastNonHoldout[len(lastNonHoldout)-5000:]
	toB := 0
	for _, k := range tail {
		toB += k
	}
	t.Logf("last 5000: %d to B; totals A %d/%d, B %d/%d", toB, arms[0].Conversions, arms[0].Trials, arms[1].Conversions, arms[1].Trials)
	require.GreaterOrEqual(t, toB, 4000, "at least 80%% of the last 5,000 non-holdout entries go to B")
	require.GreaterOrEqual(t, 5000-toB, 450, "A keeps about its 10%% minimum share")
}

func TestHoursAndBest(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var evs []Engagement
	for d := 1; d <= 20; d++ {
		// 20:00-20:59 Paris time on 20 days (crossing no DST change).
		at := time.Date(2026, 2, 10+d/2, 20, 5*d%60, 0, 0, paris)
		evs = append(evs, Engagement{At: at, Location: paris})
	}
	evs = append(evs, Engagement{At: time.Date(2026, 3, 1, 3, 0, 0, 0, paris), Location: paris})
	p := Hours(evs, now, 0)
	require.Equal(t, 21, p.Evidence)
	require.Equal(t, 20, p.Counts[20])
	h, share, ok := p.Best()
	require.True(t, ok)
	require.Equal(t, 20, h)
	require.Greater(t, share, 0.4)

	// Recency: 5 old events at 08:00 lose to 3 recent ones at 18:00.
	var mixed []Engagement
	for i := 0; i < 5; i++ {
		mixed = append(mixed, Engagement{At: now.AddDate(0, 0, -200-i).Truncate(24 * time.Hour).Add(8 * time.Hour)})
	}
	for i := 0; i < 3; i++ {
		mixed = append(mixed, Engagement{At: now.AddDate(0, 0, -1-i).Truncate(24 * time.Hour).Add(18 * time.Hour)})
	}
	h, _, _ = Hours(mixed, now, 0).Best()
	require.Equal(t, 18, h)

	_, _, ok = Hours(nil, now, 0).Best()
	require.False(t, ok)
}

func TestPlanHour(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	var at20 [24]float64
	at20[20] = 1
	now := time.Date(2026, 6, 1, 9, 17, 0, 0, ny)
	got := PlanHour(now, ny, 24*time.Hour, at20, 20, nil)
	require.Equal(t, time.Date(2026, 6, 1, 20, 0, 0, 0, ny), got)

	// Already in the best hour: now.
	now2 := time.Date(2026, 6, 1, 20, 30, 0, 0, ny)
	require.Equal(t, now2, PlanHour(now2, ny, 24*time.Hour, at20, 20, nil))

	// The best hour is beyond a 6h window: the closest hour to it within.
	require.Equal(t, time.Date(2026, 6, 1, 15, 0, 0, 0, ny), PlanHour(now, ny, 6*time.Hour, at20, 20, nil))

	// Excluded (quiet) hours are skipped: 20:00-22:00 quiet → the next best,
	// by distance to 20, is 19:00.
	quiet := func(t time.Time) bool { h := t.In(ny).Hour(); return h >= 20 && h < 22 }
	require.Equal(t, time.Date(2026, 6, 1, 19, 0, 0, 0, ny), PlanHour(now, ny, 24*time.Hour, at20, 20, quiet))

	// All excluded: the window's end.
	require.Equal(t, now.Add(2*time.Hour), PlanHour(now, ny, 2*time.Hour, at20, 20, func(time.Time) bool { return true }))
}

// TestLiftHandComputed checks ComputeLift against a computation done by
// hand: treatment 80 of 1,000 converted, holdout 50 of 1,000.
//
// Wilson (z = 1.959964, z² = 3.841459):
//
//	treatment: p = 0.08, centre = (0.08 + z²/2000)/(1 + z²/1000) = 0.0816072,
//	  half = z/(1+z²/1000)·√(0.08·0.92/1000 + z²/4e6) = 0.0168592 → [0.064748, 0.098466]
//	holdout:   p = 0.05 → [0.038130, 0.065314]
//
// Newcombe: d = 0.03; low = d − √((0.08−0.064748)² + (0.065314−0.05)²) = 0.008387,
// high = d + √((0.098466−0.08)² + (0.05−0.038130)²) = 0.051952.
// Relative: RR = 1.6, se(ln RR) = √(1/80 − 1/1000 + 1/50 − 1/1000) = 0.174642,
// 1.6·e^(∓1.96·0.174642) − 1 = [0.136224, 1.253077].
func TestLiftHandComputed(t *testing.T) {
	t.Parallel()
	l := ComputeLift(80, 1000, 50, 1000)
	require.True(t, l.OK)
	require.InDelta(t, 0.08, l.TreatmentRate, 1e-12)
	require.InDelta(t, 0.05, l.HoldoutRate, 1e-12)
	require.InDelta(t, 0.03, l.Absolute, 1e-12)
	require.InDelta(t, 0.008387, l.AbsoluteLow, 5e-6)
	require.InDelta(t, 0.051952, l.AbsoluteHigh, 5e-6)
	require.InDelta(t, 0.6, l.Relative, 1e-12)
	require.InDelta(t, 0.136224, l.RelativeLow, 5e-6)
	require.InDelta(t, 1.253077, l.RelativeHigh, 5e-6)
	require.True(t, l.RelativeOK)
	require.True(t, l.Significant)

	// Newcombe (1998), Statistics in Medicine 17:873, table II example (c):
	// 56/70 vs 48/80, method 10 gives 0.0524 to 0.3339.
	n := ComputeLift(56, 70, 48, 80)
	require.InDelta(t, 0.0524, n.AbsoluteLow, 5e-5)
	require.InDelta(t, 0.3339, n.AbsoluteHigh, 5e-5)

	// No conversions in the holdout: no relative lift.
	z := ComputeLift(5, 100, 0, 100)
	require.True(t, z.OK)
	require.False(t, z.RelativeOK)
	require.False(t, ComputeLift(0, 0, 1, 10).OK)

	lo, hi := Wilson(0, 10, Z95)
	require.Equal(t, 0.0, lo)
	require.InDelta(t, 0.2775, hi, 1e-4)
}

// BenchmarkSplitAllocation is the cost of one allocation (two variants,
// DefaultDraws draws) — what a worker pays once per split node per
// allocation cache period.
func BenchmarkSplitAllocation(b *testing.B) {
	arms := []Arm{{Name: "a", Trials: 9000, Conversions: 450}, {Name: "b", Trials: 9000, Conversions: 720}}
	for b.Loop() {
		SplitAllocation("j", "n", arms, 0.1)
	}
}
