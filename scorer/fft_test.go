package scorer

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRealFFT checks the half-size real FFT against the DFT's
// definition for every size sr accepts.
func TestRealFFT(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 4; n <= 1024; n *= 2 {
		f := sharedRealFFT(n)
		require.Same(t, f, sharedRealFFT(n))
		x := make([]float64, n)
		for i := range x {
			x[i] = 100 + r.NormFloat64()
		}
		out := make([]complex128, n/2+1)
		f.transform(x, make([]complex128, n/2), out)
		for k := range out {
			var want complex128
			for j, v := range x {
				want += complex(v, 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/float64(n)))
			}
			require.InDelta(t, 0, cmplx.Abs(out[k]-want), 1e-9*float64(n)*100, "n %d bin %d", n, k)
		}
	}
}

func BenchmarkRealFFT(b *testing.B) {
	f := sharedRealFFT(64)
	x := make([]float64, 64)
	for i := range x {
		x[i] = float64(i % 7)
	}
	z, out := make([]complex128, 32), make([]complex128, 33)
	for b.Loop() {
		f.transform(x, z, out)
	}
}

// TestRealFFTInverse: the inverse undoes the forward transform.
func TestRealFFTInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := 4; n <= 1024; n *= 2 {
		f := sharedRealFFT(n)
		x := make([]float64, n)
		for i := range x {
			x[i] = 100 + r.NormFloat64()
		}
		z, spec, back := make([]complex128, n/2), make([]complex128, n/2+1), make([]float64, n)
		f.transform(x, z, spec)
		f.inverse(spec, z, back)
		for i := range x {
			require.InDelta(t, x[i], back[i], 1e-10, "n %d point %d", n, i)
		}
	}
}

func BenchmarkSRRefresh(b *testing.B) {
	c, err := newCore("sr", nil)
	require.NoError(b, err)
	m := c.(*sr)
	for i := range 200 {
		m.Update(0, 50+math.Sin(float64(i)/7)+float64(i%3))
	}
	for b.Loop() {
		m.refreshKernel()
	}
}

// BenchmarkSRSlide is sr's cost per point between refreshes.
func BenchmarkSRSlide(b *testing.B) {
	c, err := newCore("sr", map[string]string{"refresh": "4096"})
	require.NoError(b, err)
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = 50 + math.Sin(float64(i)/7) + float64(i%3)
	}
	for i := range 100 {
		c.Update(0, vals[i])
	}
	i := 100
	for b.Loop() {
		c.Update(0, vals[i&4095])
		i++
		if i == 4000 {
			i = 100
			c.(*sr).age = 0
		}
	}
}

// TestTableLogExp checks the table approximations against math over the
// range sr's spectra span.
func TestTableLogExp(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 200000 {
		x := math.Exp(r.Float64()*1400 - 700)
		want := math.Log(x)
		require.InDelta(t, want, tableLog(x), 1e-10*max(1, math.Abs(want)), "log %g", x)
		y := r.Float64()*1398 - 699
		require.InEpsilon(t, math.Exp(y), tableExp(y), 1e-10, "exp %g", y)
	}
	for _, x := range []float64{1, 2, math.Nextafter(2, 0), 1e-24, 5e-324, math.MaxFloat64} {
		require.InDelta(t, math.Log(x), tableLog(x), 1e-10*max(1, math.Abs(math.Log(x))), "log %g", x)
	}
	for _, y := range []float64{0, -1e-300, 1e-17, -0.5, 0.5, 699.9, -699.9, 709, -745, -800} {
		require.InEpsilon(t, math.Exp(y)+1e-300, tableExp(y)+1e-300, 1e-10, "exp %g", y)
	}
}

// TestHalfLogPowers: finite powers go through the table, an infinite or
// NaN one through math.Log, wherever it is.
func TestHalfLogPowers(t *testing.T) {
	big := 1e200
	spec := []complex128{complex(3, 4), complex(big, 0), complex(0, 0), complex(math.NaN(), 1), complex(1e-3, -2e-3)}
	out := make([]float64, len(spec))
	halfLogPowers(spec, out)
	for i, c := range spec {
		p := real(c)*real(c) + imag(c)*imag(c) + 1e-24
		want := 0.5 * math.Log(p)
		if math.IsInf(want, 0) || math.IsNaN(want) {
			require.Equal(t, math.Float64bits(want), math.Float64bits(out[i]), "bin %d", i)
			continue
		}
		require.Equal(t, 0.5*tableLog(p), out[i], "bin %d", i)
		require.InDelta(t, want, out[i], 1e-10*max(1, math.Abs(want)), "bin %d", i)
	}
}

// TestStagePairMatchesGo: stagePair (vectors where the architecture has
// them) gives stagePairGo's values bit for bit, at every size and stage
// the FFTs use, on values far apart in magnitude and on zeros.
func TestStagePairMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	val := func() float64 {
		if r.IntN(10) == 0 {
			return math.Copysign(0, r.NormFloat64())
		}
		return r.NormFloat64() * math.Exp(r.Float64()*40-20)
	}
	for n := 16; n <= 1024; n *= 2 {
		f := newFFT(n)
		x, want := make([]complex128, n), make([]complex128, n)
		for half := 4; 4*half <= n; half <<= 1 {
			for range 5 {
				for i := range x {
					x[i] = complex(val(), val())
				}
				copy(want, x)
				f.stagePair(x, half)
				f.stagePairGo(want, half)
				for i := range x {
					require.Equal(t, math.Float64bits(real(want[i])), math.Float64bits(real(x[i])), "n %d half %d point %d", n, half, i)
					require.Equal(t, math.Float64bits(imag(want[i])), math.Float64bits(imag(x[i])), "n %d half %d point %d", n, half, i)
				}
			}
		}
	}
}
