package ui

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWilson(t *testing.T) {
	// Reference values (Wilson score interval, z = 1.96).
	lo, hi := wilson(12, 160)
	require.InDelta(t, 0.0435, lo, 5e-4)
	require.InDelta(t, 0.1265, hi, 5e-4)
	lo, hi = wilson(0, 10)
	require.Zero(t, lo)
	require.InDelta(t, 0.2775, hi, 5e-4)
	lo, hi = wilson(0, 0)
	require.Zero(t, lo)
	require.Zero(t, hi)
}
