package scorer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSpotExponentialTail(t *testing.T) {
	// For Exp(1) the quantile at risk q is −ln q; SPOT extrapolates it
	// from the peaks over an upper quantile.
	for _, q := range []float64{1e-3, 1e-4} {
		var got []float64
		for seed := range uint64(20) {
			r := rand.New(rand.NewPCG(seed, 2))
			sp := newSpotParams(q, 1000, 0)
			var s spot
			for range 20000 {
				s.learn(&sp, r.ExpFloat64())
			}
			require.True(t, s.ready)
			got = append(got, s.threshold())
		}
		var mean float64
		for _, g := range got {
			mean += g / float64(len(got))
		}
		want := -math.Log(q)
		// Clamping γ at 0 makes the fit conservative: a little high, never
		// low.
		require.GreaterOrEqual(t, mean, 0.95*want, "q=%g", q)
		require.LessOrEqual(t, mean, 1.25*want, "q=%g: mean threshold %.2f, analytic %.2f", q, mean, want)
	}
}

func TestSpotLearnsNoAnomalies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	sp := newSpotParams(1e-4, 200, 0)
	var s spot
	for range 2000 {
		s.learn(&sp, r.ExpFloat64())
	}
	before := s.threshold()
	for range 100 {
		s.learn(&sp, 1e6) // above z_q: not a peak
	}
	require.Equal(t, before, s.threshold())
}

func TestSpotFloor(t *testing.T) {
	sp := newSpotParams(1e-4, 64, 3)
	var s spot
	for range 500 {
		s.learn(&sp, 0) // a flat series: no tail at all
	}
	require.Equal(t, 3.0, s.threshold())
}
