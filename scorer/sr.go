package scorer

import (
	"fmt"
	"math"
)

func init() {
	Register("sr", ModelDoc{
		Description: "Spectral residual (Ren et al., \"Time-Series Anomaly Detection Service at Microsoft\", " +
			"KDD 2019) over a sliding window: the saliency map is the inverse FFT of the spectrum with its " +
			"log amplitude replaced by the residual from its local average; the deviation is the last " +
			"point's saliency relative to the mean saliency of the `z` points before it, signed by the " +
			"direction of the value. Strong on spikes and sudden changes, insensitive to slow drift. " +
			"The map is the window (extended by `extend` extrapolated points) filtered by a whitening " +
			"kernel taken from its own spectrum; the kernel is recomputed every `refresh` samples and " +
			"the map then computed whole, and in between each new point costs one dot product over the " +
			"window plus an O(z) update of the z points' saliencies, whose change is confined to the " +
			"newest and extrapolated points.",
		Warmup: "`window` − `extend` samples (default 59), then threshold.init samples for SPOT.",
		State: "8·(window − extend) values, a float32 kernel of window/2+1 taps and z float32 saliencies, " +
			"plus about 300 bytes (≈ 980 bytes at the defaults); the FFT scratch is shared between series.",
		Params: []ParamDoc{
			{Name: "window", Default: "64", Help: "FFT size: a power of two from 16 to 1024; it holds window−extend real points"},
			{Name: "extend", Default: "5", Help: "extrapolated points appended after the newest one, so it is not at the window's edge"},
			{Name: "q", Default: "3", Help: "width of the moving average over the log amplitude spectrum"},
			{Name: "z", Default: "21", Help: "points before the newest whose mean saliency it is compared with"},
			{Name: "refresh", Default: "32", Help: "samples between recomputations of the whitening kernel " +
				"(1 to 4096; 1 is the paper's computation at every point, at the cost of a forward and an inverse FFT each)"},
		},
	}, newSR)
}

// sr keeps the window in a ring and the whitening kernel of its last
// refresh. The saliency map |IFFT(X·H)|, H = exp(−avg log|X|) real and
// even, is |y| for y = h ⊛ x̃, the circular convolution of the extended
// window x̃ with h = IFFT(H). With h fixed between refreshes:
//
//   - the newest point's y is one dot product of the window with h
//     reversed around it, the extrapolated points folded in (they are
//     linear in the window);
//   - when the window moves on by a point, the y of an older point
//     changes only through the positions where the new layout differs
//     from the old one moved by one: the newest point (where the
//     extension began), the extension and the wrapped-around oldest
//     point; so each of the z saliencies is updated by three products.
//
// A point thus costs O(window + z) rather than two FFTs and window
// logarithms; every refresh recomputes the whole map, so rounding does
// not accumulate. A kernel a few dozen points old whitens the same
// spectrum, and is blind to the newest points, anomalous or not.
type sr struct {
	extend, q, z, refresh int
	f                     *realFFT

	// buf holds the ring of the last window−extend values twice over,
	// slot i at i and i+len/2, so the window, oldest first, is the one
	// slice buf[head:head+len/2].
	buf  []float64
	head int // oldest once full
	n    int
	sum  float64 // of the window, recomputed at every refresh

	age  int       // samples since the last refresh
	hasK bool      // a kernel was computed: the window has been full
	h0   float64   // H[0], the kernel's exact DC gain
	kern []float32 // h[0..window/2]; float32 keeps the state within 1 KiB

	// y holds the signed saliencies (before |·|) of the z newest points,
	// oldest at yHead; float32 for the state's size, and rounded so in
	// memory too, so that a restored model goes on bit for bit.
	y     []float32
	yHead int
	next  float64 // the extrapolation from the window (not state: it is derived)

	// Derived from kern (not state): c, the kernel folded onto the
	// window's positions, oldest first, in the parts slide reads: c0 at
	// the oldest, cp the pairs' shared taps at positions 1…, cmid at
	// mid, the position of age window/2, and ct the newest points' from
	// base on, into which the extrapolation is folded. Positions mid+1 …
	// base−1 share cp's taps (see dotPairs).
	cp, ct    []float64
	c0, cmid  float64
	csum      float64 // Σ c over every position
	dc        float64 // h0 − csum
	base, mid int
	// By position j in y from the oldest, the depth k = z − j it has
	// once the window moves on: h(k) on the newest point's change at
	// taps[j], Σ h(k+i) for 0 < i < extend on the extension's inner
	// points at taps[2z+j], h(k+extend) on its last one at taps[4z+j];
	// three rows, so that four points' taps of a kind are one vector
	// (slideRun). Each row is there twice over, so that the taps of the
	// ring y, wherever it starts, are one slice.
	taps []float32
	wext []float64 // extrapolation weights 1/(extend−i)
	// ge weighs the window from base on into the extrapolation.
	ge []float64
}

