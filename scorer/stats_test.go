package scorer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWindowMAD checks the O(log w) MAD against sorting the absolute
// deviations, on windows with ties, odd and even lengths and centres
// that are and are not the median.
func TestWindowMAD(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for trial := range 2000 {
		size := 1 + r.IntN(40)
		w := newWindow(size)
		for range size + r.IntN(size+1) {
			v := r.NormFloat64()
			if trial%3 == 0 {
				v = float64(r.IntN(4)) // ties
			}
			w.push(v)
		}
		centres := []float64{w.median(), w.sorted[0] - 1, w.sorted[len(w.sorted)-1] + 1, w.sorted[r.IntN(len(w.sorted))]}
		for _, med := range centres {
			devs := make([]float64, len(w.sorted))
			for i, x := range w.sorted {
				devs[i] = abs(x - med)
			}
			slices.Sort(devs)
			n := len(devs)
			want := devs[n/2]
			if n%2 == 0 {
				want = (devs[n/2-1] + devs[n/2]) / 2
			}
			require.Equal(t, want, w.mad(med), "trial %d, centre %g, window %v", trial, med, w.sorted)
		}
	}
}

// TestLogTail checks the tabulated Gaussian log-tail against Log and
// Erfc: within 1e-6 in log units below the tailFloor clamp (0.5 next
// to it), monotone, and clamped at tailFloor.
func TestLogTail(t *testing.T) {
	prev := math.Inf(1)
	for z := -10.0; z <= 45; z += 0.0137 {
		want := math.Log(max(0.5*math.Erfc(z/math.Sqrt2), tailFloor))
		got := logTail(z)
		tol := 1e-6
		if z > 36.5 {
			tol = 0.5
		}
		require.InDelta(t, want, got, tol, "z=%g", z)
		require.LessOrEqual(t, got, prev, "z=%g: not monotone", z)
		prev = got
	}
	require.Equal(t, math.Log(tailFloor), logTail(1e9))
	require.Equal(t, math.Log(tailFloor), logTail(math.NaN()))
}
