package scorer

import (
	"math"
	"math/bits"
	"sync"
)

// fft is an in-place radix-2 forward FFT of a fixed power-of-two size,
// with its twiddle factors and bit-reversal swaps computed once, so a
// transform allocates nothing.
type fft struct {
	n     int
	swaps []uint16     // index pairs to exchange for the bit-reversed order
	tw    []complex128 // exp(-2πik/n), k < n/2
}

func newFFT(n int) *fft {
	f := &fft{n: n, tw: make([]complex128, n/2)}
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range n {
		if j := int(bits.Reverse64(uint64(i)) >> shift); i < j {
			f.swaps = append(f.swaps, uint16(i), uint16(j))
		}
	}
	for k := range f.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		f.tw[k] = complex(c, s)
	}
	return f
}

// transform computes the forward DFT of x[:n] in place, n ≥ 2.
func (f *fft) transform(x []complex128) {
	n := f.n
	x = x[:n]
	sw := f.swaps
	for i := 0; i+1 < len(sw); i += 2 {
		a, b := sw[i], sw[i+1]
		x[a], x[b] = x[b], x[a]
	}
	if n == 2 {
		x[0], x[1] = x[0]+x[1], x[0]-x[1]
		return
	}
	// The first two stages as one radix-4 step: their twiddles are 1
	// and −i, no multiplication.
	for s := 0; s+3 < n; s += 4 {
		a0, a1, a2, a3 := x[s], x[s+1], x[s+2], x[s+3]
		b0, b1, b2, b3 := a0+a1, a0-a1, a2+a3, a2-a3
		t := complex(imag(b3), -real(b3)) // −i·b3
		x[s], x[s+1], x[s+2], x[s+3] = b0+b2, b1+t, b0-b2, b1-t
	}
	for size := 8; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for s := 0; s < n; s += size {
			lo, hi := x[s:s+half], x[s+half:s+size]
			a, b := lo[0], hi[0]
			lo[0], hi[0] = a+b, a-b
			for k := 1; k < half; k++ {
				w := f.tw[k*step]
				a, b := lo[k], hi[k]*w
				lo[k], hi[k] = a+b, a-b
			}
		}
	}
}

// realFFT is the DFT of n real values through one complex FFT of n/2:
// the even values as real parts, the odd ones as imaginary parts, then
// the two interleaved spectra are separated and combined.
type realFFT struct {
	n    int
	half *fft
	tw   []complex128 // exp(-2πik/n), k < n/2
}

func newRealFFT(n int) *realFFT {
	r := &realFFT{n: n, half: newFFT(n / 2), tw: make([]complex128, n/2)}
	for k := range r.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		r.tw[k] = complex(c, s)
	}
	return r
}

// transform sets out[0..n/2] to the first half of the DFT of x[:n] (the
// rest is its mirror image, conjugated); z is n/2 points of scratch.
func (r *realFFT) transform(x []float64, z, out []complex128) {
	m := r.n / 2
	x, z, out = x[:2*m], z[:m], out[:m+1]
	for k := range z {
		z[k] = complex(x[2*k], x[2*k+1])
	}
	r.half.transform(z)
	z0 := z[0]
	out[0] = complex(real(z0)+imag(z0), 0)
	out[m] = complex(real(z0)-imag(z0), 0)
	tw := r.tw[:m]
	for f := 1; f < m; f++ {
		a, b := z[f], z[m-f]
		// even = (a + conj b)/2, odd = (a − conj b)/(2i)
		ar, ai, br, bi := real(a), imag(a), real(b), -imag(b)
		er, ei := 0.5*(ar+br), 0.5*(ai+bi)
		or, oi := 0.5*(ai-bi), -0.5*(ar-br)
		wr, wi := real(tw[f]), imag(tw[f])
		out[f] = complex(er+wr*or-wi*oi, ei+wr*oi+wi*or)
	}
}