// calibration: a saliency less than twice its local mean (score 1) is
// never anomalous, whatever the tail fit says; SPOT is the default mode,
// since saliency ratios are not z-scores (see calibrationHint.pointwise).
func (m *sr) calibration() calibrationHint {
	return calibrationHint{floor: 1, pointwise: true, raw: true}
}

func newSR(p Params) (Core, error) {
	n, err := p.Int("window", 16, 1024)
	if err != nil {
		return nil, err
	}
	if n&(n-1) != 0 {
		return nil, p.errorf("window", p.String("window"), "must be a power of two")
	}
	extend, err := p.Int("extend", 1, n/4)
	if err != nil {
		return nil, err
	}
	q, err := p.Int("q", 1, n/2)
	if err != nil {
		return nil, err
	}
	z, err := p.Int("z", 1, n-extend-2)
	if err != nil {
		return nil, err
	}
	refresh, err := p.Int("refresh", 1, 4096)
	if err != nil {
		return nil, err
	}
	nr := n - extend
	m := &sr{
		extend: extend, q: q, z: z, refresh: refresh, f: sharedRealFFT(n),
		buf: make([]float64, 2*nr), kern: make([]float32, n/2+1), y: make([]float32, z),
		cp: make([]float64, n/2-extend-2), ct: make([]float64, extend+2), wext: make([]float64, extend), taps: make([]float32, 6*z),
	}
	// next = x(base+1) + Σ_i (x(nr−2) − x(base+i))·wext[i], base + extend
	// being nr−2.
	m.base, m.mid = nr-2-extend, n/2-extend-1
	m.ge = make([]float64, extend+1)
	m.ge[1] = 1
	for i := range m.wext {
		m.wext[i] = 1 / float64(extend-i)
		m.ge[extend] += m.wext[i]
		m.ge[i] -= m.wext[i]
	}
	return m, nil
}

// window is the ring's values, oldest first.
func (m *sr) window() []float64 {
	nr := len(m.buf) / 2
	return m.buf[m.head : m.head+nr : m.head+nr]
}

func (m *sr) Update(_ int64, v float64) Estimate {
	nr := len(m.buf) / 2
	if m.n < nr {
		m.buf[m.n], m.buf[m.n+nr] = v, v
		m.n++
		m.sum += v
		return Estimate{Expected: v, Scale: nan}
	}
	// The window's oldest value drops out: the mean is the paper's, of
	// the nr−1 latest previous values.
	old := m.buf[m.head]
	mean := (m.sum - old) / float64(nr-1)
	// sum is the z points' Σ|saliency| before the newest, s the newest's.
	var sum, s float64
	if !m.hasK || m.age >= m.refresh {
		m.push(v, old)
		sum, s = m.refreshKernel()
	} else {
		prev := m.next
		m.push(v, old)
		sum, s = m.slide(v, prev, old, mean)
	}
	m.age++
	score := 0.0
	switch {
	case sum > 0:
		// (s − local)/local with local = sum/z, the local mean, by one
		// division rather than two in a row on the score's path.
		score = min(max((s*float64(m.z)-sum)/sum, 0), maxDev)
	case s > 0:
		score = maxDev // the first move after a flat window
	}
	if v < mean {
		score = -score
	}
	return Estimate{Dev: score, Expected: mean, Scale: nan}
}

