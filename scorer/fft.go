package scorer

import (
	"math"
	"math/bits"
	"sync"
)

// fft is an in-place radix-2 forward FFT of a fixed power-of-two size,
// with its twiddle factors and bit-reversal permutation computed once,
// so a transform allocates nothing.
type fft struct {
	n   int
	rev []uint16 // rev[i]: i with its log2(n) bits reversed
	// stw[half+k] is the twiddle of butterfly k in the stage joining
	// blocks of half points, half ≥ 4: exp(−2πik/(2·half)), laid out
	// stage by stage so each stage reads them in order.
	stw []complex128
	// stv holds stw for vector code: (re, re, −im, im) per twiddle, so
	// that b·w is b·(re, re) + swap(b)·(−im, im), lane by lane the same
	// products and sums as bfly's.
	stv []float64
}

func newFFT(n int) *fft {
	f := &fft{n: n, rev: make([]uint16, n), stw: make([]complex128, max(n, 4))}
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range n {
		f.rev[i] = uint16(bits.Reverse64(uint64(i)) >> shift)
	}
	tw := make([]complex128, n/2) // exp(-2πik/n), k < n/2
	for k := range tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		tw[k] = complex(c, s)
	}
	for half := 4; half < n; half <<= 1 {
		step := n / (2 * half)
		for k := range half {
			f.stw[half+k] = tw[k*step]
		}
	}
	f.stv = make([]float64, 4*len(f.stw))
	for j, w := range f.stw {
		f.stv[4*j], f.stv[4*j+1], f.stv[4*j+2], f.stv[4*j+3] = real(w), real(w), -imag(w), imag(w)
	}
	return f
}

// butterflies is the transform of x[:n] given in bit-reversed order.
func (f *fft) butterflies(x []complex128) {
	n := f.n
	x = x[:n]
	if n == 2 {
		x[0], x[1] = x[0]+x[1], x[0]-x[1]
		return
	}
	// The first two stages as one radix-4 step: their twiddles are 1
	// and −i, no multiplication.
	for s := 0; s+4 <= len(x); s += 4 {
		q := x[s : s+4 : s+4]
		radix4(q, q[0], q[1], q[2], q[3])
	}
	f.stages(x)
}

// radix4 sets q[0..3] to the first two stages' outputs on a0..a3.
func radix4(q []complex128, a0, a1, a2, a3 complex128) {
	q = q[:4]
	b0, b1, b2, b3 := a0+a1, a0-a1, a2+a3, a2-a3
	t := complex(imag(b3), -real(b3)) // −i·b3
	q[0], q[1], q[2], q[3] = b0+b2, b1+t, b0-b2, b1-t
}

// stages runs the stages after the first two on x[:n], n ≥ 4, two at a
// time where it can: the pair's four points are read and written once
// and their butterflies are the ones of the two stages in turn, so the
// values are the same as stage by stage.
func (f *fft) stages(x []complex128) {
	n := f.n
	x = x[:n]
	half := 4
	for ; 4*half <= n; half <<= 2 {
		f.stagePair(x, half)
	}
	if half < n {
		f.stage(x, half)
	}
}

// stage joins blocks of half points into blocks of 2·half.
func (f *fft) stage(x []complex128, half int) {
	tw := f.stw[half : 2*half]
	for s := 0; s+2*half <= len(x); s += 2 * half {
		lo := x[s : s+half]
		hi := x[s+half : s+2*half]
		hi, tw := hi[:len(lo)], tw[:len(lo)]
		a, b := lo[0], hi[0]
		lo[0], hi[0] = a+b, a-b
		for k := 1; k < len(lo); k++ {
			lo[k], hi[k] = bfly(lo[k], hi[k], tw[k])
		}
	}
}

