package scorer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSortedRing checks mad's window against sorting the last values
// afresh: the sorted copy, the median, the MAD (walked from the previous
// split) and the absolute deviation sum, on windows with ties, odd and
// even lengths, and after shifts.
func TestSortedRing(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for trial := range 300 {
		size := 1 + r.IntN(70)
		w := newSortedRing(size)
		var hist []float64
		for step := range 3 * size {
			v := r.NormFloat64() * 10
			switch trial % 3 {
			case 0:
				v = float64(r.IntN(4)) // ties
			case 1:
				v = math.Round(v) // some ties
			}
			if step == size && trial%5 == 0 {
				w.shift(2.5)
				for i := range hist {
					hist[i] += 2.5
				}
			}
			w.push(v)
			hist = append(hist, v)
			last := hist[max(0, len(hist)-size):]
			want := slices.Clone(last)
			slices.Sort(want)
			require.Equal(t, want, w.sorted, "trial %d step %d", trial, step)
			for i, x := range last {
				require.Equal(t, x, w.at(i))
			}
			med := w.median()
			devs := make([]float64, len(want))
			var sum float64
			for i, x := range want {
				devs[i] = math.Abs(x - med)
				sum += devs[i]
			}
			slices.Sort(devs)
			n := len(devs)
			mad := devs[n/2]
			if n%2 == 0 {
				mad = (devs[n/2-1] + devs[n/2]) / 2
			}
			require.Equal(t, mad, w.madAt(med), "trial %d step %d window %v", trial, step, w.sorted)
			require.Equal(t, sum, w.absDevSum(med))
		}
		state, err := w.appendState(nil)
		require.NoError(t, err)
		c := newSortedRing(size)
		require.NoError(t, c.restoreState(state))
		require.Equal(t, w.sorted, c.sorted)
		again, err := c.appendState(nil)
		require.NoError(t, err)
		require.Equal(t, state, again)
	}
}

// TestSortedRingRestoreErrors: a truncated or oversized state is refused
// and leaves the window as it was.
func TestSortedRingRestoreErrors(t *testing.T) {
	w := newSortedRing(4)
	for _, v := range []float64{3, 1, 2} {
		w.push(v)
	}
	state, err := w.appendState(nil)
	require.NoError(t, err)
	big := newSortedRing(8)
	for v := range 8 {
		big.push(float64(v))
	}
	bigState, err := big.appendState(nil)
	require.NoError(t, err)
	for _, bad := range [][]byte{state[:len(state)-1], state[:2], bigState, append(slices.Clone(state), 0)} {
		require.ErrorIs(t, w.restoreState(bad), ErrBadState)
		require.Equal(t, []float64{1, 2, 3}, w.sorted)
	}
}