func (m *sr) push(v, old float64) {
	nr := len(m.buf) / 2
	h := m.head
	m.buf[h], m.buf[h+nr] = v, v
	if h++; h == nr {
		h = 0
	}
	m.head = h
	m.sum += v - old
}

// slide moves the z saliencies on by one point and computes the newest
// one, v, once it is in the window; prev is the extrapolation before it
// and old the value it replaced. The layout changes (see sr) at the
// newest point by v − prev, on the extension's inner points by the
// change of the extrapolation, and on its last point, where the oldest
// value was, by the new extrapolation − old. It returns the sum of
// the |saliencies| of the z points before the newest, and the newest's |saliency|.
func (m *sr) slide(v, prev, old, mean float64) (sum, s float64) {
	w := m.window()
	// The newest points, from base on, give both the extrapolation and
	// the part of the dot product it is folded into.
	ct := m.ct
	t := w[len(w)-len(ct):]
	ge := m.ge[:len(t)-1]
	var next, st float64
	for i, g := range ge {
		next += g * t[i]
		st += ct[i] * t[i]
	}
	st += ct[len(ge)] * t[len(ge)]
	m.next = next
	// The newest point: Σ c·x, the ages e+2 … n/2−1 at positions 1 on
	// paired with ages n/2+1 … p−1 at mid+1 on, then the oldest (age p),
	// age n/2 and the newest, with the kernel's DC gain restored to its
	// exact value (float32 taps would otherwise leak a large level in).
	mid := m.mid
	yn := dotPairs(m.cp, w[1:], w[mid+1:]) + (m.c0*w[0] + m.cmid*w[mid]) + st + mean*m.dc
	z, h := m.z, m.yHead
	tp := m.taps
	a := slideRun(m.y, tp[z-h:2*z-h], tp[3*z-h:4*z-h], tp[5*z-h:6*z-h],
		float32(v-prev), float32(next-prev), float32(next-old))
	m.y[h] = float32(yn) // replaces the oldest, now beyond depth z
	if h++; h == z {
		h = 0
	}
	m.yHead = h
	return float64(a), math.Abs(yn)
}

