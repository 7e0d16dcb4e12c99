package scorer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// poisson draws a Poisson count of mean lambda (Knuth's product of
// uniforms: fine for the means here, at most a few hundred).
func poisson(r *rand.Rand, lambda float64) float64 {
	limit := math.Exp(-lambda)
	k, p := 0, r.Float64()
	for p > limit {
		k++
		p *= r.Float64()
	}
	return float64(k)
}

// countSeries is a count process at a five-minute step: a daily cycle of
// rates from 5 to 50 per step, over-dispersed by a log-normal factor per
// step (a Poisson–log-normal, close to a negative binomial), with bursts
// of five times the rate for an hour (12 rows) starting at each of
// bursts.
func countSeries(days int, seed uint64, bursts []int) ([]int64, []float64) {
	const perDay = 288
	r := rand.New(rand.NewPCG(seed, 29))
	n := days * perDay
	ts := make([]int64, n)
	vals := make([]float64, n)
	for i := range n {
		ts[i] = baseTs + int64(i)*300_000
		rate := 5 + 45*(0.5-0.5*math.Cos(2*math.Pi*float64(i%perDay)/perDay))
		for _, b := range bursts {
			if i >= b && i < b+12 {
				rate *= 5
			}
		}
		vals[i] = poisson(r, rate*math.Exp(0.15*r.NormFloat64()-0.15*0.15/2))
	}
	return ts, vals
}

// TestCounts: over-dispersed counts with a daily cycle from 5 to 50 per
// step and bursts of five times the rate for an hour, at night, on the
// morning ramp and at the peak. Scored on their square root (the series
// is count-like), a night burst stands out as much as a peak one: every
// burst is detected within burstWithin rows (on the raw counts the night
// burst took 6 to 8 rows, hidden in the day's noise). The false episodes
// on the clean stretches are the likelihood's chance episodes, at the
// rate of clean Gaussian data (TestChanceEpisodes): up to 9 on 10 series
// with the Gaussian tail, none with the skewed one.
func TestCounts(t *testing.T) {
	const burstWithin = 4
	for _, c := range []struct {
		tail     string
		maxFalse int
	}{{TailGaussian, 9}, {TailSkewed, 0}} {
		t.Run(c.tail, func(t *testing.T) {
			falseTotal, delays := countEpisodes(t, c.tail)
			t.Logf("false episodes %d on 10 series, delays %v", falseTotal, delays)
			require.LessOrEqual(t, falseTotal, c.maxFalse)
			for _, d := range delays {
				require.GreaterOrEqual(t, d, 0, "burst not detected")
				require.LessOrEqual(t, d, burstWithin, "burst detected late")
			}
		})
	}
}

func countEpisodes(t *testing.T, tail string) (falseTotal int, delays []int) {
	t.Helper()
	const seeds = 10
	// Bursts at night (rate ≈ 5), at the morning ramp and at the peak
	// (rate ≈ 50), from day 8 on.
	bursts := []int{8*288 + 10, 9*288 + 72, 10*288 + 144}
	for seed := range uint64(seeds) {
		m, err := New(Spec{Model: "seasonal", Threshold: ThresholdSpec{Tail: tail}})
		require.NoError(t, err)
		ts, vals := countSeries(12, seed, bursts)
		detected := make([]int, len(bursts))
		for k := range detected {
			detected[k] = -1
		}
		for i := range vals {
			res := m.Observe(ts[i], vals[i])
			inBurst := false
			for k, b := range bursts {
				// A burst's episode may start up to an hour after it
				// ends, while the average decays.
				if i >= b && i < b+24 {
					inBurst = true
					if res.Score > 1 && detected[k] < 0 {
						detected[k] = i - b
					}
				}
			}
			if res.Onset && !inBurst {
				falseTotal++
			}
		}
		require.Equal(t, countOn, m.(*detector).counts.mode)
		delays = append(delays, detected...)
	}
	return falseTotal, delays
}

func TestCountDetection(t *testing.T) {
	noisy := signal(300, 1, nil) // fractions
	ts, counts := countSeries(2, 1, nil)
	cases := []struct {
		name  string
		model string
		vals  []float64
		want  uint8
	}{
		{"counts", "seasonal", counts, countOn},
		{"fractions", "seasonal", noisy, countOff},
		{"constant integers", "seasonal", make([]float64, 300), countTentative},
		{"large integers", "seasonal", func() []float64 {
			v := make([]float64, len(counts))
			for i := range v {
				v[i] = 1e6 + counts[i]
			}
			return v
		}(), countOff},
		{"nsigma keeps the values", "nsigma", counts, countOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(Spec{Model: c.model})
			require.NoError(t, err)
			for i, v := range c.vals {
				m.Observe(ts[i], v)
			}
			d := m.(*detector)
			require.Equal(t, c.want, d.counts.mode)
			state, err := m.MarshalBinary()
			require.NoError(t, err)
			r, err := New(Spec{Model: c.model})
			require.NoError(t, err)
			require.NoError(t, r.UnmarshalBinary(state))
			require.Equal(t, d.counts, r.(*detector).counts)
			r.Reset()
			require.Equal(t, c.model == "nsigma", r.(*detector).counts.mode == countOff)
		})
	}
	t.Run("band matches score", func(t *testing.T) {
		// The band is the square root's, squared back: a value just
		// outside it scores above 1, just inside below.
		spec := Spec{Model: "ewma", Threshold: ThresholdSpec{Mode: "auto"}}
		m, err := New(spec)
		require.NoError(t, err)
		ts, vals := countSeries(2, 5, nil)
		for i := range vals[:400] {
			m.Observe(ts[i], vals[i])
		}
		require.Equal(t, countOn, m.(*detector).counts.mode)
		state, err := m.MarshalBinary()
		require.NoError(t, err)
		probe := m.Observe(ts[400], vals[400])
		require.Less(t, probe.Lower, probe.Expected)
		require.Greater(t, probe.Upper, probe.Expected)
		for _, c := range []struct {
			v     float64
			above bool
		}{{probe.Upper + 0.01, true}, {probe.Upper - 0.01, false}} {
			require.NoError(t, m.UnmarshalBinary(state))
			require.Equal(t, c.above, m.Observe(ts[400], c.v).Score > 1, "%g", c.v)
		}
	})
	t.Run("expected in the series' units", func(t *testing.T) {
		m, err := New(Spec{Model: "seasonal"})
		require.NoError(t, err)
		ts, vals := countSeries(3, 4, nil)
		var res Result
		for i := range vals {
			res = m.Observe(ts[i], vals[i])
		}
		// The last row is just before midnight: rate ≈ 5.
		require.Equal(t, Ready, res.Status)
		require.InDelta(t, 5, res.Expected, 2)
		require.Less(t, res.Lower, res.Expected)
		require.Greater(t, res.Upper, res.Expected)
	})
}
