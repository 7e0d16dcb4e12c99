package scorer

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHoldOff(t *testing.T) {
	// One-minute rows: spikes at +0, +10, +70 minutes after warm-up.
	for _, c := range []struct {
		name    string
		holdOff time.Duration
		onsets  []bool // per spike
	}{
		{"default 4h", 0, []bool{true, false, false}},
		{"1h", time.Hour, []bool{true, false, true}},
		{"disabled", -1, []bool{true, true, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(Spec{Model: "ewma", Params: clipped, Threshold: pointwise, HoldOff: c.holdOff, LevelShiftAbsorb: -1})
			require.NoError(t, err)
			vals := signal(400, 5, nil)
			for i, v := range vals {
				res := m.Observe(baseTs+int64(i)*stepMs, v)
				require.False(t, res.Onset, "row %d", i)
			}
			ts := baseTs + int64(len(vals))*stepMs
			for k, at := range []int64{0, 10, 70} {
				res := m.Observe(ts+at*stepMs, 40)
				require.True(t, res.Anomalous, "spike %d", k)
				require.Greater(t, res.Score, 1.0, "spike %d: the score shows the deviation whatever the episode", k)
				require.Equal(t, c.onsets[k], res.Onset, "spike %d", k)
				require.Equal(t, !c.onsets[k], res.Held, "spike %d", k)
				quiet := m.Observe(ts+(at+1)*stepMs, 10)
				require.False(t, quiet.Onset)
				require.Equal(t, c.holdOff >= 0, quiet.Held, "a quiet row inside the hold-off is held")
			}
		})
	}
}

func TestLikelihood(t *testing.T) {
	t.Run("spike", func(t *testing.T) {
		// A single 12σ spike passes at the default cap (8: it moves the
		// ten-row average by 0.8).
		m, err := New(Spec{Model: "ewma", Params: clipped})
		require.NoError(t, err)
		scores := run(t, m, signal(2000, 7, anomalies["spike"]))
		require.Greater(t, scores[onsetRow], 1.0)
	})
	t.Run("SPOT guard catches what a small cap hides", func(t *testing.T) {
		// At cap 3 a single spike moves the ten-row average by 0.3 only;
		// SPOT alongside the likelihood still reports it.
		m, err := New(Spec{Model: "ewma", Params: clipped, Threshold: ThresholdSpec{Cap: 3}})
		require.NoError(t, err)
		scores := run(t, m, signal(2000, 7, anomalies["spike"]))
		require.Greater(t, scores[onsetRow], 1.0)
		require.Less(t, scores[onsetRow+12], 1.0, "the spike has left the average")
	})
	t.Run("score is log tail over log risk", func(t *testing.T) {
		p := newLikelihoodParams(1e-4, 8, 2, 20, 8, false)
		l := newLikelihood(&p)
		for range 200 {
			l.observe(&p, 1)
			l.observe(&p, 3)
		}
		// Every two-row average was 2: mean 2, no variance, so the floor
		// sd applies. Another 1 after the 3 averages 2 again (tail 1/2);
		// the value scoring 1 makes the average 2 + 3.719·0.05 (tail 1e-4).
		score, thr, ok := l.observe(&p, 1)
		require.True(t, ok)
		require.InDelta(t, math.Log(0.5)/math.Log(1e-4), score, 1e-6)
		require.InDelta(t, 2*(2+p.zThr*likelihoodSDFloor)-3, thr, 1e-6)
		score, _, _ = l.observe(&p, 3+2*p.zThr*likelihoodSDFloor)
		require.InDelta(t, 1, score, 1e-6)
	})
	t.Run("warming until init", func(t *testing.T) {
		m, err := New(Spec{Model: "ewma", Threshold: ThresholdSpec{Init: 50}})
		require.NoError(t, err)
		for i, v := range signal(200, 3, nil) {
			res := m.Observe(baseTs+int64(i)*stepMs, v)
			// ewma's own warm-up is 16 rows, then 50 for the likelihood.
			require.Equal(t, i >= 16+50, res.Status == Ready, "row %d", i)
		}
	})
	t.Run("bad spec", func(t *testing.T) {
		for _, th := range []ThresholdSpec{{Window: 65}, {Window: -1}, {Memory: 5}, {Cap: -1}, {Cap: math.Inf(1)}, {Tail: "gamma"}} {
			_, err := New(Spec{Threshold: th})
			require.ErrorIs(t, err, ErrBadSpec, "%+v", th)
		}
	})
}

func TestCornishFisherZ(t *testing.T) {
	// The inverse of x = z + g·(z²−1), exact at g = 0.
	for _, g := range []float64{0, 0.01, 0.0525, 0.2} {
		for _, z := range []float64{-1, 0, 1, 2.5, 3.719, 6, 20} {
			x := z + g*(z*z-1)
			require.InDelta(t, z, cornishFisherZ(x, g), 1e-9, "g=%g z=%g", g, z)
		}
	}
	// Below the turning point it stays at it rather than turn back.
	require.InDelta(t, -1/(2*0.2), cornishFisherZ(-5, 0.2), 1e-12)
	// The skewed tail's score-1 point is the Cornish–Fisher quantile of
	// a mean of ten half-normals: 4.39σ at risk 1e-4 (simulated: 4.31).
	p := newLikelihoodParams(1e-4, 8, 10, 100, 8, true)
	require.InDelta(t, 4.392, p.zThr, 1e-3)
}
