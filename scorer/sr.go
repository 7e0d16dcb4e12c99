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
				"(1 to 4096; 1 is the paper's computation at every point, at the cost of three FFTs each)"},
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
// A point thus costs O(window + z) rather than three FFTs and window
// logarithms; every refresh recomputes the whole map, so rounding does
// not accumulate. A kernel a few dozen points old whitens the same
// spectrum, and is blind to the newest points, anomalous or not.
type sr struct {
	extend, q, z, refresh int
	f                     *realFFT

	vals []float64 // ring of the last window−extend values
	head int       // oldest once full
	n    int
	sum  float64 // of vals, recomputed at every refresh

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

	// Derived from kern (not state).
	c    []float64 // the kernel folded onto the window's positions, oldest first
	csum float64   // Σ c
	// By position j in y from the oldest, the depth k = z − j: h(k) on
	// the newest point's change, Σ h(k+i) for 0 < i < extend on the
	// extension's inner points, h(k+extend) on its last one; side by
	// side, so slide reads one entry per point.
	taps [][srTaps]float32
	wext []float64 // extrapolation weights 1/(extend−i)
}

// srTaps is the size of a taps entry: three used, padded to four so an
// entry is 16 bytes.
const srTaps = 4

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
		vals: make([]float64, nr), kern: make([]float32, n/2+1), y: make([]float32, z),
		c: make([]float64, nr), wext: make([]float64, extend), taps: make([][srTaps]float32, z),
	}
	for i := range m.wext {
		m.wext[i] = 1 / float64(extend-i)
	}
	return m, nil
}

func (m *sr) Update(_ int64, v float64) Estimate {
	nr := len(m.vals)
	if m.n < nr {
		m.vals[m.n] = v
		m.n++
		m.sum += v
		return Estimate{Expected: v, Scale: nan}
	}
	// The window's oldest value drops out: the mean is the paper's, of
	// the nr−1 latest previous values.
	old := m.vals[m.head]
	mean := (m.sum - old) / float64(nr-1)
	var local, s float64
	if !m.hasK || m.age >= m.refresh {
		m.push(v, old)
		local, s = m.refreshKernel()
		m.next = m.extrapolate()
	} else {
		prev := m.next
		m.push(v, old)
		next := m.extrapolate()
		m.next = next
		local, s = m.slide(v-prev, next-prev, next-old, mean)
	}
	m.age++
	score := 0.0
	switch {
	case local > 0:
		score = min(max((s-local)/local, 0), maxDev)
	case s > 0:
		score = maxDev // the first move after a flat window
	}
	if v < mean {
		score = -score
	}
	return Estimate{Dev: score, Expected: mean, Scale: nan}
}

func (m *sr) push(v, old float64) {
	m.vals[m.head] = v
	if m.head++; m.head == len(m.vals) {
		m.head = 0
	}
	m.sum += v - old
}

// slide moves the z saliencies on by one point and computes the newest
// one. d0, dm and dl are the layout's changes (see sr): at the newest
// point (v − the previous extrapolation), on the extension's inner
// points (the change of the extrapolation) and on its last point, where
// the oldest value was. It returns the mean |saliency| of the z points
// before the newest, and the newest's.
func (m *sr) slide(d0, dm, dl, mean float64) (local, s float64) {
	// The entry at yHead+j (j = 0 oldest) is the point at depth z − j
	// now; the coefficients are laid out by j.
	h := m.yHead
	f0, fm, fl := float32(d0), float32(dm), float32(dl)
	a0 := slideRun(m.y[h:], m.taps, f0, fm, fl)
	a1 := slideRun(m.y[:h], m.taps[m.z-h:], f0, fm, fl)
	// The newest point: Σ c·x, with the kernel's DC gain restored to its
	// exact value (float32 taps would otherwise leak a large level in).
	b := m.vals[:m.head]
	a := m.vals[len(b):]
	yn := (dot4(m.c[:len(a)], a) + dot4(m.c[len(a):], b)) + mean*(m.h0-m.csum)
	m.y[h] = float32(yn) // replaces the oldest, now beyond depth z
	if h++; h == m.z {
		h = 0
	}
	m.yHead = h
	return float64(a0+a1) / float64(m.z), math.Abs(yn)
}

