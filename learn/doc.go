// Package learn holds the statistics behind Waymark's learning features:
// Thompson sampling over Beta posteriors for the self-optimising split,
// engagement-hour histograms for best-time delivery, and the conversion
// lift of a treatment over its holdout with a confidence interval.
//
// It is pure: no storage, no clock and no global random source. Callers pass
// a seeded *rand.Rand and the current time, so every decision can be
// reproduced (and tested) exactly.
package learn
