package scorer

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

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