// slideRun updates a run of saliencies and returns the sum of their
// magnitudes, in float32 like the values it updates, in two partial
// sums (even and odd positions).
func slideRun(y []float32, taps [][srTaps]float32, d0, dm, dl float32) float32 {
	taps = taps[:len(y)]
	var a, b float32
	i := 0
	for ; i+2 <= len(y); i += 2 {
		t, u := &taps[i], &taps[i+1]
		e0 := y[i] + t[0]*d0 + t[1]*dm + t[2]*dl
		e1 := y[i+1] + u[0]*d0 + u[1]*dm + u[2]*dl
		y[i], y[i+1] = e0, e1
		a += abs32(e0)
		b += abs32(e1)
	}
	if i < len(y) {
		t := &taps[i]
		e := y[i] + t[0]*d0 + t[1]*dm + t[2]*dl
		y[i] = e
		a += abs32(e)
	}
	return a + b
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// tap is h(d) for 0 ≤ d < n: h is even and n-periodic.
func (m *sr) tap(d, n int) float64 { return float64(m.kern[min(d, n-d)]) }

// dot4 is Σ c[i]·x[i] in four partial sums, so the additions overlap
// (the remainder goes to the first); the window's two runs, oldest
// first, are its two calls.
func dot4(c, x []float64) float64 {
	x = x[:len(c)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+8 <= len(c); i += 8 {
		c8, x8 := c[i:i+8:i+8], x[i:i+8:i+8]
		s0 += c8[0] * x8[0]
		s1 += c8[1] * x8[1]
		s2 += c8[2] * x8[2]
		s3 += c8[3] * x8[3]
		s0 += c8[4] * x8[4]
		s1 += c8[5] * x8[5]
		s2 += c8[6] * x8[6]
		s3 += c8[7] * x8[7]
	}
	if i+4 <= len(c) {
		c4, x4 := c[i:i+4:i+4], x[i:i+4:i+4]
		s0 += c4[0] * x4[0]
		s1 += c4[1] * x4[1]
		s2 += c4[2] * x4[2]
		s3 += c4[3] * x4[3]
		i += 4
	}
	for ; i < len(c); i++ {
		s0 += c[i] * x[i]
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
func (m *sr) extrapolate() float64 {
	v := m.vals
	nr := len(v)
	// The ring positions of the (nr−2)-th and (nr−2−extend)-th oldest
	// values: the window's oldest is at head.
	last := m.head + nr - 2
	if last >= nr {
		last -= nr
	}
	j := last - m.extend
	if j < 0 {
		j += nr
	}
	xl := v[last]
	var g float64
	for _, w := range m.wext {
		g += (xl - v[j]) * w
		if j++; j == nr {
			j = 0
		}
	}
	// j is now base+extend's position; base+1 is extend−1 before it.
	k := j - m.extend + 1
	if k < 0 {
		k += nr
	}
	return v[k] + g
}

// refreshKernel recomputes the whitening kernel and the whole saliency
// map from the window as it is now, with the newest point last and the
// extrapolated points after it, as the paper does at every point. It
// returns what slide does.
func (m *sr) refreshKernel() (local, s float64) {
	n := m.f.n
	nr := len(m.vals)
	sc := getSRScratch(n)
	defer putSRScratch(sc)
	x := sc.x
	k := copy(x, m.vals[m.head:])
	copy(x[k:], m.vals[:m.head])
	m.sum = sum4(x[:nr])
	next := m.extrapolate()
	for i := nr; i < n; i++ {
		x[i] = next
	}
	spec := sc.spec
	m.f.transform(x, sc.z, spec)
	// The log amplitude of a real signal's spectrum is even: half of it
	// is computed, and the few bins the moving average reads beyond
	// either end of that half mirrored in.
	half, mask := n/2, n-1
	logA := sc.logA
	halfLogPowers(spec[:half+1], logA[:half+1])
	w := m.q / 2
	for i := 1; i <= w; i++ {
		logA[(half+i)&mask] = logA[half-i]
		logA[(n-i)&mask] = logA[i]
	}
	// H = exp(−(centred moving average of the log amplitude)): the
	// residual's exp(log|X| − avg)·X/|X| is X·H. H is real and even, so
	// its inverse DFT h is too.
	var acc float64
	for i := -w; i <= w; i++ {
		acc += logA[i&mask]
	}
	width := float64(2*w + 1)
	hs := sc.h[:half+1]
	for i := range hs {
		hs[i] = complex(tableExp(-acc/width), 0)
		acc += logA[(i+w+1)&mask] - logA[(i-w)&mask]
	}
	m.h0 = real(hs[0])
	// Only h[0..n/2] is kept, and of the map only the z+1 newest points.
	m.f.inverseRange(hs, sc.z, x, 0, len(m.kern))
	for d, v := range x[:len(m.kern)] {
		m.kern[d] = float32(v)
	}
	// The map: y = IFFT(X·H).
	for i := range spec {
		spec[i] *= hs[i]
	}
	p := nr - 1
	m.f.inverseRange(spec, sc.z, x, p-m.z, p+1)
	var a float64
	for k := 1; k <= m.z; k++ {
		a += math.Abs(x[p-k])
	}
	for j, v := range x[p-m.z+1 : p+1] {
		m.y[j] = float32(v)
	}
	m.yHead = 0
	m.derive()
	m.age, m.hasK = 0, true
	return a / float64(m.z), math.Abs(x[p])
}

// derive computes what slide needs from the kernel: c, its sum, and
// the taps per depth.
func (m *sr) derive() {
	n := m.f.n
	nr := len(m.vals)
	p := nr - 1
	kern := m.kern[:n/2+1]
	// c[i] = h(p−i): the kernel's taps read outward from the newest
	// point, mirrored past n/2 (h is even and n-periodic).
	c := m.c[:nr]
	for i := range c {
		d := p - i
		if d > n/2 {
			d = n - d
		}
		c[i] = float64(kern[d])
	}
	var hx float64 // the taps on the extrapolated points, at distances 1..extend
	for d := 1; d <= m.extend; d++ {
		hx += m.tap(d, n)
	}
	// next = x(base+1) + Σ_i (x(nr−2) − x(base+i))·wext[i]
	base := nr - 2 - m.extend
	c[base+1] += hx
	for i, w := range m.wext {
		c[nr-2] += hx * w
		c[base+i] -= hx * w
	}
	m.csum = sum4(c)
	// Σ h(k+i) for 0 < i < extend, slid along k from z down to 1.
	var mid float64
	for i := 1; i < m.extend; i++ {
		mid += m.tap(m.z+i, n)
	}
	for j := range m.taps {
		k := m.z - j
		tk := m.tap(k, n)
		m.taps[j] = [srTaps]float32{float32(tk), float32(mid), float32(m.tap(k+m.extend, n))}
		if m.extend > 1 {
			mid += tk - m.tap(k+m.extend-1, n)
		}
	}
}

func (m *sr) Ready() bool { return m.hasK }

// Shift moves the level: the saliencies move by the kernel's DC gain.
func (m *sr) Shift(delta float64) {
	m.sum = 0
	for i := range m.vals[:m.n] {
		m.vals[i] += delta
		m.sum += m.vals[i]
	}
	if m.hasK {
		for i := range m.y {
			m.y[i] = float32(float64(m.y[i]) + delta*m.h0)
		}
	}
}

func (m *sr) Reset() {
	clear(m.vals)
	clear(m.kern)
	clear(m.y)
	clear(m.c)
	clear(m.taps)
	m.head, m.n, m.sum = 0, 0, 0
	m.age, m.hasK, m.h0, m.csum, m.yHead, m.next = 0, false, 0, 0, 0, 0
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
	for _, v := range m.vals[:m.n] {
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
	nr := len(m.vals)
	n := int(d.u32())
	head := int(d.u32())
	if d.err == nil && (n > nr || head >= nr || (n < nr && head != 0)) {
		return fmt.Errorf("%w: sr window of %d values, state has %d from %d", ErrBadState, nr, n, head)
	}
	vals := make([]float64, nr)
	for i := range n {
		vals[i] = d.f64()
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
	m.vals, m.n, m.head, m.sum = vals, n, head, sum
	m.age, m.hasK, m.h0, m.kern = int(age), hasK, h0, kern
	m.y, m.yHead = y, int(yHead)
	if hasK {
		m.derive()
		m.next = m.extrapolate()
	} else {
		clear(m.c)
		clear(m.taps)
		m.csum = 0
	}
	return nil
}
