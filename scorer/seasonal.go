package scorer

import (
	"math"
	"time"
)

func init() {
	Register("seasonal", ModelDoc{
		Description: "Competing online fits, each with its own level, learning only from its own residual, " +
			"scored with the one whose recent error is lowest (a rival must beat it by 10% to take over): a slow " +
			"level, a fast level (a random walk's best guess), and additive Holt-Winters without trend on a " +
			"seasonal profile of `slots` points per period, linearly interpolated between them (the phase comes " +
			"from the timestamp, so gaps and irregular scrapes keep it). With period=auto the seasonal fits are " +
			"a daily profile and, competing with it, a weekly one (7×24 hourly points), so weekends are learnt " +
			"as such rather than chased by the daily profile. Level and profile updates are winsorised at ±clip " +
			"spreads, so anomalies barely teach it.",
		Warmup: "`warmup` samples (the level fits score until a profile has seen its period and been tried " +
			"for a day, two for the weekly one); a fixed period waits for one full period. Then threshold.init " +
			"samples for the calibration.",
		State: "2·slots bytes (int16 fixed point) plus about 240, 340 more for auto's weekly profile; " +
			"the daily-recurrence memory (recurring=true) 80 more; with the calibration ≈ 1.2 KiB saved and 1.35 KiB resident per series at the defaults (period=auto, slots=96).",
		Params: []ParamDoc{
			{Name: "period", Default: "auto", Help: "season length as a duration (1h to 5w), or auto (pick 1d, 1w or none from the data)"},
			{Name: "slots", Default: "96", Help: "profile points per period (4 to 10080); auto's daily profile uses it too"},
			{Name: "alpha", Default: "0.002", Help: "level smoothing factor per sample: keep it slow against the period, or the level chases the cycle"},
			{Name: "gamma", Default: "0.2", Help: "profile smoothing factor per period: how far one period's error moves each profile point"},
			{Name: "clip", Default: "4", Help: "winsorise updates at this many spreads"},
			{Name: "warmup", Default: "16", Help: "samples before the level fits score"},
			{Name: "recurring", Default: "true", Help: "damp excursions that recur at the same time of day (±30 min) on 2 of the last 3 days, up to 1.5× their size: nightly backups and cron jobs"},
		},
	}, newSeasonal)
}

// weekPoints is the resolution of auto's weekly profile: hourly.
// Weekly patterns (weekends, a weekly batch job) are broad, daily shapes
// are smooth enough to interpolate between hours, and 168 int16 points
// keep the state small; the daily fit keeps the finer daily shape.
const weekPoints = 7 * 24

// walkAlpha is the fast level's smoothing factor: on a random walk the
// last values are the best forecast, and halving keeps one noisy sample
// from moving it all the way.
const walkAlpha = 0.5

// switchMargin is the hysteresis of the choice between fits: a rival's
// error must be this much lower than the chosen fit's to replace it, so
// two fits of about equal error do not take turns.
const switchMargin = 0.9

// spreadFollow is how many samples the score's scale takes to follow a
// change of the chosen fit (an exponential approach).
const spreadFollow = 64

// errRestart is the weight, in samples, that a profile fit's error
// learnt during its first period keeps once the profile is complete.
const errRestart = 16

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
	q    []int16 // qUnset: point never learnt
	unit float64 // value of one step of q; 0 until a point is set
	inv  float64 // 1/unit, not saved
	// span is the time between points in ms: the period is span·len(q),
	// whole milliseconds (newSeasonal), and span < 2³¹ (at most 5 weeks
	// over at least 4 points).
	span int32
	// rem is how far past its point (seasonal.idx) the last lookup's
	// timestamp fell, in ms, or -1 when unknown; not saved (see at).
	rem int32
}

func (p *profile) period() int64 { return int64(p.span) * int64(len(p.q)) }

// qUnset marks an unlearnt point; qMax bounds the others.
const (
	qUnset = math.MinInt16
	qMax   = math.MaxInt16
)

