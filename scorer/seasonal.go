package scorer

import (
	"math"
	"time"
)

func init() {
	Register("seasonal", ModelDoc{
		Description: "Additive Holt-Winters without trend on a seasonal profile of `slots` points per period, " +
			"linearly interpolated between them (the phase comes from the timestamp, so gaps and irregular " +
			"scrapes keep it; interpolation lets a coarse profile follow a smooth cycle at any scrape rate). " +
			"Level and profile updates are winsorised at ±clip spreads, so anomalies barely teach it. " +
			"With period=auto it keeps a daily profile plus a day-of-week correction (7×24 hourly points " +
			"on top of the daily one) and a level-only fit, and scores with the one whose recent error is lowest.",
		Warmup: "one full period of time and `warmup` samples; with period=auto only `warmup` samples (the " +
			"level-only fit scores until the daily profile has seen a day). Then threshold.init samples for " +
			"the calibration.",
		State: "2·slots bytes (int16 fixed point) plus about 150, 340 more for auto's weekly correction; " +
			"with the calibration ≈ 1 KiB saved and 1.4 KiB resident per series at the defaults (period=auto, slots=96).",
		Params: []ParamDoc{
			{Name: "period", Default: "auto", Help: "season length as a duration (1h to 5w), or auto (pick 1d, 1w or none from the data)"},
			{Name: "slots", Default: "96", Help: "profile points per period (4 to 10080); auto's daily profile uses it too"},
			{Name: "alpha", Default: "0.002", Help: "level smoothing factor per sample: keep it slow against the period, or the level chases the cycle"},
			{Name: "gamma", Default: "0.2", Help: "profile smoothing factor per period: how far one period's error moves each profile point"},
			{Name: "clip", Default: "4", Help: "winsorise updates at this many spreads"},
			{Name: "warmup", Default: "16", Help: "samples before the level-only fit scores"},
		},
	}, newSeasonal)
}

// weekBlocks is the resolution of auto's day-of-week correction: 24
// hourly points per day. Weekly patterns (weekends, a weekly batch job)
// are broad; a finer weekly profile would cost 2 bytes a point and, on a
// few weeks of data, see each point too rarely to learn it.
const weekBlocks = 7 * 24

const (
	day  = int64(24 * time.Hour / time.Millisecond)
	week = 7 * day
)

// profile is a periodic function of the timestamp: offsets at `len(q)`
// evenly spaced points of the period, interpolated linearly between them.
// Offsets are stored in fixed point, q[i]·unit, as int16: they are
// learnt with a smoothing factor of about 0.2 from noisy data, so 16 bits
// against the profile's largest offset lose nothing that matters, and a
// 5-minute daily profile fits in 576 bytes.
type profile struct {
	periodMs int64
	q        []int16 // qUnset: point never learnt
	unit     float64 // value of one step of q; 0 until a point is set
	err      float64 // EW mean absolute error since eligible, for auto
	since    int64   // when the error started being tracked
	scored   int     // errors learnt since then
}

// qUnset marks an unlearnt point; qMax bounds the others.
const (
	qUnset = math.MinInt16
	qMax   = math.MaxInt16
)

func (p *profile) get(i int) (float64, bool) {
	if p.q[i] == qUnset {
		return 0, false
	}
	return float64(p.q[i]) * p.unit, true
}

// set stores x at point i, coarsening the unit (halving every point) when
// x does not fit.
func (p *profile) set(i int, x float64) {
	ax := math.Abs(x)
	if p.unit == 0 {
		if ax == 0 {
			p.q[i] = 0
			return
		}
		// Room for offsets four times larger before the first rescale.
		p.unit = ax / (qMax / 4)
	}
	for ax/p.unit > qMax-1 {
		p.unit *= 2
		for j, v := range p.q {
			if v != qUnset {
				p.q[j] = int16(math.Round(float64(v) / 2))
			}
		}
	}
	p.q[i] = int16(math.Round(x / p.unit))
}

// at returns the two points around ts and the weight of the second.
func (p *profile) at(ts int64) (i0, i1 int, f float64) {
	r := ts % p.periodMs
	if r < 0 {
		r += p.periodMs
	}
	n := int64(len(p.q))
	// Point i sits at the start of the i-th of n equal spans, so that
	// samples on the grid (the common case) use one point alone. r·n
	// fits easily: periods are at most 5 weeks, points at most 10080.
	pos := r * n
	i0 = int(pos / p.periodMs)
	f = float64(pos%p.periodMs) / float64(p.periodMs)
	i1 = i0 + 1
	if i1 == len(p.q) {
		i1 = 0
	}
	return i0, i1, f
}

