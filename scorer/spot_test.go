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

func TestSpotIgnoresRoundingResidue(t *testing.T) {
	// A series that sits on one value leaves residues of ~1e-16 spreads:
	// the initial quantile is then 0 and, without a lowest t, every
	// residue would be a peak and the fitted tail would be nothing.
	r := rand.New(rand.NewPCG(3, 3))
	sp := newSpotParams(1e-5, 128, 3)
	var s spot
	for range 2000 {
		s.learn(&sp, 1e-16*r.Float64())
	}
	require.True(t, s.ready)
	require.GreaterOrEqual(t, s.t, spotMinT*sp.floor)
	require.Zero(t, s.np, "residues are not peaks")
	// Real excursions below z_q still are.
	s.learn(&sp, 2)
	require.Equal(t, uint8(1), s.np)
}

func TestSpotGuardLearnsRoutineAnomalies(t *testing.T) {
	// Bursts of 50 spreads every 100 samples on a quiet series: a
	// standalone SPOT never learns them (the paper's rule); a guard does
	// once more of them than the peaks it fits came within its horizon,
	// and its threshold then rises above them.
	run := func(guard bool) (first, last float64, exceeded int) {
		r := rand.New(rand.NewPCG(7, 7))
		sp := newSpotParams(1e-5, 128, 3)
		sp.guard = guard
		var s spot
		for range 1000 {
			s.learn(&sp, math.Abs(r.NormFloat64()))
		}
		first = s.threshold()
		for i := range 10_000 {
			x := math.Abs(r.NormFloat64())
			if i%100 == 0 {
				x = 50
				if x > s.threshold() {
					exceeded++
				}
			}
			s.learn(&sp, x)
		}
		return first, s.threshold(), exceeded
	}
	first, last, n := run(false)
	require.Equal(t, 100, n, "a standalone SPOT flags every burst")
	require.Less(t, last, 50.0)
	require.InDelta(t, first, last, first, "and its tail stays the quiet one")

	_, last, n = run(true)
	require.Greater(t, last, 50.0, "the guard's tail now holds the bursts")
	require.GreaterOrEqual(t, n, spotRoutine, "it flagged bursts until they were routine")
	require.Less(t, n, 2*spotRoutine)
}

func TestSpotGuardSingleAnomalyNotLearnt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	sp := newSpotParams(1e-5, 200, 3)
	sp.guard = true
	var s spot
	for range 2000 {
		s.learn(&sp, r.ExpFloat64())
	}
	before := s.threshold()
	for range spotRoutine - 1 {
		s.learn(&sp, 1e6)
	}
	require.Equal(t, before, s.threshold(), "fewer anomalies than spotRoutine are never learnt")
}

// TestSpotRoutineIsLearn: the detector's inline shortcut (routine, then
// age) leaves a spot exactly as learn does, guard or not, bursts and all.
func TestSpotRoutineIsLearn(t *testing.T) {
	for _, guard := range []bool{false, true} {
		r := rand.New(rand.NewPCG(5, 9))
		sp := newSpotParams(1e-4, 64, 3)
		sp.guard = guard
		var viaLearn, viaRoutine spot
		routine := 0
		for i := range 20_000 {
			x := math.Abs(r.NormFloat64()) * 2
			if i%97 == 0 {
				x *= 20
			}
			viaLearn.learn(&sp, x)
			if viaRoutine.routine(x) {
				viaRoutine.age(&sp)
				routine++
			} else {
				viaRoutine.learn(&sp, x)
			}
			require.Equal(t, viaLearn, viaRoutine, "guard %v, sample %d", guard, i)
		}
		require.Greater(t, routine, 10_000, "most values are routine")
	}
}