// slideRunGo updates the saliencies y in place, y[i] by t0[i]·d0 +
// t1[i]·dm + t2[i]·dl, and returns the sum of their magnitudes, in
// float32 like the values. The sum goes in four lanes, point i in lane
// i mod 4 and the points past the last multiple of four in lane 0, so
// that the lanes' sums do not wait on each other; then (lane 0 + lane
// 2) + (lane 1 + lane 3). slideRun is this with four points at a time
// where the architecture has vectors, the same bit for bit; the
// products are rounded on their own (float32(…)), so that no
// architecture fuses them into the additions.
func slideRunGo(y, t0, t1, t2 []float32, d0, dm, dl float32) float32 {
	n := len(y)
	t0, t1, t2 = t0[:n], t1[:n], t2[:n]
	var a [4]float32
	i := 0
	for ; i+4 <= n; i += 4 {
		for l := range 4 {
			j := i + l
			e := y[j] + float32(t0[j]*d0) + float32(t1[j]*dm) + float32(t2[j]*dl)
			y[j] = e
			a[l] += abs32(e)
		}
	}
	for ; i < n; i++ {
		e := y[i] + float32(t0[i]*d0) + float32(t1[i]*dm) + float32(t2[i]*dl)
		y[i] = e
		a[0] += abs32(e)
	}
	return (a[0] + a[2]) + (a[1] + a[3])
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// tap is h(d) for 0 ≤ d < n: h is even and n-periodic.
func (m *sr) tap(d, n int) float64 { return float64(m.kern[min(d, n-d)]) }

// dot1 is Σ c·x over len(c).
func dot1(c, x []float64) float64 {
	x = x[:len(c)]
	var s float64
	for i, v := range c {
		s += v * x[i]
	}
	return s
}

// dotPairs is Σ c[i]·(lo[i] + hi[len(c)−1−i]) in four partial sums, so
// the additions overlap. h is even and n-periodic, so the window's
// points at ages a and n − a share their tap h(a): those where neither
// has the extrapolation folded in are added before they are multiplied,
// which halves the products of the newest point's saliency.
func dotPairs(c, lo, hi []float64) float64 {
	lo, hi = lo[:len(c)], hi[:len(c)]
	var s0, s1, s2, s3 float64
	k := len(hi)
	i := 0
	for ; i+8 <= len(c); i += 8 {
		c8, l, h := c[i:i+8:i+8], lo[i:i+8:i+8], hi[k-8:k:k]
		k -= 8
		s0 += c8[0] * (l[0] + h[7])
		s1 += c8[1] * (l[1] + h[6])
		s2 += c8[2] * (l[2] + h[5])
		s3 += c8[3] * (l[3] + h[4])
		s0 += c8[4] * (l[4] + h[3])
		s1 += c8[5] * (l[5] + h[2])
		s2 += c8[6] * (l[6] + h[1])
		s3 += c8[7] * (l[7] + h[0])
	}
	for ; i < len(c); i++ {
		s0 += c[i] * (lo[i] + hi[len(hi)-1-i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sum4 is Σ x in four partial sums.
func sum4(x []float64) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		x = x[4:]
	}
	for _, v := range x {
		s0 += v
	}
	return (s0 + s1) + (s2 + s3)
}

// extrapolate is the paper's next point (eq. 6, as Microsoft's reference
// code computes it) from the points before the newest: the newest point
// is not at the edge, and a spike in it does not leak into the extension.
func (m *sr) extrapolate() float64 { return dot1(m.ge, m.window()[m.base:]) }

// refreshKernel recomputes the whitening kernel and the whole saliency
// map from the window as it is now, with the newest point last and the
// extrapolated points after it, as the paper does at every point. It
// sets next and returns what slide does.
func (m *sr) refreshKernel() (sum, s float64) {
	n := m.f.n
	w := m.window()
	nr := len(w)
	sc := getSRScratch(n)
	defer putSRScratch(sc)
	x := sc.x[:n]
	copy(x, w)
	m.sum = sum4(w)
	m.next = m.extrapolate()
	for i := nr; i < n; i++ {
		x[i] = m.next
	}
	spec := sc.spec
	m.f.transform(x, sc.z, spec)
	// The log amplitude of a real signal's spectrum is even and
	// n-periodic: half of it is computed, at logA[q:], and the q bins the
	// moving average reads beyond either end of that half mirrored in.
	half, q := n/2, m.q/2
	logA := sc.logA[:half+1+2*q]
	la := logA[q : q+half+1]
	halfLogPowers(spec[:half+1], la)
	for i := 1; i <= q; i++ {
		logA[q-i], logA[q+half+i] = la[i], la[half-i]
	}
	// H = exp(−(centred moving average of the log amplitude)): the
	// residual's exp(log|X| − avg)·X/|X| is X·H. H is real and even, so
	// its inverse DFT, the kernel h, is real and even too, and so is the
	// map IFFT(X·H): both come from one complex inverse FFT of
	// H + i·X·H, h as its real part and the map as its imaginary part.
	// That inverse is the conjugate of the forward FFT of the
	// conjugate, W below, laid out in bit-reversed order for it; H is
	// scaled by 1/n there (exactly: n is a power of two), the inverse's
	// factor.
	hs := sc.h[:half+1]
	expMovingAverage(hs, logA, 2*q+1)
	m.h0 = hs[0]
	full := m.f.full
	rev := full.rev[:n]
	wz := sc.w[:n]
	scale := 1 / float64(n)
	spec = spec[:len(hs)]
	for k, xk := range spec {
		hk := hs[k] * scale
		u, v := real(xk)*hk, imag(xk)*hk // X·H at k; at n−k its conjugate
		wz[rev[k]] = complex(hk-v, -u)
		// n−k for 0 < k < n/2; at 0 and n/2, where X is real (v = 0),
		// the same slot again with the same value.
		wz[rev[(n-k)&(n-1)]] = complex(hk+v, -u)
	}
	full.butterflies(wz)
	// h[0..n/2] is kept, and of the map the z+1 newest points.
	for d := range m.kern {
		m.kern[d] = float32(real(wz[d]))
	}
	p := nr - 1
	var a float64
	for k := 1; k <= m.z; k++ {
		a += math.Abs(imag(wz[p-k]))
	}
	for j := range m.y {
		m.y[j] = float32(-imag(wz[p-m.z+1+j]))
	}
	m.yHead = 0
	m.derive(x) // x is free once transformed
	m.age, m.hasK = 0, true
	return a, math.Abs(imag(wz[p]))
}

// expMovingAverage sets h[k] = exp(−(the mean of a[k:k+w])) for every
// k: the means as running sums, then their exponentials, through
// tableExpIn alone when every mean is in its range (a spectrum without
// an infinite or NaN bin), so that loop does not hold tableExp's call
// and keeps its registers.
func expMovingAverage(h, a []float64, w int) {
	var acc float64
	for _, l := range a[:w-1] {
		acc += l
	}
	add, drop := a[w-1:], a[:len(a)-w+1]
	h = h[:len(add)]
	drop = drop[:len(add)]
	inv := -1 / float64(w)
	in := true
	for k := range h {
		acc += add[k]
		h[k] = acc * inv
		in = in && expInRange(h[k])
		acc -= drop[k]
	}
	if !in {
		for k, x := range h {
			h[k] = tableExp(x)
		}
		return
	}
	for k, x := range h {
		h[k] = tableExpIn(x)
	}
}

// derive computes what slide needs from the kernel: the taps dot
// reads, their sum, and the taps per depth. ht is scratch of at least
// z+extend+1 values.
func (m *sr) derive(ht []float64) {
	n, e, z := m.f.n, m.extend, m.z
	half := n / 2
	kern := m.kern[:half+1]
	// c[i] = h(p−i): the kernel's taps read outward from the newest
	// point, mirrored past n/2 (h is even and n-periodic). Of the pairs
	// (see dot) only the first of each is read, at ages e+2 on.
	var sp float64
	cp := m.cp
	for j, k := range kern[e+2 : e+2+len(cp)] {
		cp[j] = float64(k)
		sp += cp[j]
	}
	m.c0, m.cmid = float64(kern[e+1]), float64(kern[half])
	var hx float64 // the taps on the extrapolated points, at distances 1..extend
	for _, k := range kern[1 : e+1] {
		hx += float64(k)
	}
	// The newest e+2 points, ages e+1 down to 0, with the extrapolation
	// folded in.
	st := m.c0 + m.cmid
	for i, g := range m.ge {
		m.ct[i] = float64(kern[e+1-i]) + hx*g
		st += m.ct[i]
	}
	m.ct[e+1] = float64(kern[0])
	m.csum = 2*sp + st + m.ct[e+1]
	m.dc = m.h0 - m.csum
	// ht[d] = h(d) for the depths the taps read, unfolded once.
	ht = ht[:z+e+1]
	for d, k := range kern[:min(half+1, len(ht))] {
		ht[d] = float64(k)
	}
	for d := half + 1; d < len(ht); d++ {
		ht[d] = float64(kern[n-d])
	}
	// Σ h(k+i) for 0 < i < extend, slid along k from z down to 1.
	var mid float64
	for _, h := range ht[z+1 : z+e] {
		mid += h
	}
	tp := m.taps[:6*z]
	r0, r1, r2 := tp[:z], tp[2*z:3*z], tp[4*z:5*z]
	for j := range r0 {
		k := z - j
		tk := ht[k]
		r0[j], r1[j], r2[j] = float32(tk), float32(mid), float32(ht[k+e])
		if e > 1 {
			mid += tk - ht[k+e-1]
		}
	}
	// The second copy of each row (see taps).
	copy(tp[z:2*z], r0)
	copy(tp[3*z:4*z], r1)
	copy(tp[5*z:], r2)
}

func (m *sr) Ready() bool { return m.hasK }

// Shift moves the level: the saliencies move by the kernel's DC gain.
func (m *sr) Shift(delta float64) {
	nr := len(m.buf) / 2
	m.sum = 0
	for i := range m.buf[:m.n] {
		m.buf[i] += delta
		m.buf[i+nr] = m.buf[i]
		m.sum += m.buf[i]
	}
	if m.hasK {
		for i := range m.y {
			m.y[i] = float32(float64(m.y[i]) + delta*m.h0)
		}
	}
}

func (m *sr) Reset() {
	clear(m.buf)
	clear(m.kern)
	clear(m.y)
	clear(m.cp)
	clear(m.ct)
	clear(m.taps)
	m.head, m.n, m.sum = 0, 0, 0
	m.age, m.hasK, m.h0, m.csum, m.yHead, m.next = 0, false, 0, 0, 0, 0
	m.c0, m.cmid, m.dc = 0, 0, 0
}

// srStateTag follows sr's values in its state: a state of the earlier
// layout (values only) is refused rather than misread.
const srStateTag = 0x5352_0002

// AppendBinary writes the rings as they lie (where they start decides
// how the sums over them split, hence their rounding), the running sum,
// and once the window has been full the kernel and the saliencies.
func (m *sr) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u32(uint32(m.n))
	e.u32(uint32(m.head))
	for _, v := range m.buf[:m.n] {
		e.f64(v)
	}
	e.u32(srStateTag)
	e.f64(m.sum)
	e.u32(uint32(m.age))
	e.boolean(m.hasK)
	if m.hasK {
		e.f64(m.h0)
		for _, k := range m.kern {
			e.u32(math.Float32bits(k))
		}
		e.u32(uint32(m.yHead))
		for _, y := range m.y {
			e.u32(math.Float32bits(y))
		}
	}
	return e.b, nil
}

// UnmarshalBinary restores what AppendBinary wrote; a state of other
// parameters or a damaged one is refused and leaves m unchanged.
func (m *sr) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	nr := len(m.buf) / 2
	n := int(d.u32())
	head := int(d.u32())
	if d.err == nil && (n > nr || head >= nr || (n < nr && head != 0)) {
		return fmt.Errorf("%w: sr window of %d values, state has %d from %d", ErrBadState, nr, n, head)
	}
	buf := make([]float64, 2*nr)
	for i := range n {
		buf[i] = d.f64()
		buf[i+nr] = buf[i]
	}
	if tag := d.u32(); d.err == nil && tag != srStateTag {
		return fmt.Errorf("%w: sr state layout %#x", ErrBadState, tag)
	}
	sum := d.f64()
	age := d.u32()
	hasK := d.boolean()
	var h0 float64
	kern := make([]float32, len(m.kern))
	y := make([]float32, m.z)
	var yHead uint32
	if hasK {
		h0 = d.f64()
		for i := range kern {
			kern[i] = math.Float32frombits(d.u32())
		}
		yHead = d.u32()
		for i := range y {
			y[i] = math.Float32frombits(d.u32())
		}
	}
	if d.err == nil && ((hasK && n < nr) || age > uint32(m.refresh) || yHead >= uint32(m.z)) {
		return fmt.Errorf("%w: sr state out of range", ErrBadState)
	}
	if err := d.finish(); err != nil {
		return err
	}
	m.buf, m.n, m.head, m.sum = buf, n, head, sum
	m.age, m.hasK, m.h0, m.kern = int(age), hasK, h0, kern
	m.y, m.yHead = y, int(yHead)
	if hasK {
		sc := getSRScratch(m.f.n)
		m.derive(sc.x)
		putSRScratch(sc)
		m.next = m.extrapolate()
	} else {
		clear(m.cp)
		clear(m.ct)
		clear(m.taps)
		m.csum, m.c0, m.cmid, m.dc = 0, 0, 0, 0
	}
	return nil
}