// value interpolates the profile at ts; unlearnt points count as 0.
func (p *profile) value(ts int64) float64 {
	i0, i1, f := p.at(ts)
	return p.interp(i0, i1, f)
}

func (p *profile) interp(i0, i1 int, f float64) float64 {
	a, okA := p.get(i0)
	b, okB := p.get(i1)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return b
	case !okB || f == 0:
		return a
	}
	return a + f*(b-a)
}

// learn moves the two points around ts towards explaining residual r
// (the value minus everything else the fit predicts), each by its
// interpolation weight, with the error winsorised at ±lim. rate is the
// per-sample factor.
func (p *profile) learn(ts int64, r, rate, lim float64) {
	i0, i1, f := p.at(ts)
	e := min(max(r-p.interp(i0, i1, f), -lim), lim)
	for k, w := range [2]float64{1 - f, f} {
		i := i0
		if k == 1 {
			i = i1
		}
		if w == 0 {
			continue
		}
		o, ok := p.get(i)
		if !ok {
			p.set(i, r)
			continue
		}
		p.set(i, o+min(rate*w, 1)*e)
	}
}

// track learns the profile's absolute error e: a plain mean at first,
// then exponential with factor alpha.
func (p *profile) track(e, alpha float64) {
	p.scored++
	p.err += max(alpha, 1/float64(p.scored)) * (e - p.err)
}

// centre moves the mean of the learnt offsets to 0 and returns it.
func (p *profile) centre() float64 {
	var sum float64
	var k int
	for i := range p.q {
		if o, ok := p.get(i); ok {
			sum += o
			k++
		}
	}
	if k == 0 {
		return 0
	}
	mean := sum / float64(k)
	for i := range p.q {
		if o, ok := p.get(i); ok {
			p.set(i, o-mean)
		}
	}
	return mean
}

type seasonal struct {
	alpha, gamma, clip float64
	warmup             int
	auto               bool

	n       int
	first   int64
	last    int64
	stepMs  float64 // smoothed sampling step, for the profiles' rates
	level   float64
	spread  float64 // EW mean absolute residual of the chosen candidate
	flatErr float64 // EW mean absolute error of the level-only fit
	centred bool    // daily offsets re-centred on 0 after the first period
	main    profile // the period's profile (daily for auto)
	week    profile // auto only: day-of-week correction on top of main
}

// calibration: see zFloor.
func (m *seasonal) calibration() calibrationHint { return calibrationHint{floor: zFloor} }

func newSeasonal(p Params) (Core, error) {
	slots, err := p.Int("slots", 4, 10080)
	if err != nil {
		return nil, err
	}
	m := &seasonal{auto: p.String("period") == "auto"}
	period := 24 * time.Hour
	if !m.auto {
		if period, err = p.Duration("period", time.Hour, 35*24*time.Hour); err != nil {
			return nil, err
		}
	}
	if ms := period.Milliseconds(); ms%int64(slots) != 0 {
		return nil, p.errorf("slots", p.String("slots"), "must divide the period %s into whole milliseconds", period)
	}
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
	m.main = profile{periodMs: period.Milliseconds(), q: make([]int16, slots)}
	if m.auto {
		m.week = profile{periodMs: week, q: make([]int16, weekBlocks)}
	}
	m.Reset()
	return m, nil
}

func (m *seasonal) Reset() {
	m.n, m.first, m.last, m.stepMs = 0, 0, 0, 0
	m.level, m.spread, m.flatErr, m.centred = 0, 0, 0, false
	for _, p := range []*profile{&m.main, &m.week} {
		p.err, p.since, p.scored, p.unit = 0, 0, 0, 0
		for j := range p.q {
			p.q[j] = qUnset
		}
	}
}

// Candidates for auto, in the order of the chosen index.
const (
	candFlat = iota
	candDaily
	candWeekly
)

// choose picks the fit to score with at ts. A profile becomes eligible
// once it has seen its period and then been tried for a day (a week of
// weekly correction only once it has seen a week and been tried for two
// days): its error must be measured before it can win.
func (m *seasonal) choose(ts int64) int {
	if !m.auto {
		if ts-m.first >= m.main.periodMs {
			return candDaily
		}
		return candFlat
	}
	best, bestErr := candFlat, m.flatErr
	if m.main.since > 0 && ts-m.main.since >= day && m.main.err < bestErr {
		best, bestErr = candDaily, m.main.err
	}
	if m.week.since > 0 && ts-m.week.since >= 2*day && m.week.err < bestErr {
		best = candWeekly
	}
	return best
}

