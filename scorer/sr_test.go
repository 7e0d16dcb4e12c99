package scorer

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// paperSR is the spectral residual of Ren et al. computed directly, as
// sr did at every point before it kept its kernel between refreshes:
// the extended window's FFT, the log amplitude's residual from its
// moving average, the inverse FFT. It returns the signed map y (the
// saliency is |y|) of window (oldest first, newest last).
func paperSR(window []float64, n, extend, q int) []float64 {
	nr := len(window)
	x := make([]complex128, n)
	for i, v := range window {
		x[i] = complex(v, 0)
	}
	base := nr - 2 - extend
	var g float64
	for i := range extend {
		g += (window[nr-2] - window[base+i]) / float64(extend-i)
	}
	for i := nr; i < n; i++ {
		x[i] = complex(window[base+1]+g, 0)
	}
	dft := func(in []complex128, sign float64) []complex128 {
		out := make([]complex128, n)
		for k := range out {
			for j, v := range in {
				out[k] += v * cmplx.Exp(complex(0, sign*2*math.Pi*float64(j*k)/float64(n)))
			}
		}
		return out
	}
	spec := dft(x, -1)
	logA := make([]float64, n)
	for i, c := range spec {
		logA[i] = math.Log(cmplx.Abs(c) + 1e-12)
	}
	half := q / 2
	for i := range spec {
		var avg float64
		for j := -half; j <= half; j++ {
			avg += logA[(i+j+n)%n]
		}
		avg /= float64(2*half + 1)
		spec[i] *= complex(math.Exp(-avg), 0)
	}
	y := dft(spec, 1)
	out := make([]float64, n)
	for i, c := range y {
		out[i] = real(c) / float64(n)
	}
	return out
}

// srSignal is a noisy sine with a spike, a level shift and a trend, so
// the kernel and the extrapolation both have work to do.
func srSignal(n int) []float64 {
	r := rand.New(rand.NewPCG(11, 12))
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = 1000 + 20*math.Sin(2*math.Pi*float64(i)/37) + 0.05*float64(i) + r.NormFloat64()
		if i == 150 {
			vals[i] += 80
		}
		if i > 220 {
			vals[i] -= 40
		}
	}
	return vals
}

// TestSRMatchesPaper: at every point, the saliencies sr scores with —
// the newest point's and the z before it, slid along since the last
// refresh — are the paper's map of the current window under the kernel
// of the last refresh; with refresh 1 the deviation is the paper's
// score. Tolerances allow for the float32 kernel and saliencies.
func TestSRMatchesPaper(t *testing.T) {
	cases := []map[string]string{
		{"refresh": "1"}, {"refresh": "7"}, {"refresh": "64"},
		{"refresh": "1", "extend": "1", "z": "5"}, {"refresh": "9", "extend": "1", "z": "5"},
		{"refresh": "5", "extend": "2", "window": "32", "q": "5"},
	}
	for _, params := range cases {
		refresh, err := strconv.Atoi(params["refresh"])
		require.NoError(t, err)
		c, err := newCore("sr", params)
		require.NoError(t, err)
		m := c.(*sr)
		n, nr, z := m.f.n, len(m.buf)/2, m.z
		vals := srSignal(400)
		for i, v := range vals {
			est := m.Update(0, v)
			if i < nr {
				require.False(t, m.Ready())
				continue
			}
			require.True(t, m.Ready())
			window := vals[i-nr+1 : i+1]
			mean := 0.0
			for _, x := range window[:nr-1] {
				mean += x
			}
			mean /= float64(nr - 1)
			require.InDelta(t, mean, est.Expected, 1e-9*mean)
			// The map under the current kernel, by circular convolution
			// with the extended window.
			ext := paperSR(window, n, m.extend, m.q)
			p := nr - 1
			xt := make([]float64, n)
			copy(xt, window)
			for j := nr; j < n; j++ {
				xt[j] = m.next
			}
			conv := func(pos int) float64 {
				var s float64
				for j, x := range xt {
					d := ((pos-j)%n + n) % n
					s += m.tap(d, n) * (x - mean)
				}
				return s + mean*m.h0
			}
			for k := 0; k <= z; k++ {
				want := conv(p - k)
				if k < z {
					got := float64(m.y[(m.yHead+z-1-k)%z])
					require.InDelta(t, want, got, 1e-4*(math.Abs(want)+1e-3), "%v row %d depth %d", params, i, k)
				}
			}
			if refresh == 1 {
				var local float64
				for k := 1; k <= z; k++ {
					local += math.Abs(ext[p-k])
				}
				local /= float64(z)
				want := max((math.Abs(ext[p])-local)/local, 0)
				if v < mean {
					want = -want
				}
				require.InDelta(t, want, est.Dev, 1e-4*(math.Abs(want)+1), "%v row %d", params, i)
			}
		}
	}
}

