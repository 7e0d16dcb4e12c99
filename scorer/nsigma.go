package scorer

import "math"

func init() {
	Register("nsigma", ModelDoc{
		Description: "gala-anteater's n-sigma rule over a sliding window, for parity: the deviation is " +
			"(x − mean)/std of the previous `window` samples, and by default the threshold is fixed at `n` " +
			"(set threshold.mode: auto for SPOT instead).",
		Warmup: "`warmup` samples (default 16).",
		State:  "8·window bytes plus about 100 (≈ 630 bytes at the default window of 64).",
		Params: []ParamDoc{
			{Name: "window", Default: "64", Help: "samples the mean and std are computed over (2 to 4096)"},
			{Name: "n", Default: "3", Help: "number of standard deviations that scores 1 in fixed mode"},
			{Name: "warmup", Default: "16", Help: "samples before the model scores (at most window)"},
		},
	}, newNSigma)
}

// nsigma keeps the window's sum and sum of squares; it recomputes them
// exactly once per window length so rounding does not accumulate.
type nsigma struct {
	n      float64
	warmup int

	vals     []float64
	head, k  int
	sum, sq  float64
	sinceFix int
}

func newNSigma(p Params) (Core, error) {
	size, err := p.Int("window", 2, 4096)
	if err != nil {
		return nil, err
	}
	n, err := p.Float("n", 0.1, 1e3)
	if err != nil {
		return nil, err
	}
	warm, err := p.Int("warmup", 2, size)
	if err != nil {
		return nil, err
	}
	return &nsigma{n: n, warmup: warm, vals: make([]float64, size)}, nil
}

func (m *nsigma) calibration() calibrationHint {
	return calibrationHint{fixed: m.n, floor: zFloor, raw: true}
}

func (m *nsigma) Update(_ int64, v float64) Estimate {
	est := Estimate{Expected: v, Scale: nan}
	if m.k > 0 {
		k := float64(m.k)
		mean := m.sum / k
		sd := max(math.Sqrt(max(m.sq/k-mean*mean, 0)), scaleFloor(mean))
		est = Estimate{Dev: ratio(v, mean, sd), Expected: mean, Scale: sd}
	}
	if m.k == len(m.vals) {
		old := m.vals[m.head]
		m.sum -= old
		m.sq -= old * old
	} else {
		m.k++
	}
	m.vals[m.head] = v
	m.head = (m.head + 1) % len(m.vals)
	m.sum += v
	m.sq += v * v
	if m.sinceFix++; m.sinceFix >= len(m.vals) {
		m.refresh()
	}
	return est
}

func (m *nsigma) refresh() {
	m.sum, m.sq, m.sinceFix = 0, 0, 0
	for _, x := range m.vals[:m.k] {
		m.sum += x
		m.sq += x * x
	}
}

func (m *nsigma) Ready() bool { return m.k > m.warmup }

func (m *nsigma) Shift(delta float64) {
	for i := range m.vals[:m.k] {
		m.vals[i] += delta
	}
	m.refresh()
}

func (m *nsigma) Reset() {
	clear(m.vals)
	m.head, m.k, m.sum, m.sq, m.sinceFix = 0, 0, 0, 0, 0
}

func (m *nsigma) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u32(uint32(m.head))
	e.u32(uint32(m.k))
	e.u32(uint32(m.sinceFix))
	e.f64(m.sum)
	e.f64(m.sq)
	e.f64s(m.vals)
	return e.b, nil
}

func (m *nsigma) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	head, k, since := int(d.u32()), int(d.u32()), int(d.u32())
	sum, sq := d.f64(), d.f64()
	vals := make([]float64, len(m.vals))
	d.f64sInto(vals, "nsigma window")
	if err := d.finish(); err != nil {
		return err
	}
	if head >= len(vals) || k > len(vals) || since >= len(vals) {
		return ErrBadState
	}
	m.head, m.k, m.sinceFix, m.sum, m.sq, m.vals = head, k, since, sum, sq, vals
	return nil
}
