package scorer

import (
	"math"
	"time"
)

func init() {
	Register("seasonal", ModelDoc{
		Description: "Additive Holt-Winters without trend on a seasonal profile of `slots` buckets per " +
			"period (the bucket comes from the timestamp, so gaps and irregular scrapes keep the phase). " +
			"Level and profile updates are winsorised at ±clip spreads, so anomalies barely teach it. " +
			"With period=auto it keeps a daily and a weekly profile and a level-only fit and scores with " +
			"the one whose recent error is lowest.",
		Warmup: "one full period of time and `warmup` samples; with period=auto only `warmup` samples (the " +
			"level-only fit scores until a profile has seen its period). Then threshold.init samples for SPOT.",
		State: "8·slots bytes per profile plus about 450 (≈ 2.7 KiB at period=1d, slots=288; " +
			"≈ 5 KiB for auto).",
		Params: []ParamDoc{
			{Name: "period", Default: "auto", Help: "season length as a duration (1h to 5w), or auto (pick 1d, 1w or none from the data)"},
			{Name: "slots", Default: "288", Help: "profile buckets per period (4 to 10080)"},
			{Name: "alpha", Default: "0.002", Help: "level smoothing factor per sample: keep it slow against the period, or the level chases the cycle"},
			{Name: "gamma", Default: "0.2", Help: "profile smoothing factor (per visit of a bucket)"},
			{Name: "clip", Default: "4", Help: "winsorise updates at this many spreads"},
			{Name: "warmup", Default: "16", Help: "samples before the level-only fit scores"},
		},
	}, newSeasonal)
}

// profile is one seasonal candidate: offsets from the level per bucket.
type profile struct {
	periodMs int64
	widthMs  int64
	start    int64     // first timestamp seen; the profile scores one period later
	off      []float64 // NaN: bucket never visited
	err      float64   // EW mean absolute error since ready, for auto
	scored   int       // errors learnt since ready
	centred  bool      // offsets re-centred on 0 after the first period
}

func (p *profile) bucket(ts int64) int {
	r := ts % p.periodMs
	if r < 0 {
		r += p.periodMs
	}
	return int(r / p.widthMs)
}

type seasonal struct {
	alpha, gamma, clip float64
	warmup             int
	auto               bool

	n       int
	first   int64
	last    int64
	level   float64
	spread  float64 // EW mean absolute residual of the chosen candidate
	flatErr float64 // EW mean absolute error of the level-only fit
	prof    []profile
}

// calibration: see zFloor.
func (m *seasonal) calibration() calibrationHint { return calibrationHint{floor: zFloor} }

func newSeasonal(p Params) (Core, error) {
	slots, err := p.Int("slots", 4, 10080)
	if err != nil {
		return nil, err
	}
	var periods []time.Duration
	auto := p.String("period") == "auto"
	if auto {
		periods = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}
	} else {
		d, err := p.Duration("period", time.Hour, 35*24*time.Hour)
		if err != nil {
			return nil, err
		}
		periods = []time.Duration{d}
	}
	m := &seasonal{auto: auto}
	if m.alpha, err = p.Float("alpha", 1e-6, 1); err != nil {
		return nil, err
	}
	if m.gamma, err = p.Float("gamma", 1e-6, 1); err != nil {
		return nil, err
	}
	if m.clip, err = p.Float("clip", 0, 1e6); err != nil {
		return nil, err
	}
	if m.warmup, err = p.Int("warmup", 2, 1<<20); err != nil {
		return nil, err
	}
	for _, d := range periods {
		ms := d.Milliseconds()
		width := ms / int64(slots)
		if width < 1 || ms%int64(slots) != 0 {
			return nil, p.errorf("slots", p.String("slots"), "must divide the period %s into whole milliseconds", d)
		}
		m.prof = append(m.prof, profile{periodMs: ms, widthMs: width, off: make([]float64, slots)})
	}
	m.Reset()
	return m, nil
}

func (m *seasonal) Reset() {
	m.n, m.first, m.last, m.level, m.spread, m.flatErr = 0, 0, 0, 0, 0, 0
	for i := range m.prof {
		p := &m.prof[i]
		p.err, p.scored, p.centred = 0, 0, false
		for j := range p.off {
			p.off[j] = nan
		}
	}
}

// profReady tells whether a profile has seen a full period.
func (m *seasonal) profReady(p *profile, ts int64) bool { return ts-m.first >= p.periodMs }

