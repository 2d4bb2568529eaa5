package journeys_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
)

func TestWilson(t *testing.T) {
	// Reference values (Wilson score interval, z = 1.96).
	lo, hi := journeys.Wilson(12, 160)
	require.InDelta(t, 0.0435, lo, 5e-4)
	require.InDelta(t, 0.1265, hi, 5e-4)
	lo, hi = journeys.Wilson(0, 10)
	require.Zero(t, lo)
	require.InDelta(t, 0.2775, hi, 5e-4)
	lo, hi = journeys.Wilson(0, 0)
	require.Zero(t, lo)
	require.Zero(t, hi)
}
