package learn

import "math"

// Z95 is the standard normal quantile for a two-sided 95% interval.
const Z95 = 1.959963984540054

// Wilson is the Wilson score interval for x successes in n trials at
// normal quantile z.
func Wilson(x, n int64, z float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// Lift compares a treatment group's conversion rate with its holdout's.
type Lift struct {
	TreatmentRuns        int64   `json:"treatment_runs"`
	TreatmentConversions int64   `json:"treatment_conversions"`
	HoldoutRuns          int64   `json:"holdout_runs"`
	HoldoutConversions   int64   `json:"holdout_conversions"`
	TreatmentRate        float64 `json:"treatment_rate"`
	HoldoutRate          float64 `json:"holdout_rate"`
	// Absolute lift: treatment rate − holdout rate, with a 95% interval by
	// Newcombe's hybrid score method (his method 10) from the two Wilson
	// intervals.
	Absolute     float64 `json:"absolute"`
	AbsoluteLow  float64 `json:"absolute_low"`
	AbsoluteHigh float64 `json:"absolute_high"`
	// Relative lift: treatment rate / holdout rate − 1, with a 95% interval
	// from the log risk ratio (Katz). Absent (RelativeOK false) when either
	// group has no conversion.
	Relative     float64 `json:"relative"`
	RelativeLow  float64 `json:"relative_low"`
	RelativeHigh float64 `json:"relative_high"`
	RelativeOK   bool    `json:"relative_ok"`
	// Significant: the absolute interval excludes 0.
	Significant bool `json:"significant"`
	// OK is false when either group has no runs yet.
	OK bool `json:"ok"`
}

// ComputeLift compares treatment (x1 of n1 converted) with holdout (x2 of n2).
func ComputeLift(x1, n1, x2, n2 int64) Lift {
	l := Lift{TreatmentRuns: n1, TreatmentConversions: x1, HoldoutRuns: n2, HoldoutConversions: x2}
	if n1 <= 0 || n2 <= 0 {
		return l
	}
	l.OK = true
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l.TreatmentRate, l.HoldoutRate = p1, p2
	l1, u1 := Wilson(x1, n1, Z95)
	l2, u2 := Wilson(x2, n2, Z95)
	d := p1 - p2
	l.Absolute = d
	l.AbsoluteLow = d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2))
	l.AbsoluteHigh = d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2))
	l.Significant = l.AbsoluteLow > 0 || l.AbsoluteHigh < 0
	if x1 > 0 && x2 > 0 {
		rr := p1 / p2
		se := math.Sqrt(1/float64(x1) - 1/float64(n1) + 1/float64(x2) - 1/float64(n2))
		l.Relative = rr - 1
		l.RelativeLow = math.Exp(math.Log(rr)-Z95*se) - 1
		l.RelativeHigh = math.Exp(math.Log(rr)+Z95*se) - 1
		l.RelativeOK = true
	}
	return l
}
