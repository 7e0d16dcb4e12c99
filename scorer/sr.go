package scorer

import (
	"math"
	"math/cmplx"
)

func init() {
	Register("sr", ModelDoc{
		Description: "Spectral residual (Ren et al., \"Time-Series Anomaly Detection Service at Microsoft\", " +
			"KDD 2019) over a sliding window: the saliency map is the inverse FFT of the spectrum with its " +
			"log amplitude replaced by the residual from its local average; the deviation is the last " +
			"point's saliency relative to the mean saliency of the `z` points before it, signed by the " +
			"direction of the value. Strong on spikes and sudden changes, insensitive to slow drift. The FFT " +
			"runs on a preallocated buffer.",
		Warmup: "`window` − `extend` samples (default 59), then threshold.init samples for SPOT.",
		State:  "8·window bytes plus about 350 (≈ 860 bytes at window 64); 1.5 KiB of FFT scratch in memory.",
		Params: []ParamDoc{
			{Name: "window", Default: "64", Help: "FFT size: a power of two from 16 to 1024; it holds window−extend real points"},
			{Name: "extend", Default: "5", Help: "extrapolated points appended after the newest one, so it is not at the window's edge"},
			{Name: "q", Default: "3", Help: "width of the moving average over the log amplitude spectrum"},
			{Name: "z", Default: "21", Help: "points before the newest whose mean saliency it is compared with"},
		},
	}, newSR)
}

type sr struct {
	extend, q, z int
	f            fft
	w            window // the last window−extend values

	buf  []complex128 // scratch
	logA []float64    // scratch
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
	return &sr{
		extend: extend, q: q, z: z, f: newFFT(n), w: newWindow(n - extend),
		buf: make([]complex128, n), logA: make([]float64, n),
	}, nil
}

func (m *sr) Update(_ int64, v float64) Estimate {
	nr := len(m.w.vals)
	if !m.w.full() {
		m.w.push(v)
		return Estimate{Expected: v, Scale: nan}
	}
	// The window's oldest value drops out: it holds the nr−1 latest
	// previous values plus v.
	var mean float64
	for i := 1; i < nr; i++ {
		x := m.w.at(i)
		m.buf[i-1] = complex(x, 0)
		mean += x
	}
	mean /= float64(nr - 1)
	m.buf[nr-1] = complex(v, 0)
	// Extrapolate from the points before v (paper, eq. 6, as Microsoft's
	// reference code does it): the current point is not at the window's
	// edge, and a spike in it does not leak into the extension.
	base := nr - 2 - m.extend
	last := real(m.buf[nr-2])
	var g float64
	for i := range m.extend {
		g += (last - real(m.buf[base+i])) / float64(m.extend-i)
	}
	next := real(m.buf[base+1]) + g
	for i := nr; i < m.f.n; i++ {
		m.buf[i] = complex(next, 0)
	}
	m.w.push(v)

	m.f.transform(m.buf, false)
	for i, c := range m.buf {
		m.logA[i] = math.Log(cmplx.Abs(c) + 1e-12)
	}
	n := m.f.n
	// Residual of the log amplitude from its centred moving average.
	half := m.q / 2
	var acc float64
	for i := -half; i <= half; i++ {
		acc += m.logA[(i+n)%n]
	}
	for i := range n {
		resid := m.logA[i] - acc/float64(2*half+1)
		a := cmplx.Abs(m.buf[i])
		if a > 0 {
			m.buf[i] *= complex(math.Exp(resid)/a, 0)
		}
		acc += m.logA[(i+half+1)%n] - m.logA[(i-half+n)%n]
	}
	m.f.transform(m.buf, true)
	sal := func(i int) float64 { return cmplx.Abs(m.buf[i]) / float64(n) }
	var local float64
	for i := nr - 1 - m.z; i < nr-1; i++ {
		local += sal(i)
	}
	local /= float64(m.z)
	score := 0.0
	if local > 0 {
		score = (sal(nr-1) - local) / local
	}
	score = max(score, 0)
	if v < mean {
		score = -score
	}
	return Estimate{Dev: score, Expected: mean, Scale: nan}
}

func (m *sr) Ready() bool         { return m.w.full() }
func (m *sr) Shift(delta float64) { m.w.shift(delta) }
func (m *sr) Reset()              { m.w.reset() }

func (m *sr) AppendBinary(b []byte) ([]byte, error) { return m.w.appendState(b) }
func (m *sr) UnmarshalBinary(b []byte) error        { return m.w.restoreState(b) }