func (m *seasonal) Update(ts int64, v float64) Estimate {
	if m.n == 0 {
		m.first, m.level = ts, v
	} else {
		step := float64(ts - m.last)
		if m.stepMs == 0 {
			m.stepMs = step
		} else {
			m.stepMs += (min(step, 4*m.stepMs) - m.stepMs) / 16
		}
	}
	m.n++
	m.last = ts
	dayOff := m.main.value(ts)
	weekOff := 0.0
	if m.auto {
		weekOff = m.week.value(ts)
	}
	expected := m.level
	cand := m.choose(ts)
	switch cand {
	case candDaily:
		expected += dayOff
	case candWeekly:
		expected += dayOff + weekOff
	}
	sd := max(1.2533*m.spread, scaleFloor(expected))
	est := Estimate{Dev: ratio(v, expected, sd), Expected: expected, Scale: sd}
	if m.n == 1 {
		est = Estimate{Expected: v, Scale: nan}
	}

	// Learn, with residuals winsorised once the spread is known.
	lim := math.Inf(1)
	if m.clip > 0 && m.n > m.warmup {
		lim = m.clip * sd
	}
	clip := func(r float64) float64 { return min(max(r, -lim), lim) }
	a := max(m.alpha, 1/float64(m.n))
	m.flatErr += a * (math.Abs(clip(v-m.level)) - m.flatErr)
	m.spread += a * (math.Abs(clip(v-expected)) - m.spread)
	dayReady := ts-m.first >= m.main.periodMs
	if dayReady {
		if !m.centred {
			m.centred = true
			if mean := m.main.centre(); !m.auto {
				m.level += mean
			}
		}
		if m.main.since == 0 {
			m.main.since = ts
		}

		m.main.track(math.Abs(clip(v-m.level-dayOff)), m.alpha)
		if m.auto && ts-m.first >= week {
			if m.week.since == 0 {
				m.week.since = ts
			}
			m.week.track(math.Abs(clip(v-m.level-dayOff-weekOff)), m.alpha)
		}
	}
	// The level follows the deseasonalised value of the chosen candidate.
	m.level += a * clip(v-expected)
	// A profile point's rate is gamma per period: spread over the samples
	// that fall near it, so the scrape rate does not change how fast a
	// profile learns.
	perPoint := float64(m.main.periodMs) / float64(len(m.main.q)) / max(m.stepMs, 1)
	// Once the weekly fit wins, the daily profile learns what the
	// day-of-week correction leaves (backfitting); before, the
	// correction is too young to subtract and the daily profile learns
	// the value as is.
	dayTarget := v - m.level
	if cand == candWeekly {
		dayTarget -= weekOff
	}
	m.main.learn(ts, dayTarget, m.gamma/max(perPoint, 1e-3), lim)
	if m.auto && dayReady {
		perBlock := float64(week) / weekBlocks / max(m.stepMs, 1)
		m.week.learn(ts, v-m.level-dayOff, m.gamma/max(perBlock, 1e-3), lim)
	}
	return est
}

// Ready: auto scores with the level alone until a profile has seen its
// period; a fixed period waits for one full period.
func (m *seasonal) Ready() bool {
	if m.n <= m.warmup {
		return false
	}
	return m.auto || m.last-m.first >= m.main.periodMs
}

func (m *seasonal) Shift(delta float64) { m.level += delta }

func (m *seasonal) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u64(uint64(m.n))
	e.i64(m.first)
	e.i64(m.last)
	e.f64(m.stepMs)
	e.f64(m.level)
	e.f64(m.spread)
	e.f64(m.flatErr)
	e.boolean(m.centred)
	for _, p := range []*profile{&m.main, &m.week} {
		e.f64(p.err)
		e.i64(p.since)
		e.u64(uint64(p.scored))
		e.f64(p.unit)
		e.i16s(p.q)
	}
	return e.b, nil
}

func (m *seasonal) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	n, first, last, step := d.u64(), d.i64(), d.i64(), d.f64()
	level, spread, flatErr, centred := d.f64(), d.f64(), d.f64(), d.boolean()
	var errs, units [2]float64
	var since [2]int64
	var scored [2]int
	qs := [2][]int16{make([]int16, len(m.main.q)), make([]int16, len(m.week.q))}
	for i := range 2 {
		errs[i] = d.f64()
		since[i] = d.i64()
		scored[i] = int(d.u64())
		units[i] = d.f64()
		d.i16sInto(qs[i], "seasonal profile")
	}
	if err := d.finish(); err != nil {
		return err
	}
	m.n, m.first, m.last, m.stepMs = int(n), first, last, step
	m.level, m.spread, m.flatErr, m.centred = level, spread, flatErr, centred
	for i, p := range []*profile{&m.main, &m.week} {
		p.err, p.since, p.scored = errs[i], since[i], scored[i]
		p.unit = units[i]
		copy(p.q, qs[i])
	}
	return nil
}
