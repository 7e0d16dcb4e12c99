package multivariate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func expScores(rng *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rng.ExpFloat64()
	}
	return s
}

func TestLiveThresholdStartsAtPOT(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cal := expScores(rng, 20000, 1)
	p := POT{InitQuantile: 0.98, Risk: 1e-3}
	z0 := p.Threshold(cal)
	var l liveThreshold
	l.start(p, cal)
	require.Equal(t, z0, l.z)
	// Refitting on the calibration peaks alone gives POT's threshold back.
	l.refit()
	require.InEpsilon(t, z0, l.z, 1e-9)
	require.InEpsilon(t, -math.Log(1e-3), l.z, 0.15)
}

func TestLiveThresholdFollowsLiveTail(t *testing.T) {
	p := POT{InitQuantile: 0.98, Risk: 1e-3}
	for _, tc := range []struct {
		name  string
		scale float64 // live scores' scale against the calibration's 1
	}{
		{"quieter", 0.6},
		{"noisier", 1.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			cal := expScores(rng, 5000, 1)
			var l liveThreshold
			l.start(p, cal)
			z0 := l.z
			for _, v := range expScores(rng, 200000, tc.scale) {
				l.observe(v)
			}
			// Exp(scale) exceeds −scale·ln(risk) with probability risk. The
			// quieter stream's peaks above t are few, so its tail is fitted
			// to the old and new excesses together: it moves most of the way.
			want := -tc.scale * math.Log(1e-3)
			if tc.scale < 1 {
				require.Less(t, l.z, z0-0.5*(z0-want), "threshold %v did not come down from %v towards %v", l.z, z0, want)
			} else {
				require.InEpsilon(t, want, l.z, 0.2, "threshold %v (started at %v)", l.z, z0)
			}
			if tc.scale > 1 {
				// Peaks come often enough to fill the ring and forget.
				require.Len(t, l.ring, livePeaks)
			}
			require.True(t, slices.IsSorted(l.sorted))
			require.ElementsMatch(t, l.ring, l.sorted)
		})
	}
}

func TestLiveThresholdNeverLearnsAnomalies(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p := POT{InitQuantile: 0.98, Risk: 1e-3}
	cal := expScores(rng, 5000, 1)
	var l liveThreshold
	l.start(p, cal)
	z0, peaks := l.z, len(l.sorted)
	// A long outage of scores far above the threshold is all anomalies: it
	// adds no peak, and only the grown row count moves the threshold
	// (down, as peaks become rarer), never up towards the outage.
	for range 2000 {
		z := l.z
		require.Equal(t, z, l.observe(50))
	}
	require.Len(t, l.sorted, peaks)
	require.LessOrEqual(t, l.z, z0)
	// NaN is counted but never learnt.
	l.observe(math.NaN())
	require.Len(t, l.sorted, peaks)
}

func TestDetectorLiveThreshold(t *testing.T) {
	const d = 8
	live := fitted(t, "pca+tail", d)
	fixed := fittedWith(t, Config{Model: "pca+tail", FixedThreshold: true}, d)
	require.Equal(t, fixed.threshold, live.threshold)
	// Normal rows: the live detector follows their tail, the fixed one
	// keeps its calibration.
	for _, row := range synth(3000, d, 11) {
		live.Score(row, nil)
		fixed.Score(row, nil)
	}
	require.Equal(t, fixed.threshold, fixed.live.z, "a fixed threshold must not move")
	require.NotEqual(t, live.threshold, live.live.z, "the live threshold did not learn")
	// Both still find the injected anomalies.
	for _, det := range []*Detector{live, fixed} {
		det.Reset()
		test := testSet(d)
		for _, a := range anomalies(d) {
			hit := false
			for i := a.from; i < a.to; i++ {
				hit = hit || det.Score(test[i], nil) >= 1
			}
			require.True(t, hit, "anomaly at %d missed (fixed %v)", a.from, det.cfg.FixedThreshold)
		}
	}

	// The learnt state is saved: a restored detector goes on identically.
	b, err := live.MarshalBinary()
	require.NoError(t, err)
	var back Detector
	require.NoError(t, back.UnmarshalBinary(b))
	require.Equal(t, live.live.z, back.live.z)
	live.Reset()
	for _, row := range synth(2000, d, 12) {
		require.Equal(t, live.Score(row, nil), back.Score(row, nil))
	}
	require.Equal(t, live.live.sorted, back.live.sorted)

	// The fixed flag is saved too.
	b, err = fixed.MarshalBinary()
	require.NoError(t, err)
	require.NoError(t, back.UnmarshalBinary(b))
	require.True(t, back.Config().FixedThreshold)
}

func TestDetectorScoreDoesNotAllocate(t *testing.T) {
	const d = 8
	det := fitted(t, "pca+tail", d)
	rows := synth(5000, d, 13)
	// Fill the live peaks to capacity first, so that a peak among the
	// measured rows also forgets one.
	require.NotNil(t, det.live.ring)
	for k := 0; len(det.live.ring) < livePeaks; k++ {
		det.live.add(1e-3 * float64(k%97+1))
	}
	contrib := make([]float64, d)
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		det.Score(rows[i%len(rows)], contrib)
		i++
	})
	require.Zero(t, allocs)
}

func TestLiveThresholdCorruptState(t *testing.T) {
	det := fitted(t, "pca", 4)
	for _, row := range synth(500, 4, 14) {
		det.Score(row, nil)
	}
	require.NotEmpty(t, det.live.ring, "the calibration's peaks are saved")
	var e encoder
	det.live.encode(&e)
	good := e.b
	var l liveThreshold
	require.NoError(t, l.decode(&decoder{b: slices.Clone(good)}, det.cfg.Calibration))
	// Offsets: t 0, z 8, seen 16, stale 24, flag 32, count 40, then
	// (excess, arrival) pairs.
	for _, tc := range []struct {
		name string
		at   int
		v    uint64
	}{
		{"z not positive", 8, math.Float64bits(-1)},
		{"flag", 32, 7},
		{"too many peaks", 40, livePeaks + 1},
		{"negative excess", 48, math.Float64bits(-2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := slices.Clone(good)
			for k := range 8 {
				b[tc.at+k] = byte(tc.v >> (8 * k))
			}
			require.ErrorIs(t, new(liveThreshold).decode(&decoder{b: b}, det.cfg.Calibration), ErrCorrupt)
		})
	}
}
