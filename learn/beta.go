package learn

import (
	"math"
	"math/rand/v2"
)

// Gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method (2000):
// for shape ≥ 1, with d = shape − 1/3 and c = 1/√(9d), draw a standard
// normal x until v = (1 + c·x)³ > 0, and accept d·v when
// ln U < x²/2 + d − d·v + d·ln v. A shape below 1 is boosted:
// Gamma(a) = Gamma(a+1) · U^(1/a).
func Gamma(r *rand.Rand, shape float64) float64 {
	if !(shape > 0) {
		return math.NaN()
	}
	if shape < 1 {
		u := r.Float64()
		for u == 0 {
			u = r.Float64()
		}
		return Gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		var x, v float64
		for {
			x = r.NormFloat64()
			v = 1 + c*x
			if v > 0 {
				break
			}
		}
		v = v * v * v
		u := r.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 { // the cheap squeeze
			return d * v
		}
		if u > 0 && math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Beta draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func Beta(r *rand.Rand, a, b float64) float64 {
	x := Gamma(r, a)
	y := Gamma(r, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}
