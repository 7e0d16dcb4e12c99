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

// TestBurstsOnAFlatSeries: a series that sits on 0 between bursts has a
// spread of ~0, so the core caps a burst's deviation at maxDev and the
// roughness floor rescales it. Rescaling the cap would score every burst
// after the first alike and tiny, whatever its size; each burst must
// instead be measured against the floor, in proportion to its size.
func TestBurstsOnAFlatSeries(t *testing.T) {
	for _, model := range []string{"seasonal", "mad", "nsigma"} {
		t.Run(model, func(t *testing.T) {
			m, err := New(Spec{Model: model})
			require.NoError(t, err)
			raw := map[int]float64{}
			for i := range 3000 {
				v := 0.0
				switch i {
				case 1000, 2000:
					v = 1e6
				case 2500:
					v = 1e9
				}
				res := m.Observe(baseTs+int64(i)*300_000, v)
				raw[i] = res.Raw
			}
			require.Greater(t, raw[2000], 3.0, "a second burst is far outside the series' usual steps")
			require.Greater(t, raw[2500]/raw[2000], 100.0, "a burst 1000× larger deviates far more")
		})
	}
}