// stagePairGo is stage(x, half) then stage(x, 2·half). stagePair is
// this, with each complex value as one vector where the architecture
// has them, the same bits.
func (f *fft) stagePairGo(x []complex128, half int) {
	tw1 := f.stw[half : 2*half]
	tw2 := f.stw[2*half : 3*half]
	tw3 := f.stw[3*half : 4*half]
	for s := 0; s+4*half <= len(x); s += 4 * half {
		q0 := x[s : s+half]
		q1 := x[s+half : s+2*half][:len(q0)]
		q2 := x[s+2*half : s+3*half][:len(q0)]
		q3 := x[s+3*half : s+4*half][:len(q0)]
		tw1, tw2, tw3 := tw1[:len(q0)], tw2[:len(q0)], tw3[:len(q0)]
		// k = 0: the twiddles of the first stage and the first of the
		// second are 1.
		a0, a1, a2, a3 := q0[0]+q1[0], q0[0]-q1[0], q2[0]+q3[0], q2[0]-q3[0]
		q0[0], q2[0] = a0+a2, a0-a2
		q1[0], q3[0] = bfly(a1, a3, tw3[0])
		for k := 1; k < len(q0); k++ {
			w := tw1[k]
			a0, a1 := bfly(q0[k], q1[k], w)
			a2, a3 := bfly(q2[k], q3[k], w)
			q0[k], q2[k] = bfly(a0, a2, tw2[k])
			q1[k], q3[k] = bfly(a1, a3, tw3[k])
		}
	}
}

// bfly is a + b·w and a − b·w, the product written out as Go's complex
// multiplication computes it (no fused operations).
func bfly(a, b, w complex128) (complex128, complex128) {
	br := real(b)*real(w) - imag(b)*imag(w)
	bi := real(b)*imag(w) + imag(b)*real(w)
	return complex(real(a)+br, imag(a)+bi), complex(real(a)-br, imag(a)-bi)
}

// realFFT is the DFT of n real values through one complex FFT of n/2:
// the even values as real parts, the odd ones as imaginary parts, then
// the two interleaved spectra are separated and combined.
type realFFT struct {
	n    int
	half *fft
	tw   []complex128 // exp(-2πik/n), k < n/2
	full *fft         // the complex FFT of n, for two real inverses at once
}

