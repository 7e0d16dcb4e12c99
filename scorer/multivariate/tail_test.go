package multivariate

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTailEvidence(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	X := make([][]float64, 5000)
	for i := range X {
		// Dimension 0 normal, 1 idle (zero 99% of the time) with rare
		// positive spikes, 2 constant.
		spike := 0.0
		if i%100 == 0 {
			spike = 1 + rng.Float64()
		}
		X[i] = []float64{rng.NormFloat64(), spike, 5}
	}
	m := &Tail{InitQuantile: 0.98, Top: 1, Cap: 30}
	require.NoError(t, m.Fit(context.Background(), X))
	ev := func(j int, x float64) float64 { return m.evidence(j, x) }

	// Near the median there is no evidence; it grows without a jump
	// through the body and keeps rising past the training extremes.
	require.InDelta(t, 0, ev(0, 0), 0.05)
	prev := 0.0
	for x := 0.25; x <= 8; x += 0.25 {
		e := ev(0, x)
		require.GreaterOrEqual(t, e, prev, "x=%v", x)
		require.Less(t, e-prev, 3.0, "x=%v", x)
		prev = e
	}
	// Two-sided; three deviations out at most the normal's −ln(2·P(Z ≥ 3))
	// ≈ 5.9, less as the tail's scale is floored at one unit so that a
	// slight drift past the training range is not at once impossible.
	require.InDelta(t, ev(0, 3), ev(0, -3), 1)
	require.InDelta(t, 4.7, ev(0, 3), 1.2)
	require.Greater(t, ev(0, 8), ev(0, 5)+2)
	// The idle dimension: its usual zero is no evidence, a usual spike
	// some (1 in 100 rows), one twice as high as any seen more.
	require.Zero(t, ev(1, 0))
	require.InDelta(t, math.Log(100)-math.Ln2, ev(1, 1.5), 1.5)
	require.Greater(t, ev(1, 4), ev(1, 1.9))
	// A constant dimension: evidence grows one per unit of change (the
	// Detector's scaler makes that unit tiny), bounded by the cap.
	require.Zero(t, ev(2, 5))
	require.InDelta(t, 3-math.Ln2, ev(2, 8), 1e-9)
	require.InDelta(t, m.Cap, ev(2, 1e9), 0)

	// Score is the sum of the Top largest evidences.
	c := make([]float64, 3)
	row := []float64{3, 4, 6}
	m.Top = 2
	m.alloc()
	s := m.Score(row, c)
	want := []float64{ev(0, 3), ev(1, 4), ev(2, 6)}
	require.InDeltaSlice(t, want, c, 1e-12)
	lo := min(want[0], want[1], want[2])
	require.InDelta(t, want[0]+want[1]+want[2]-lo, s, 1e-9)
	m.Top = 0
	require.InDelta(t, want[0]+want[1]+want[2], m.Score(row, nil), 1e-9)
}

func TestTailParams(t *testing.T) {
	for _, bad := range []map[string]string{
		{"init_quantile": "0.4"}, {"top": "-1"}, {"cap": "0"}, {"smoothing": "2"}, {"top": "x"},
	} {
		_, err := New("tail", bad)
		require.Error(t, err, "%v", bad)
	}
	m, err := New("tail", nil)
	require.NoError(t, err)
	require.InDelta(t, 1.0, m.(*Tail).ScoreSmoothing(), 0)
}

// The tail member keeps its own smoothing (none) while PCA takes the
// detector's.
func TestMemberSmoothing(t *testing.T) {
	det, err := NewDetector(Config{Model: "pca+tail", Smoothing: 0.2})
	require.NoError(t, err)
	require.InDelta(t, 0.2, det.members[0].alpha, 0)
	require.InDelta(t, 1.0, det.members[1].alpha, 0)
	det, err = NewDetector(Config{Model: "tail", Params: map[string]string{"smoothing": "0"}, Smoothing: 0.5})
	require.NoError(t, err)
	require.InDelta(t, 0.5, det.members[0].alpha, 0)
}