func (p *profile) reset() {
	p.unit, p.inv, p.rem = 0, 0, -1
	for j := range p.q {
		p.q[j] = qUnset
	}
}

func (p *profile) get(i int) (float64, bool) {
	if p.q[i] == qUnset {
		return 0, false
	}
	return float64(p.q[i]) * p.unit, true
}

func (p *profile) setUnit(u float64) {
	p.unit = u
	p.inv = 0
	if u > 0 {
		p.inv = 1 / u
	}
}

// set stores x at point i, coarsening the unit (halving every point) when
// x does not fit.
func (p *profile) set(i int, x float64) {
	if !p.put(i, x) {
		p.setSlow(i, x)
	}
}

// put is set's common case, a unit set and x within it, small enough to
// inline; it returns false, storing nothing, when set has more to do.
func (p *profile) put(i int, x float64) bool {
	s := x * p.inv
	if p.unit == 0 || !(math.Abs(s) <= qMax-1) {
		return false
	}
	p.q[i] = roundQ(s)
	return true
}

// roundQ is int16(math.Round(s)) for |s| ≤ qMax−1, without branches:
// the fraction d = s − trunc(s) is exact at that size, in (−1, 1), and
// Round goes away from zero from a half on, which is trunc(2d), also
// exact.
func roundQ(s float64) int16 {
	t := int32(s)
	d := s - float64(t)
	return int16(t + int32(d+d))
}

// setSlow is set's first point and rescaling (and a NaN, which neither
// path can store meaningfully; it keeps the original conversion).
func (p *profile) setSlow(i int, x float64) {
	if p.unit == 0 {
		ax := math.Abs(x)
		if ax == 0 {
			p.q[i] = 0
			return
		}
		// Room for offsets four times larger before the first rescale.
		p.setUnit(ax / (qMax / 4))
	}
	s := x * p.inv
	for math.Abs(s) > qMax-1 {
		p.setUnit(2 * p.unit)
		for j, v := range p.q {
			if v != qUnset {
				p.q[j] = int16(math.Round(float64(v) / 2))
			}
		}
		s = x * p.inv
	}
	p.q[i] = int16(math.Round(s))
}

// noStep is look's dt when the previous lookup is unknown.
const noStep = math.MaxUint64

// place is a timestamp's place on a profile and the values of the two
// points around it: Update interpolates them and then learn moves them,
// without reading them twice. a and b are meaningful only when set.
type place struct {
	i0, i1   int
	f        float64 // the weight of i1
	a, b     float64 // the points' values, when okA, okB
	okA, okB bool
}

// look finds ts on the profile: the two points around it, i0 and i1, the
// weight f of the second, and their values (get). dt is how far ts lies
// past the previous lookup's timestamp, when that is known and ts is not
// before it, else noStep; idx is the profile's point of the previous
// lookup, updated to ts's.
//
// Point i sits at the start of the i-th of n equal spans, so that
// samples on the grid (the common case) use one point alone: with r the
// phase of ts in the period, i0 = ⌊r/span⌋ and f = (r mod span)·n/period,
// as the fraction (r·n mod period)/period. A step shorter than a span (a
// regular scrape) moves the previous lookup's point on by at most one,
// with no division; any other step finds the phase afresh. Both ways
// give the same integers, so f has the same bits.
func (p *profile) look(l *place, ts int64, dt uint64, idx *uint16) {
	span := int64(p.span)
	q := p.q
	n := int64(len(q))
	var i0 int
	var rem int64
	if p.rem >= 0 && dt < uint64(span) {
		i0, rem = int(*idx), int64(p.rem)+int64(dt)
		if rem >= span {
			rem -= span
			if i0++; i0 == len(q) {
				i0 = 0
			}
		}
	} else {
		period := span * n
		r := ts % period
		if r < 0 {
			r += period
		}
		i0, rem = int(r/span), r%span
	}
	p.rem, *idx = int32(rem), uint16(i0)
	// rem·n < period fits easily: periods are at most 5 weeks. The
	// quotient of exact integers is the correctly rounded one either
	// way: (rem·n)/(span·n) has the bits of rem/span.
	l.f = float64(rem) / float64(span)
	i1 := i0 + 1
	if i1 == len(q) {
		i1 = 0
	}
	l.i0, l.i1 = i0, i1
	// A point's value is meaningless unless it is set (okA, okB).
	a, b := q[i0], q[i1]
	l.a, l.okA = float64(a)*p.unit, a != qUnset
	l.b, l.okB = float64(b)*p.unit, b != qUnset
}