// TestSRRestoreErrors: every truncation of a state, one of the earlier
// layout (values only) and one of other parameters are refused, and a
// refused restore leaves the model as it was.
func TestSRRestoreErrors(t *testing.T) {
	c, err := newCore("sr", nil)
	require.NoError(t, err)
	for i, v := range srSignal(100) {
		c.Update(int64(i), v)
	}
	state, err := c.AppendBinary(nil)
	require.NoError(t, err)
	fresh, err := newCore("sr", nil)
	require.NoError(t, err)
	for n := range len(state) {
		require.ErrorIs(t, fresh.UnmarshalBinary(state[:n]), ErrBadState, "truncated to %d", n)
	}
	require.ErrorIs(t, fresh.UnmarshalBinary(append(state, 0)), ErrBadState)
	old := enc{}
	old.u32(3)
	for range 3 {
		old.f64(1)
	}
	require.ErrorIs(t, fresh.UnmarshalBinary(old.b), ErrBadState)
	other, err := newCore("sr", map[string]string{"z": "5"})
	require.NoError(t, err)
	require.ErrorIs(t, other.UnmarshalBinary(state), ErrBadState)
	require.False(t, fresh.Ready())
	empty, err := fresh.AppendBinary(nil)
	require.NoError(t, err)
	c2, err := newCore("sr", nil)
	require.NoError(t, err)
	want, err := c2.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, want, empty)
	require.NoError(t, fresh.UnmarshalBinary(state))
	again, err := fresh.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, state, again)
}

// TestExpMovingAverage: within range the table's exponentials of the
// moving means; a mean out of range (an infinite bin) as math.Exp has it.
func TestExpMovingAverage(t *testing.T) {
	a := []float64{0.5, -3, 2, 10, -7, 1.25, 4}
	h := make([]float64, len(a)-2)
	expMovingAverage(h, a, 3)
	for k := range h {
		m := (a[k] + a[k+1] + a[k+2]) / 3
		require.Equal(t, tableExp(-m), h[k], "k %d", k)
		require.InEpsilon(t, math.Exp(-m), h[k], 1e-9, "k %d", k)
	}
	a[3] = math.Inf(1)
	expMovingAverage(h, a, 3)
	require.Equal(t, []float64{0, 0, 0}, h[1:4])
	require.InEpsilon(t, math.Exp(-(a[0]+a[1]+a[2])/3), h[0], 1e-9)
}

// TestSlideRunMatchesGo: slideRun (vectors where the architecture has
// them) leaves the same saliencies and returns the same sum as
// slideRunGo, bit for bit, for every length's split into vectors and a
// remainder, with signs, zeros and magnitudes far apart.
func TestSlideRunMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	val := func() float32 {
		switch r.IntN(8) {
		case 0:
			return 0
		case 1:
			return float32(math.Copysign(0, -1))
		}
		return float32(r.NormFloat64() * math.Exp(r.Float64()*40-20))
	}
	for n := 1; n <= 41; n++ {
		y, want := make([]float32, n), make([]float32, n)
		t0, t1, t2 := make([]float32, n), make([]float32, n), make([]float32, n)
		for range 20 {
			for i := range n {
				y[i] = val()
				t0[i], t1[i], t2[i] = val(), val(), val()
			}
			copy(want, y)
			d0, dm, dl := val(), val(), val()
			sum := slideRun(y, t0, t1, t2, d0, dm, dl)
			wantSum := slideRunGo(want, t0, t1, t2, d0, dm, dl)
			require.Equal(t, math.Float32bits(wantSum), math.Float32bits(sum), "n %d", n)
			for i := range y {
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(y[i]), "n %d point %d", n, i)
			}
		}
	}
}