func (m *seasonal) Update(ts int64, v float64) Estimate {
	if m.n == 0 {
		m.first, m.level = ts, v
	}
	m.n++
	m.last = ts
	// Choose the candidate: the ready profile with the lowest error, or
	// the level alone (for auto, when it does better than all).
	best := -1
	bestErr := math.Inf(1)
	if m.auto {
		bestErr = m.flatErr
	}
	for i := range m.prof {
		p := &m.prof[i]
		// For auto a profile competes once it has been tried on a
		// period's worth of buckets.
		eligible := m.profReady(p, ts) && (!m.auto || p.scored >= len(p.off))
		if eligible && (best < 0 && !m.auto || p.err < bestErr) {
			best, bestErr = i, p.err
		}
	}
	expected := m.level
	if best >= 0 {
		if o := m.prof[best].off[m.prof[best].bucket(ts)]; !math.IsNaN(o) {
			expected += o
		}
	}
	sd := max(1.2533*m.spread, scaleFloor(expected))
	est := Estimate{Dev: ratio(v, expected, sd), Expected: expected, Scale: sd}
	if m.n == 1 {
		est = Estimate{Expected: v, Scale: nan}
	}

	// Learn, with the residual winsorised once the spread is known.
	lim := math.Inf(1)
	if m.clip > 0 && m.n > m.warmup {
		lim = m.clip * sd
	}
	clip := func(r float64) float64 { return min(max(r, -lim), lim) }
	a := max(m.alpha, 1/float64(m.n))
	m.flatErr += a * (math.Abs(clip(v-m.level)) - m.flatErr)
	m.spread += a * (math.Abs(clip(v-expected)) - m.spread)
	// The level follows the deseasonalised value of the chosen candidate.
	m.level += a * clip(v-expected)
	for i := range m.prof {
		p := &m.prof[i]
		b := p.bucket(ts)
		if math.IsNaN(p.off[b]) {
			p.off[b] = v - m.level
			continue
		}
		if m.profReady(p, ts) {
			if !p.centred {
				m.centre(p)
			}
			p.scored++
			pa := max(m.alpha, 1/float64(p.scored))
			p.err += pa * (math.Abs(clip(v-m.level-p.off[b])) - p.err)
		}
		p.off[b] += m.gamma * clip(v-m.level-p.off[b])
	}
	return est
}

// centre moves the mean of a profile's offsets into the level once its
// first period is complete: offsets of the first period were taken
// against a level that was still settling.
func (m *seasonal) centre(p *profile) {
	p.centred = true
	var sum float64
	var k int
	for _, o := range p.off {
		if !math.IsNaN(o) {
			sum += o
			k++
		}
	}
	if k == 0 {
		return
	}
	mean := sum / float64(k)
	for i, o := range p.off {
		if !math.IsNaN(o) {
			p.off[i] = o - mean
		}
	}
	if len(m.prof) == 1 {
		m.level += mean
	}
}

// Ready: auto scores with the level alone until a profile has seen its
// period; a fixed period waits for one full period.
func (m *seasonal) Ready() bool {
	if m.n <= m.warmup {
		return false
	}
	return m.auto || m.last-m.first >= m.prof[0].periodMs
}

func (m *seasonal) Shift(delta float64) { m.level += delta }

func (m *seasonal) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u64(uint64(m.n))
	e.i64(m.first)
	e.i64(m.last)
	e.f64(m.level)
	e.f64(m.spread)
	e.f64(m.flatErr)
	for i := range m.prof {
		e.f64(m.prof[i].err)
		e.u64(uint64(m.prof[i].scored))
		e.boolean(m.prof[i].centred)
		e.f64s(m.prof[i].off)
	}
	return e.b, nil
}

func (m *seasonal) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	n, first, last := d.u64(), d.i64(), d.i64()
	level, spread, flatErr := d.f64(), d.f64(), d.f64()
	errs := make([]float64, len(m.prof))
	scored := make([]int, len(m.prof))
	centred := make([]bool, len(m.prof))
	offs := make([][]float64, len(m.prof))
	for i := range m.prof {
		errs[i] = d.f64()
		scored[i] = int(d.u64())
		centred[i] = d.boolean()
		offs[i] = make([]float64, len(m.prof[i].off))
		d.f64sInto(offs[i], "seasonal profile")
	}
	if err := d.finish(); err != nil {
		return err
	}
	m.n, m.first, m.last, m.level, m.spread, m.flatErr = int(n), first, last, level, spread, flatErr
	for i := range m.prof {
		m.prof[i].err, m.prof[i].scored, m.prof[i].centred = errs[i], scored[i], centred[i]
		m.prof[i].off = offs[i]
	}
	return nil
}