func newRealFFT(n int) *realFFT {
	r := &realFFT{n: n, half: newFFT(n / 2), tw: make([]complex128, n/2), full: newFFT(n)}
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
	// Packed straight into bit-reversed order (the permutation is its
	// own inverse), through the first two stages on the way.
	rev := r.half.rev[:m]
	if m >= 4 {
		for s := 0; s+4 <= m; s += 4 {
			rv := rev[s : s+4 : s+4]
			i0, i1, i2, i3 := 2*int(rv[0]), 2*int(rv[1]), 2*int(rv[2]), 2*int(rv[3])
			radix4(z[s:s+4:s+4], complex(x[i0], x[i0+1]), complex(x[i1], x[i1+1]),
				complex(x[i2], x[i2+1]), complex(x[i3], x[i3+1]))
		}
		r.half.stages(z)
	} else {
		for k, j := range rev {
			z[j] = complex(x[2*k], x[2*k+1])
		}
		r.half.butterflies(z)
	}
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
// spec[n/2] are ignored).
func (r *realFFT) inverse(spec []complex128, z []complex128, x []float64) {
	r.inverseRange(spec, z, x, 0, r.n)
}

// inverseRange is inverse that writes only x[lo:hi], 0 ≤ lo ≤ hi ≤ n,
// the same values: the forward step undone, then one complex inverse
// FFT of n/2, itself a forward one of the conjugates.
func (r *realFFT) inverseRange(spec []complex128, z []complex128, x []float64, lo, hi int) {
	m := r.n / 2
	spec, z, x = spec[:m+1], z[:m], x[:2*m]
	tw := r.tw[:m]
	rev := r.half.rev[:m]
	for k := range m {
		a, b := spec[k], spec[m-k]
		// even = (a + conj b)/2, odd = (a − conj b)/(2w) with |w| = 1;
		// z = conj(even + i·odd), conjugated for the forward transform,
		// stored in bit-reversed order.
		ar, ai, br, bi := real(a), imag(a), real(b), -imag(b)
		er, ei := 0.5*(ar+br), 0.5*(ai+bi)
		dr, di := 0.5*(ar-br), 0.5*(ai-bi)
		wr, wi := real(tw[k]), -imag(tw[k])
		or, oi := dr*wr-di*wi, dr*wi+di*wr
		z[rev[k]] = complex(er-oi, -(ei + or))
	}
	r.half.butterflies(z)
	scale := 1 / float64(m)
	for i := lo; i < hi; i++ {
		c := z[i>>1]
		if i&1 == 0 {
			x[i] = real(c) * scale
		} else {
			x[i] = -imag(c) * scale
		}
	}
}

// halfLogPowers sets out[i] = ½·ln(|spec[i]|² + 1e-24), which is
// ln(|X| + 1e-12) to 1e-12 wherever |X| is not itself about 1e-12, with
// no square root. An infinite or NaN power goes to math.Log in a second
// pass: a call in the loop would have it keep its registers on the stack.
func halfLogPowers(spec []complex128, out []float64) {
	out = out[:len(spec)]
	special := false
	for i, c := range spec {
		re, im := real(c), imag(c)
		x := re*re + im*im + 1e-24
		special = special || !isNormal(x)
		out[i] = 0.5 * tableLogNormal(x)
	}
	if special {
		for i, c := range spec {
			re, im := real(c), imag(c)
			if x := re*re + im*im + 1e-24; !isNormal(x) {
				out[i] = 0.5 * math.Log(x)
			}
		}
	}
}

// isNormal: x is finite and not subnormal or zero.
func isNormal(x float64) bool {
	e := math.Float64bits(x) >> 52 & 0x7ff
	return e != 0 && e != 0x7ff
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
	w    []complex128 // n, for the complex FFT
	logA []float64    // n/2+1 and the moving average's margins
	h    []float64    // n/2+1, the whitening filter H
}

var srScratchPools [11]sync.Pool

func getSRScratch(n int) *srScratch {
	k := bits.TrailingZeros(uint(n))
	if s, ok := srScratchPools[k].Get().(*srScratch); ok {
		return s
	}
	return &srScratch{
		x: make([]float64, n), z: make([]complex128, n/2),
		spec: make([]complex128, n/2+1), w: make([]complex128, n), logA: make([]float64, n+1),
		h: make([]float64, n/2+1),
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

// tableLog is ln x for a finite x > 0 within 1e-10. Subnormal x goes to
// math.Log.
func tableLog(x float64) float64 {
	if !isNormal(x) {
		return math.Log(x)
	}
	return tableLogNormal(x)
}

// tableLogNormal is tableLog for a positive normal x: x = 2^e·m, m in
// [1, 2), m = m_k·(1+r) with m_k the table point below m and |r| < 1/256,
// ln(1+r) by three terms of its series. Other x give garbage, not a
// panic.
func tableLogNormal(x float64) float64 {
	b := math.Float64bits(x)
	k := b >> (52 - tableBits) & (1<<tableBits - 1)
	// m − m_k, exactly: the mantissa's bits below the table's.
	d := math.Float64frombits(b&(1<<(52-tableBits)-1)|1023<<52) - 1
	r := d * invTab[k]
	return float64(int64(b>>52)-1023)*math.Ln2 + logTab[k] + r*(1-r*(0.5-r*(1.0/3)))
}

// tableExp is e^x within 1e-10 for |x| < 700 (math.Exp beyond).
func tableExp(x float64) float64 {
	if !expInRange(x) {
		return math.Exp(x)
	}
	return tableExpIn(x)
}

// expInRange: tableExpIn is e^x within 1e-10 at x.
func expInRange(x float64) bool { return x > -700 && x < 700 }

// tableExpIn is tableExp for |x| < 700: 2^(x·log2 e) split into an
// integer power, a table point and a remainder below 1/256 whose power of
// two is four terms of its series. Other x give garbage, not a panic.
func tableExpIn(x float64) float64 {
	t := x*math.Log2E + 1024 // > 0, so truncation is floor
	ti := int64(t * (1 << tableBits))
	r := (t - float64(ti)/(1<<tableBits)) * math.Ln2 // [0, ln2/256)
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24))))
	// 2^(ti>>tableBits − 1024) has the biased exponent ti>>tableBits − 1.
	return expTab[ti&(1<<tableBits-1)] * p * math.Float64frombits(uint64(ti>>tableBits-1)<<52)
}