// inverse sets x[:n] to the inverse DFT of the Hermitian spectrum whose
// first half is spec[0..n/2] (the imaginary parts of spec[0] and
// spec[n/2] are ignored): the forward step undone, then one complex
// inverse FFT of n/2, itself a forward one of the conjugates.
func (r *realFFT) inverse(spec []complex128, z []complex128, x []float64) {
	m := r.n / 2
	spec, z, x = spec[:m+1], z[:m], x[:2*m]
	tw := r.tw[:m]
	for k := range m {
		a, b := spec[k], spec[m-k]
		// even = (a + conj b)/2, odd = (a − conj b)/(2w) with |w| = 1;
		// z = conj(even + i·odd), conjugated for the forward transform.
		ar, ai, br, bi := real(a), imag(a), real(b), -imag(b)
		er, ei := 0.5*(ar+br), 0.5*(ai+bi)
		dr, di := 0.5*(ar-br), 0.5*(ai-bi)
		wr, wi := real(tw[k]), -imag(tw[k])
		or, oi := dr*wr-di*wi, dr*wi+di*wr
		z[k] = complex(er-oi, -(ei + or))
	}
	r.half.transform(z)
	scale := 1 / float64(m)
	for k, c := range z {
		x[2*k] = real(c) * scale
		x[2*k+1] = -imag(c) * scale
	}
}

// realFFTs holds one table per power-of-two size: they are immutable
// once built, so every series of a size shares them.
var (
	fftMu    sync.Mutex
	realFFTs [11]*realFFT // by log2 of the size, up to 1024
)

// sharedRealFFT returns the shared tables for size n, a power of two
// from 4 to 1024.
func sharedRealFFT(n int) *realFFT {
	k := bits.TrailingZeros(uint(n))
	fftMu.Lock()
	defer fftMu.Unlock()
	if realFFTs[k] == nil {
		realFFTs[k] = newRealFFT(n)
	}
	return realFFTs[k]
}

// srScratch is the working memory of one kernel refresh. A refresh comes
// every few dozen samples of a series, so series share a pool of them
// rather than each holding 48 bytes per FFT point for good.
type srScratch struct {
	x    []float64    // n real values
	z    []complex128 // n/2 for realFFT
	spec []complex128 // n/2+1 bins
	h    []complex128 // n/2+1 bins
	logA []float64    // n
}

var srScratchPools [11]sync.Pool

func getSRScratch(n int) *srScratch {
	k := bits.TrailingZeros(uint(n))
	if s, ok := srScratchPools[k].Get().(*srScratch); ok {
		return s
	}
	return &srScratch{
		x: make([]float64, n), z: make([]complex128, n/2),
		spec: make([]complex128, n/2+1), h: make([]complex128, n/2+1), logA: make([]float64, n),
	}
}

func putSRScratch(s *srScratch) {
	srScratchPools[bits.TrailingZeros(uint(len(s.x)))].Put(s)
}

// logTable and expTable make the logarithms and exponentials of an sr
// refresh (window/2+1 of each) cheaper than math's: the kernel they feed
// is kept as float32, so 1e-10 is plenty of precision.
const tableBits = 8

var (
	logTab [1<<tableBits + 1]float64 // ln(1 + k/256)
	invTab [1<<tableBits + 1]float64 // 1/(1 + k/256)
	expTab [1<<tableBits + 1]float64 // 2^(k/256)
)

func init() {
	for k := range logTab {
		m := 1 + float64(k)/(1<<tableBits)
		logTab[k], invTab[k] = math.Log(m), 1/m
		expTab[k] = math.Exp2(float64(k) / (1 << tableBits))
	}
}

// tableLog is ln x for a finite x > 0 within 1e-10: x = 2^e·m, m in
// [1, 2), m = m_k·(1+r) with m_k the table point below m and |r| < 1/256,
// ln(1+r) by three terms of its series. Subnormal x goes to math.Log.
func tableLog(x float64) float64 {
	b := math.Float64bits(x)
	e := int64(b>>52) & 0x7ff
	if e == 0 || e == 0x7ff {
		return math.Log(x)
	}
	k := b >> (52 - tableBits) & (1<<tableBits - 1)
	m := math.Float64frombits(b&(1<<52-1) | 1023<<52)
	r := (m - (1 + float64(k)/(1<<tableBits))) * invTab[k]
	return float64(e-1023)*math.Ln2 + logTab[k] + r*(1-r*(0.5-r*(1.0/3)))
}

// tableExp is e^x within 1e-10 for |x| < 700 (math.Exp beyond): 2^(x·log2 e)
// split into an integer power, a table point and a remainder below 1/256
// whose power of two is four terms of its series.
func tableExp(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x)
	}
	t := x*math.Log2E + 1024 // > 0, so truncation is floor
	ti := int64(t * (1 << tableBits))
	r := (t - float64(ti)/(1<<tableBits)) * math.Ln2 // [0, ln2/256)
	k := ti & (1<<tableBits - 1)
	e := ti>>tableBits - 1024
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24))))
	return expTab[k] * p * math.Float64frombits(uint64(e+1023)<<52)
}
