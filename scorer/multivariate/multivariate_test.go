package multivariate

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// synth makes n rows of d correlated dimensions: two latent signals mixed
// into every dimension plus noise, so that a change in one dimension alone
// breaks the correlation structure.
func synth(n, d int, seed uint64) [][]float64 {
	mr := rand.New(rand.NewPCG(99, 7)) // the same structure for every seed
	mix := make([][2]float64, d)
	for j := range mix {
		mix[j] = [2]float64{mr.Float64()*2 - 1, mr.Float64()*2 - 1}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	X := make([][]float64, n)
	for i := range X {
		a := math.Sin(float64(i) / 50)
		b := math.Cos(float64(i) / 23)
		X[i] = make([]float64, d)
		for j := range d {
			X[i][j] = 10 + mix[j][0]*a + mix[j][1]*b + 0.05*rng.NormFloat64()
		}
	}
	return X
}

// anomaly is an injected shift of one dimension over test rows [from, to).
type anomaly struct{ from, to, dim int }

func anomalies(d int) []anomaly { return []anomaly{{300, 320, 3}, {700, 710, d - 2}} }

func testSet(d int) [][]float64 {
	X := synth(1000, d, 2)
	for _, a := range anomalies(d) {
		for i := a.from; i < a.to; i++ {
			X[i][a.dim] += 6 // about 3× the dimension's normal range (±2)
		}
	}
	return X
}

func fitted(t testing.TB, model string, d int) *Detector {
	return fittedWith(t, Config{Model: model}, d)
}

func fittedWith(t testing.TB, cfg Config, d int) *Detector {
	det, err := NewDetector(cfg)
	require.NoError(t, err)
	require.NoError(t, det.Fit(context.Background(), synth(4000, d, 1)))
	require.Equal(t, d, det.Dims())
	return det
}

func TestModelsDetectAndAttribute(t *testing.T) {
	for _, tc := range []struct {
		model  string
		d      int
		params map[string]string
		cal    POT
	}{
		{"pca", 8, nil, POT{}}, {"autoencoder", 8, nil, POT{}}, {"pca+autoencoder", 8, nil, POT{}}, {"pca+tail", 8, nil, POT{}},
		// The tail model is marginal: on this hollow manifold the shifted
		// dimension alone lands 4–5 scale units out, which the default sum
		// of the top 3 evidences dilutes below the calibrated tail of
		// normal rows; the most surprising dimension alone catches it.
		{"tail", 8, map[string]string{"top": "1"}, POT{}},
		// Axis-parallel isolation dilutes a one-dimension anomaly by 1/D
		// (few trees split on that dimension): at D=8 on this hollow 2-D
		// manifold the injected rows of dimension 3 stay below the
		// training tail, so it is tested at D=4 (a known weakness), and
		// at risk 3e-3: at the default 1e-3 dimension 3's rows stay below
		// the threshold even there.
		{"iforest", 4, nil, POT{Risk: 3e-3}},
	} {
		model, d := tc.model, tc.d
		t.Run(model, func(t *testing.T) {
			det := fittedWith(t, Config{Model: model, Params: tc.params, Calibration: tc.cal}, d)
			X := testSet(d)
			contrib := make([]float64, d)
			inAnomaly := make([]int, len(X))
			for i := range inAnomaly {
				inAnomaly[i] = -1
			}
			for _, a := range anomalies(d) {
				for i := a.from; i < a.to; i++ {
					inAnomaly[i] = a.dim
				}
			}
			falsePos, normal, lastAnomaly := 0, 0, -1000
			hits := map[int]int{}
			detected := map[int]bool{}
			for i, row := range X {
				s := det.Score(row, contrib)
				require.False(t, math.IsNaN(s) || math.IsInf(s, 0))
				var sum float64
				for _, c := range contrib {
					require.GreaterOrEqual(t, c, 0.0)
					sum += c
				}
				require.InDelta(t, s, sum, 1e-9*max(1, s))
				dim := inAnomaly[i]
				if dim < 0 {
					// Skip the smoothing tail (60 rows) after an anomaly.
					if i-lastAnomaly > 60 {
						normal++
						if s >= 1 {
							falsePos++
						}
					}
					continue
				}
				lastAnomaly = i
				if s >= 1 {
					detected[dim] = true
				}
				top := 0
				for j, c := range contrib {
					if c > contrib[top] {
						top = j
					}
				}
				if top == dim {
					hits[dim]++
				}
			}
			require.Less(t, float64(falsePos)/float64(normal), 0.01, "false positive rate")
			for _, a := range anomalies(d) {
				require.True(t, detected[a.dim], "anomaly in dimension %d not detected", a.dim)
				require.GreaterOrEqual(t, hits[a.dim], (a.to-a.from)*7/10, "dimension %d not ranked first", a.dim)
			}
		})
	}
}

func TestMissingValues(t *testing.T) {
	const d = 8
	for _, model := range Names() {
		t.Run(model, func(t *testing.T) {
			det := fitted(t, model, d)
			row := append([]float64(nil), synth(1, d, 3)[0]...)
			row[2], row[5] = math.NaN(), math.Inf(1)
			contrib := make([]float64, d)
			s := det.Score(row, contrib)
			require.False(t, math.IsNaN(s) || math.IsInf(s, 0))
			require.Zero(t, contrib[2])
			require.Zero(t, contrib[5])
			// All missing, wrong length, nil contrib: no panic.
			for j := range row {
				row[j] = math.NaN()
			}
			require.False(t, math.IsNaN(det.Score(row, contrib)))
			require.Zero(t, det.Score(row[:3], contrib))
			require.Equal(t, make([]float64, d), contrib)
			require.False(t, math.IsNaN(det.Score(synth(1, d, 4)[0], nil)))
		})
	}
}

func TestFitIgnoresMissingTrainingValues(t *testing.T) {
	X := synth(500, 4, 1)
	for i := 0; i < len(X); i += 7 {
		X[i][1] = math.NaN()
	}
	det, err := NewDetector(Config{})
	require.NoError(t, err)
	require.NoError(t, det.Fit(context.Background(), X))
	require.False(t, math.IsNaN(det.scaler.Median[1]))
	require.False(t, math.IsNaN(det.Score(X[1], nil)))
}

func TestFitErrors(t *testing.T) {
	det, err := NewDetector(Config{})
	require.NoError(t, err)
	require.Error(t, det.Fit(context.Background(), synth(5, 3, 1)))
	X := synth(100, 3, 1)
	X[50] = X[50][:2]
	require.Error(t, det.Fit(context.Background(), X))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ae, err := NewDetector(Config{Model: "autoencoder"})
	require.NoError(t, err)
	require.ErrorIs(t, ae.Fit(ctx, synth(100, 3, 1)), context.Canceled)
}

func TestRegistry(t *testing.T) {
	require.Equal(t, []string{"autoencoder", "iforest", "pca", "tail"}, Names())
	_, err := New("nope", nil)
	require.ErrorIs(t, err, ErrUnknownModel)
	_, err = New("pca", map[string]string{"bogus": "1"})
	require.ErrorContains(t, err, "bogus")
	_, err = New("pca", map[string]string{"variance": "2"})
	require.Error(t, err)
	_, err = New("iforest", map[string]string{"trees": "x"})
	require.Error(t, err)
	_, err = NewDetector(Config{Model: "pca+nope"})
	require.ErrorIs(t, err, ErrUnknownModel)
	for _, n := range Names() {
		help, params, err := Describe(n)
		require.NoError(t, err)
		require.NotEmpty(t, help)
		for _, p := range params {
			require.NotEmpty(t, p.Help, "%s.%s", n, p.Name)
		}
	}
}

func TestEnsembleParams(t *testing.T) {
	det, err := NewDetector(Config{Model: "pca+iforest", Params: map[string]string{"iforest.trees": "7", "variance": "0.5"}})
	require.NoError(t, err)
	require.Equal(t, 7, det.members[1].model.(*IForest).Trees)
	require.InDelta(t, 0.5, det.members[0].model.(*PCA).Variance, 0)
}

func TestSaveRestoreKeepsNoRefit(t *testing.T) {
	for _, noRefit := range []bool{false, true} {
		det := fittedWith(t, Config{Model: "pca", NoRefit: noRefit}, 4)
		b, err := det.MarshalBinary()
		require.NoError(t, err)
		var back Detector
		require.NoError(t, back.UnmarshalBinary(b))
		require.Equal(t, noRefit, back.Config().NoRefit)
	}
}

func TestSaveRestore(t *testing.T) {
	const d = 8
	for _, model := range append(Names(), "pca+iforest", "pca+tail", "pca@both+tail@diff") {
		t.Run(model, func(t *testing.T) {
			det := fitted(t, model, d)
			b, err := det.MarshalBinary()
			require.NoError(t, err)
			var back Detector
			require.NoError(t, back.UnmarshalBinary(b))
			b2, err := back.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, b, b2)
			require.Equal(t, det.Thresholds(), back.Thresholds())
			require.Equal(t, det.Config(), back.Config())
			// The previous row (for first differences) is online state, not
			// saved: a restored detector starts without one, as after Reset.
			det.Reset()
			c1, c2 := make([]float64, d), make([]float64, d)
			for _, row := range testSet(d)[:400] {
				require.Equal(t, det.Score(row, c1), back.Score(row, c2))
				require.Equal(t, c1, c2)
			}
			// Every truncation and a flipped tag fail cleanly.
			for n := 0; n < len(b); n += 1 + len(b)/200 {
				require.Error(t, new(Detector).UnmarshalBinary(b[:n]), "truncated at %d", n)
			}
			bad := append([]byte(nil), b...)
			bad[9] ^= 0xff
			require.Error(t, new(Detector).UnmarshalBinary(bad))
		})
	}
}

func TestPOTThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := make([]float64, 50000)
	for i := range s {
		s[i] = rng.ExpFloat64()
	}
	// Exp(1) exceeds -ln(q) with probability q.
	got := POT{InitQuantile: 0.98, Risk: 1e-4}.Threshold(s)
	require.InEpsilon(t, -math.Log(1e-4), got, 0.15)
	require.InEpsilon(t, 2*got, POT{InitQuantile: 0.98, Risk: 1e-4, Margin: 2}.Threshold(s), 1e-9)
	// Degenerate inputs still give a usable threshold.
	require.Greater(t, POT{}.Threshold(make([]float64, 100)), 0.0)
	require.InDelta(t, 1.0, POT{}.Threshold(nil), 0)
	require.InDelta(t, 3.0, POT{}.Threshold([]float64{1, 2, 3, math.NaN()}), 0)
}