// Calibrating on held-out rows sees what the fitted rows hide: here the
// most recent part of the window is noisier than the rest. Calibrated on
// the fitted rows, the detector alarms several times as often on live
// data that goes on like the recent part as when calibrated on the
// held-out recent rows, which keeps it near its risk level. A held-out part too small to calibrate on
// falls back to the fitted rows.
func TestHoldoutCalibration(t *testing.T) {
	const d = 6
	noisy := func(X [][]float64, seed uint64) [][]float64 {
		rng := rand.New(rand.NewPCG(seed, 9))
		for _, r := range X {
			for j := range r {
				r[j] += 0.15 * rng.NormFloat64()
			}
		}
		return X
	}
	X := synth(3000, d, 8)
	noisy(X[2400:], 1)
	live := noisy(synth(3000, d, 12), 2)
	alarms := func(cfg Config) (float64, *Detector) {
		det, err := NewDetector(cfg)
		require.NoError(t, err)
		require.NoError(t, det.Fit(context.Background(), X))
		n := 0
		for _, r := range live {
			if det.Score(r, nil) >= 1 {
				n++
			}
		}
		return float64(n) / float64(len(live)), det
	}
	in, _ := alarms(Config{Model: "pca", Holdout: -1})
	out, det := alarms(Config{Model: "pca", NoRefit: true})
	require.Greater(t, in, 3*out)
	require.Less(t, out, 0.01)
	_, refit := alarms(Config{Model: "pca"})
	require.InDelta(t, det.Thresholds()["pca"], refit.Thresholds()["pca"], 0, "refit keeps the held-out thresholds")
	require.Equal(t, d, refit.Dims())
	// 500 rows hold out 100 < minCalibration: same as in-sample.
	thr := func(cfg Config) float64 {
		det, err := NewDetector(cfg)
		require.NoError(t, err)
		require.NoError(t, det.Fit(context.Background(), X[:500]))
		return det.Thresholds()["pca"]
	}
	require.InDelta(t, thr(Config{Model: "pca", Holdout: -1}), thr(Config{Model: "pca"}), 0)
}

func TestCombine(t *testing.T) {
	_, err := NewDetector(Config{Combine: "median"})
	require.Error(t, err)
	_, err = NewDetector(Config{Holdout: 0.95})
	require.Error(t, err)
	const d = 6
	X := testSet(d)
	for _, comb := range []string{"max", "mean"} {
		det := fittedWith(t, Config{Model: "pca+tail", Combine: comb}, d)
		// On the training distribution about the POT risk of rows alarm.
		n := 0
		for _, r := range synth(4000, d, 11) {
			if det.Score(r, nil) >= 1 {
				n++
			}
		}
		require.Less(t, float64(n)/4000, 0.02, comb)
		det.Reset()
		hit := false
		for _, r := range X[300:320] {
			hit = hit || det.Score(r, nil) >= 1
		}
		require.True(t, hit, comb)
	}
}

// A swap to a refitted detector carries the smoothed score over in
// calibrated units, so the score does not jump back to a fresh start.
func TestContinueCarriesCalibratedState(t *testing.T) {
	const d = 6
	a := fitted(t, "pca", d)
	b := fittedWith(t, Config{Model: "pca", Holdout: -1}, d)
	X := testSet(d)
	var sa float64
	for _, r := range X[300:315] {
		sa = a.Score(r, nil)
	}
	require.Greater(t, sa, 1.0)
	b.Continue(a)
	require.InDelta(t, a.members[0].ewma/a.members[0].tSmooth, b.members[0].ewma/b.members[0].tSmooth, 1e-12)
}

// Each of M scoring members is calibrated at risk/M (Bonferroni), so that
// the max of their calibrated scores alarms at about the ensemble's risk.
func TestMemberRiskIsShared(t *testing.T) {
	const d = 6
	X := synth(3000, d, 4)
	thr := func(cfg Config) map[string]float64 {
		det, err := NewDetector(cfg)
		require.NoError(t, err)
		require.NoError(t, det.Fit(context.Background(), X))
		return det.Thresholds()
	}
	const risk = 4e-3
	ens := thr(Config{Model: "pca+tail", Calibration: POT{Risk: risk}})
	half := thr(Config{Model: "pca", Calibration: POT{Risk: risk / 2}})
	full := thr(Config{Model: "pca", Calibration: POT{Risk: risk}})
	require.InDelta(t, half["pca"], ens["pca"], 0)
	require.Greater(t, ens["pca"], full["pca"])
	// The attribution-only member takes the same share.
	require.InDelta(t, half["tail@diff"], ens["tail@diff"], 0)
	tail := thr(Config{Model: "tail", Calibration: POT{Risk: risk / 2}})
	require.InDelta(t, tail["tail"], ens["tail"], 0)
}