// interp is the profile's value at the place: linear between the points.
func (l *place) interp() float64 {
	switch {
	case !l.okA && !l.okB:
		return 0
	case !l.okA:
		return l.b
	case !l.okB || l.f == 0:
		return l.a
	}
	return l.a + l.f*(l.b-l.a)
}

// learn moves the place's two points i0, i1 (weights 1−f and f) towards
// explaining residual r (the value minus the fit's level), with the error
// winsorised at ±lim; pred is the profile's current value there. rate is
// the per-sample factor. l must be the profile's latest place (look),
// with no point set since.
//
// lim > 0 (a winsorising limit or +Inf) and the other operands of the
// min and max are nonzero constants, as fmin and fclamp need.
func (p *profile) learn(l *place, pred, r, rate, lim float64) {
	e := fclamp(r-pred, lim)
	// set, with its common case inlined (put).
	if !l.okA || l.f < 1 {
		x := r
		if l.okA {
			x = l.a + fmin(rate*(1-l.f), 1)*e
		}
		if !p.put(l.i0, x) {
			p.setSlow(l.i0, x)
			// Setting the first unit or rescaling may change the
			// other point's value too.
			l.b, l.okB = p.get(l.i1)
		}
	}
	if l.f == 0 {
		return
	}
	x := r
	if l.okB {
		x = l.b + fmin(rate*l.f, 1)*e
	}
	if !p.put(l.i1, x) {
		p.setSlow(l.i1, x)
	}
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

// fit is one competing forecast's own state: its level and its EW mean
// absolute error (the spread when it is chosen).
//
// The counts are int32 and saturate (see track): past 1/alpha ≤ 1e6
// samples they no longer change a result, and 48 bytes per fit keep the
// model within its allocation size class.
type fit struct {
	level float64
	err   float64
	cmp   float64 // err, learnt only outside the chosen fit's anomalies
	// off is the recent mean of the current run (seasonal.runs).
	off    float64
	scored int32 // errors learnt
	cmpN   int32 // errors learnt into cmp (since seasonal.since, for profile fits)
}

// maxCount is where fit's counts saturate.
const maxCount = math.MaxInt32

// rivalAbsorb is how many consecutive residuals beyond ±clip spreads of
// one sign make a fit that is not the chosen one take the new level. The
// chosen fit's level shifts are the detector's to absorb (Shift, after
// Spec.LevelShiftAbsorb) since they are what alerts; a rival has no one
// to absorb them, and without this one lasting shift would keep it out of
// the competition for thousands of samples.
const rivalAbsorb = 12

// absorb counts r, the raw residual, against the limit lim in *run, the
// fit's count of consecutive residuals beyond the limit with one sign
// (negative counts: below), and moves the level once a run lasts
// rivalAbsorb samples. Its common case, r within the limit, inlines.
func (f *fit) absorb(run *int8, r, lim float64) {
	if r > lim || r < -lim {
		f.absorbRun(run, r, lim)
		return
	}
	*run = 0
}

// absorbRun is absorb beyond the limit, out of line so that absorb
// inlines.
//
//go:noinline
func (f *fit) absorbRun(run *int8, r, lim float64) {
	if r > lim {
		if *run < 0 {
			*run = 0
		}
		*run++
	} else {
		if *run > 0 {
			*run = 0
		}
		*run--
	}
	if *run == 1 || *run == -1 {
		f.off = r
	}
	f.off += 0.3 * (r - f.off)
	if *run >= rivalAbsorb || *run <= -rivalAbsorb {
		f.level += f.off
		*run = 0
	}
}

// track learns the absolute error e: a plain mean at first, then
// exponential with factor alpha (w is its weightOf).
func (f *fit) track(e float64, w weightOf, quiet bool) {
	if f.scored < maxCount {
		f.scored++
	}
	f.err += w.at(int(f.scored)) * (e - f.err)
	if quiet {
		if f.cmpN < maxCount {
			f.cmpN++
		}
		f.cmp += w.at(int(f.cmpN)) * (e - f.cmp)
	}
}

// weightOf computes max(alpha, 1/n), the weight of the n-th value of a
// mean that turns exponential, without the division once alpha wins:
// from is the first n at which 1/n ≤ alpha, and since the rounded 1/n
// falls monotonically with n the result is the same to the bit.
type weightOf struct {
	alpha float64
	from  int
}

func newWeightOf(alpha float64) weightOf {
	n := max(int(math.Ceil(1/alpha)), 1)
	for n > 1 && 1/float64(n-1) <= alpha {
		n--
	}
	for 1/float64(n) > alpha {
		n++
	}
	return weightOf{alpha: alpha, from: n}
}

// at is max(alpha, 1/n) for n ≥ 1.
func (w weightOf) at(n int) float64 {
	if n >= w.from {
		return w.alpha
	}
	return 1 / float64(n)
}

// The fits, in the order of seasonal.fits.
const (
	fitFlat = iota // slow level
	fitWalk        // fast level
	fitMain        // level + the period's profile (daily for auto)
	fitWeek        // auto only: level + weekly profile
	nFits
)

// seasonal is laid out to fit one allocation size class at the
// defaults, profiles included (see qbuf): 880 bytes plus the 8-byte
// header of a large object with pointers make 888 of the 896 class,
// with the settings shared (seasonalParams) and 8 bytes to spare.
// It must not be copied by value, since the profiles may point into it.
type seasonal struct {
	p *seasonalParams // shared by the series of a spec

	n      int
	first  int64
	last   int64
	stepMs float64 // smoothed sampling step, for the profiles' rates
	// spread is the score's scale: it follows the chosen fit's error
	// (spreadFollow), so that when the choice changes the calibration,
	// which learnt the old fit's deviations, sees them change over a
	// few dozen samples rather than at once.
	spread float64
	chosen uint8
	// centred has bit 0 set once the main profile's mean went into its
	// level after its first period, bit 1 the same for the weekly one.
	centred uint8
	// runs are the fits' runs of residuals beyond their limits (absorb).
	runs [nFits]int8
	// idx are the profiles' (main, week) points of the last lookup (see
	// profile.at), next to the small fields above for the size class;
	// not saved.
	idx [2]uint16
	// rateKey says which rates are in rates: 0 none, else rateValid
	// with the profiles' readiness (rateMainReady, rateWeekReady) they
	// were computed for; cleared whenever stepMs changes. Not saved.
	rateKey uint8
	// rates are the profiles' (main, week) per-sample learning rates,
	// a function of stepMs and readiness alone: two divisions each,
	// which a regular series need not repeat every sample.
	rates [2]float64
	fits  [nFits]fit
	// since is when each profile fit's profile had seen its period, 0
	// before (see sinceOf).
	since [nFits - fitMain]int64
	main  profile // the period's profile (daily for auto)
	week  profile // auto only: weekly profile, a rival of main
	// qbuf holds the profiles' points when they fit (the defaults do):
	// one allocation per series rather than three, with no size-class
	// rounding of each.
	qbuf [inlinePoints]int16
}

// seasonalParams are a seasonal model's settings, fixed by its Params
// and shared by every series of a spec (interned): they are no part of
// the per-series state, whose size class they would otherwise crowd.
type seasonalParams struct {
	// weight is max(alpha, 1/n), the level fits' and the errors' weight.
	weight      weightOf
	gamma, clip float64
	warmup      int32
	auto        bool
	// recurring: the detector damps daily recurrences (param recurring).
	recurring bool
}

var seasonalInterned interner[seasonalParams]

// inlinePoints is qbuf's size: auto's default daily profile and its
// weekly one.
const inlinePoints = 96 + weekPoints

// sinceOf is when fit k's profile had seen its period: 0 before, and
// always for the level fits, which have none.
func (m *seasonal) sinceOf(k int) int64 {
	if k < fitMain {
		return 0
	}
	return m.since[k-fitMain]
}

// calibration: see zFloor.
func (m *seasonal) calibration() calibrationHint {
	return calibrationHint{floor: zFloor, recurring: m.p.recurring}
}

func newSeasonal(p Params) (Core, error) {
	slots, err := p.Int("slots", 4, 10080)
	if err != nil {
		return nil, err
	}
	sp := seasonalParams{auto: p.String("period") == "auto"}
	if sp.recurring, err = p.Bool("recurring"); err != nil {
		return nil, err
	}
	period := 24 * time.Hour
	if !sp.auto {
		if period, err = p.Duration("period", time.Hour, 35*24*time.Hour); err != nil {
			return nil, err
		}
	}
	if ms := period.Milliseconds(); ms%int64(slots) != 0 {
		return nil, p.errorf("slots", p.String("slots"), "must divide the period %s into whole milliseconds", period)
	}
	alpha, err := p.Float("alpha", 1e-6, 1)
	if err != nil {
		return nil, err
	}
	sp.weight = newWeightOf(alpha)
	if sp.gamma, err = p.Float("gamma", 1e-6, 1); err != nil {
		return nil, err
	}
	if sp.clip, err = p.Float("clip", 0, 1e6); err != nil {
		return nil, err
	}
	warmup, err := p.Int("warmup", 2, 1<<20)
	if err != nil {
		return nil, err
	}
	sp.warmup = int32(warmup)
	m := &seasonal{p: seasonalInterned.get(sp)}
	buf := m.qbuf[:]
	if sp.auto {
		m.week = profile{span: int32(week / weekPoints), q: buf[:weekPoints:weekPoints]}
		buf = buf[weekPoints:]
	}
	q := buf[:min(slots, len(buf)):min(slots, len(buf))]
	if len(q) < slots {
		q = make([]int16, slots)
	}
	m.main = profile{span: int32(period.Milliseconds() / int64(slots)), q: q}
	m.Reset()
	return m, nil
}

func (m *seasonal) Reset() {
	m.n, m.first, m.last, m.stepMs, m.spread = 0, 0, 0, 0, 0
	m.rateKey = 0
	m.chosen, m.centred = fitFlat, 0
	m.fits = [nFits]fit{}
	m.runs = [nFits]int8{}
	m.since = [nFits - fitMain]int64{}
	m.main.reset()
	m.week.reset()
}

// choose updates the chosen fit, which it returns: the eligible one with
// the lowest error, if it beats the current one by switchMargin. A
// profile fit is eligible once it has seen its period and its error has
// been measured for a day (two for the weekly one). A fixed period is the
// user's choice: its fit replaces the slow level as soon as it has seen
// a period, and nothing competes.
//
// Straight-line over the fits, in their order, with the comparisons of
// a loop over them: an error that is NaN never wins.
func (m *seasonal) choose(ts int64) int {
	cur := int(m.chosen)
	if !m.p.auto {
		if cur == fitFlat && m.since[0] > 0 {
			// Nothing was scored before (Ready), so the spread may
			// start from the profile fit's own.
			m.chosen, m.spread = fitMain, m.fits[fitMain].err
			return fitMain
		}
		return cur
	}
	best, bestErr := cur, m.fits[cur].cmp*switchMargin
	if e := m.fits[fitFlat].cmp; cur != fitFlat && e < bestErr {
		best, bestErr = fitFlat, e
	}
	if e := m.fits[fitWalk].cmp; cur != fitWalk && e < bestErr {
		best, bestErr = fitWalk, e
	}
	if e, s := m.fits[fitMain].cmp, m.since[0]; cur != fitMain && e < bestErr && s > 0 && ts-s >= day {
		best, bestErr = fitMain, e
	}
	if e, s := m.fits[fitWeek].cmp, m.since[1]; cur != fitWeek && e < bestErr && s > 0 && ts-s >= 2*day {
		best = fitWeek
	}
	m.chosen = uint8(best)
	return best
}

// limit is a fit's winsorising limit: clip spreads of its own error
// around its forecast pred, or +Inf before the spreads are known.
func limit(winsor bool, clip, err, pred float64) float64 {
	if !winsor {
		return math.Inf(1)
	}
	return clip * fmax(1.2533*err, scaleFloor(pred))
}

// Update's min and max are fmin, fmax and fclamp (stats.go): their
// operands come from finite values, the bounds are positive (the floors,
// limits and constants).
//
// The fits are written out one by one rather than looped over: each
// fit's forecast, limit and residual then stay in registers, and the
// branches on the fit's kind go away.
func (m *seasonal) Update(ts int64, v float64) Estimate {
	p := m.p
	if m.n == 0 {
		m.first = ts
		for c := range m.fits {
			m.fits[c].level = v
		}
	} else {
		old := m.stepMs
		step := float64(ts - m.last)
		if m.stepMs == 0 {
			m.stepMs = step
		} else {
			// The builtin: raw Updates going back in time for long (never
			// through the detector) make stepMs NaN, and the saved state
			// keeps the builtin's NaN bits.
			m.stepMs += (min(step, 4*m.stepMs) - m.stepMs) / 16
		}
		if math.Float64bits(m.stepMs) != math.Float64bits(old) {
			m.rateKey = 0
		}
	}
	// The step since the last sample, for the profiles' lookups: ts −
	// last as an unsigned number is exact even where the signed one
	// overflows.
	dt := uint64(noStep)
	if m.n > 0 && ts >= m.last {
		dt = uint64(ts - m.last)
	}
	m.n++
	m.last = ts

	// Every fit's forecast, before learning.
	var dl, wl place
	m.main.look(&dl, ts, dt, &m.idx[0])
	auto := p.auto
	if auto {
		m.week.look(&wl, ts, dt, &m.idx[1])
	}
	flat, walk, main, wk := &m.fits[fitFlat], &m.fits[fitWalk], &m.fits[fitMain], &m.fits[fitWeek]
	dayOff := dl.interp()
	var pred [nFits]float64
	pred[fitFlat] = flat.level
	pred[fitWalk] = walk.level
	pred[fitMain] = main.level + dayOff
	var weekOff float64
	if auto {
		weekOff = wl.interp()
		pred[fitWeek] = wk.level + weekOff
	}

	c := m.choose(ts) & (nFits - 1)
	expected := pred[c]
	sd := fmax(1.2533*m.spread, scaleFloor(expected))
	// ratio(v, expected, sd), for sd > 0.
	est := Estimate{Dev: fclamp((v-expected)/sd, maxDev), Expected: expected, Scale: sd}
	if m.n == 1 {
		est = Estimate{Expected: v, Scale: nan}
	}

	// Each fit learns from its own residual, winsorised at clip of its
	// own spread once the spreads are known.
	clip := p.clip
	winsor := clip > 0 && m.n > int(p.warmup)
	w := p.weight
	a := w.at(m.n)
	mainReady := ts-m.first >= m.main.period()
	weekReady := auto && ts-m.first >= week
	// While the chosen fit sees an anomaly (a residual beyond its
	// winsorising limit) no fit's error learns: a lasting anomaly would
	// otherwise count against the chosen fit for its whole length and
	// against the fast level only at its edges, handing the choice to
	// the fit that follows anomalies best.
	// The spread follows the chosen fit's own error, over about
	// spreadFollow samples after the choice changes.
	cerr := m.fits[c].err
	if m.n <= spreadFollow {
		m.spread = cerr
	} else {
		m.spread += (cerr - m.spread) / spreadFollow
	}
	quiet := !winsor || math.Abs(v-expected) <= clip*fmax(1.2533*cerr, scaleFloor(expected))

	// A rival absorbs its lasting shifts, once its profile (if it has
	// one) is complete: before, the profile takes them. The fast level
	// has none to absorb: it follows them.
	//
	// A profile fit's error is tracked from the start, for its
	// winsorisation, and restarts once its profile has seen a period:
	// only from then on does it measure the fit. The competition error
	// starts afresh; the spread keeps its value as the weight of a few
	// samples, so it is not one sample's.
	//
	// A profile fit's level stays at the first value until its profile
	// has seen a period: the profile learns the whole value meanwhile,
	// every point against the same level, and then hands its mean to
	// the level (centre). A level learning a partial cycle's running
	// mean would bias the points learnt early.

	// The slow level.
	{
		lim := limit(winsor, clip, flat.err, pred[fitFlat])
		raw := v - pred[fitFlat]
		r := fclamp(raw, lim)
		if c != fitFlat && winsor {
			flat.absorb(&m.runs[fitFlat], raw, lim)
		}
		flat.track(math.Abs(r), w, quiet)
		flat.level += a * r
	}
	// The fast level.
	if auto {
		lim := limit(winsor, clip, walk.err, pred[fitWalk])
		r := fclamp(v-pred[fitWalk], lim)
		walk.track(math.Abs(r), w, quiet)
		walk.level += fmax(a, walkAlpha) * r
	}
	// The main profile's fit. It and the weekly one are written out
	// rather than shared in a method: the method does not inline, and
	// the call cost 86 more instructions a sample (callgrind, 1752 →
	// 1838), about 5 %.
	limMain := limit(winsor, clip, main.err, pred[fitMain])
	{
		raw := v - pred[fitMain]
		r := fclamp(raw, limMain)
		since := m.since[0]
		if c != fitMain && since > 0 && winsor {
			main.absorb(&m.runs[fitMain], raw, limMain)
		}
		if mainReady && since == 0 {
			since = ts
			m.since[0], main.cmpN, main.scored = ts, 0, min(main.scored, errRestart)
		}
		main.track(math.Abs(r), w, quiet)
		if since > 0 {
			main.level += a * r
		}
	}
	// The weekly profile's fit.
	var limWeek float64
	if auto {
		limWeek = limit(winsor, clip, wk.err, pred[fitWeek])
		raw := v - pred[fitWeek]
		r := fclamp(raw, limWeek)
		since := m.since[1]
		if c != fitWeek && since > 0 && winsor {
			wk.absorb(&m.runs[fitWeek], raw, limWeek)
		}
		if weekReady && since == 0 {
			since = ts
			m.since[1], wk.cmpN, wk.scored = ts, 0, min(wk.scored, errRestart)
		}
		wk.track(math.Abs(r), w, quiet)
		if since > 0 {
			wk.level += a * r
		}
	}

	key := rateValid
	if mainReady {
		key |= rateMainReady
	}
	if weekReady {
		key |= rateWeekReady
	}
	if m.rateKey != key {
		m.setRates(mainReady, weekReady)
		m.rateKey = key
	}
	m.main.learn(&dl, dayOff, v-main.level, m.rates[0], limMain)
	if mainReady && m.centred&1 == 0 {
		m.centred |= 1
		main.level += m.main.centre()
	}
	if auto {
		m.week.learn(&wl, weekOff, v-wk.level, m.rates[1], limWeek)
		if weekReady && m.centred&2 == 0 {
			m.centred |= 2
			wk.level += m.week.centre()
		}
	}
	return est
}

// rateKey's bits.
const (
	rateValid uint8 = 1 << iota
	rateMainReady
	rateWeekReady
)

// setRates computes the profiles' per-sample learning rates (rates) for
// the current stepMs. A profile point's rate is gamma per period, spread
// over the samples that fall near it, so the scrape rate does not change
// how fast a profile learns. In its first period a profile learns at
// rate 1: each point is then about the mean of the samples near it
// rather than the first of them.
func (m *seasonal) setRates(mainReady, weekReady bool) {
	step := fmax(m.stepMs, 1)
	rate := m.p.gamma
	if !mainReady {
		rate = 1
	}
	// The span is the period over the points, exactly.
	perPoint := float64(m.main.span) / step
	m.rates[0] = rate / fmax(perPoint, 1e-3)
	rate = m.p.gamma
	if !weekReady {
		rate = 1
	}
	perPoint = float64(week) / weekPoints / step
	m.rates[1] = rate / fmax(perPoint, 1e-3)
}

// Ready: auto scores with a level fit until a profile has seen its period;
// a fixed period waits for one full period.
func (m *seasonal) Ready() bool {
	if m.n <= int(m.p.warmup) {
		return false
	}
	return m.p.auto || m.last-m.first >= m.main.period()
}

// Shift moves the chosen fit's level by delta: delta is its own residual.
// Rivals absorb their own (fit.absorb); the fast level has followed the
// shift already.
func (m *seasonal) Shift(delta float64) {
	if m.chosen != fitWalk {
		m.fits[m.chosen].level += delta
		m.runs[m.chosen] = 0
	}
}

func (m *seasonal) AppendBinary(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u64(uint64(m.n))
	e.i64(m.first)
	e.i64(m.last)
	e.f64(m.stepMs)
	e.f64(m.spread)
	e.u8(m.chosen)
	e.u8(m.centred)
	for i, f := range m.fits {
		e.f64(f.level)
		e.f64(f.err)
		e.f64(f.cmp)
		e.i64(m.sinceOf(i))
		e.u64(uint64(f.scored))
		e.u64(uint64(f.cmpN))
		e.u32(uint32(int32(m.runs[i])))
		e.f64(f.off)
	}
	for _, p := range []*profile{&m.main, &m.week} {
		e.f64(p.unit)
		e.i16s(p.q)
	}
	return e.b, nil
}

func (m *seasonal) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	n, first, last, step, spread := d.u64(), d.i64(), d.i64(), d.f64(), d.f64()
	chosen, centred := d.u8(), d.u8()
	var fits [nFits]fit
	var runs [nFits]int8
	var since [nFits - fitMain]int64
	for i := range fits {
		fits[i].level = d.f64()
		fits[i].err = d.f64()
		fits[i].cmp = d.f64()
		switch s := d.i64(); {
		case i >= fitMain:
			since[i-fitMain] = s
		case s != 0:
			d.fail("seasonal level fit") // a level fit has no profile
		}
		fits[i].scored = int32(min(d.u64(), maxCount))
		fits[i].cmpN = int32(min(d.u64(), maxCount))
		run := int32(d.u32())
		if run <= -rivalAbsorb || run >= rivalAbsorb {
			d.fail("seasonal fit run")
		}
		runs[i] = int8(run)
		fits[i].off = d.f64()
	}
	var units [2]float64
	qs := [2][]int16{make([]int16, len(m.main.q)), make([]int16, len(m.week.q))}
	for i := range 2 {
		units[i] = d.f64()
		d.i16sInto(qs[i], "seasonal profile")
	}
	if chosen >= nFits {
		d.fail("seasonal fit")
	}
	if err := d.finish(); err != nil {
		return err
	}
	m.n, m.first, m.last, m.stepMs, m.spread = int(n), first, last, step, spread
	m.rateKey = 0
	m.chosen, m.centred, m.fits, m.runs, m.since = chosen, centred, fits, runs, since
	for i, p := range []*profile{&m.main, &m.week} {
		p.setUnit(units[i])
		copy(p.q, qs[i])
		p.rem = -1 // the next lookup finds its phase afresh
	}
	return nil
}
