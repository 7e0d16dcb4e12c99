package scorer

import "math"

func init() {
	Register("ewma", ModelDoc{
		Description: "Exponentially weighted mean and variance; the deviation is the z-score of the sample " +
			"against them. By default every sample is learnt as is, so after a burst the variance stays " +
			"raised for a while and the burst alerts once rather than for every point (what NAB rewards); " +
			"set clip to winsorise updates so one spike does not mask the next.",
		Warmup: "`warmup` samples (default 16), then threshold.init samples (default 128) for SPOT.",
		State:  "about 400 bytes with SPOT.",
		Params: []ParamDoc{
			{Name: "alpha", Default: "0.03", Help: "smoothing factor in (0, 1]: weight of the newest sample (≈ 2/alpha samples of memory)"},
			{Name: "warmup", Default: "16", Help: "samples before the model scores"},
			{Name: "clip", Default: "0", Help: "winsorise updates at this many standard deviations (0: never)"},
		},
	}, newEWMA)
}

// ewma keeps an exponentially weighted mean and variance. While fewer than
// 1/alpha samples have been seen it uses the plain running mean and
// variance, so the start is not biased towards the first value.
type ewma struct {
	alpha  float64
	warmup int
	clip   float64

	n        int
	mean, vr float64
}

// calibration: see zFloor.
func (m *ewma) calibration() calibrationHint { return calibrationHint{floor: zFloor} }

func newEWMA(p Params) (Core, error) {
	alpha, err := p.Float("alpha", 1e-6, 1)
	if err != nil {
		return nil, err
	}
	warm, err := p.Int("warmup", 2, 1<<20)
	if err != nil {
		return nil, err
	}
	clip, err := p.Float("clip", 0, 1e6)
	if err != nil {
		return nil, err
	}
	return &ewma{alpha: alpha, warmup: warm, clip: clip}, nil
}

func (m *ewma) sd() float64 { return max(math.Sqrt(m.vr), scaleFloor(m.mean)) }

func (m *ewma) Update(_ int64, v float64) Estimate {
	if m.n == 0 {
		m.n, m.mean, m.vr = 1, v, 0
		return Estimate{Expected: v, Scale: nan}
	}
	sd := m.sd()
	est := Estimate{Dev: ratio(v, m.mean, sd), Expected: m.mean, Scale: sd}
	x := v
	if m.clip > 0 && m.n >= m.warmup {
		x = min(max(x, m.mean-m.clip*sd), m.mean+m.clip*sd)
	}
	m.n++
	a := max(m.alpha, 1/float64(m.n))
	diff := x - m.mean
	incr := a * diff
	m.mean += incr
	m.vr = (1 - a) * (m.vr + diff*incr)
	return est
}

func (m *ewma) Ready() bool         { return m.n > m.warmup }
func (m *ewma) Shift(delta float64) { m.mean += delta }
func (m *ewma) Reset()              { m.n, m.mean, m.vr = 0, 0, 0 }

func (m *ewma) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u64(uint64(m.n))
	e.f64(m.mean)
	e.f64(m.vr)
	return e.b, nil
}

func (m *ewma) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	n, mean, vr := d.u64(), d.f64(), d.f64()
	if err := d.finish(); err != nil {
		return err
	}
	m.n, m.mean, m.vr = int(n), mean, vr
	return nil
}
