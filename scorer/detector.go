package scorer

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"time"
)

// Defaults of the Spec fields (the zero value of each field selects them).
const (
	DefaultRisk          = 1e-4
	DefaultThresholdInit = 128
	// DefaultGuardRiskDivisor: ThresholdSpec.GuardRisk defaults to
	// Risk divided by this.
	DefaultGuardRiskDivisor = 10
	DefaultLevelShiftAbsorb = time.Hour
	// DefaultHoldOff is Spec.HoldOff's default: Alertmanager's default
	// repeat_interval, the time after which an operator is reminded of a
	// still-firing alert anyway.
	DefaultHoldOff = 4 * time.Hour
	// GapSteps: a timestamp jump larger than this many expected steps is a
	// gap (see the package documentation).
	GapSteps = 10
	// maxDebounce bounds M so the debounce window fits one machine word.
	maxDebounce = 64
)

// hinter is implemented by cores whose raw deviation has a natural
// calibration (nsigma's n, the ensemble's 1.0) or a floor below which no
// threshold makes sense.
type hinter interface{ calibration() calibrationHint }

type calibrationHint struct {
	// fixed, when > 0, makes "fixed" at this threshold the default mode.
	fixed float64
	// floor is the smallest threshold SPOT may set.
	floor float64
	// raw keeps the values as they are, no square root for counts: for
	// a core that reproduces a reference rule on the values (nsigma's),
	// and for sr, whose saliency is relative to the series' own spectrum
	// and loses bursts the root compresses (the ensemble, holding sr,
	// too: on the synthetic counts both lost windows).
	raw bool
	// recurring damps deviations that recur at the same time of day
	// (see recurrence).
	recurring bool
	// pointwise makes SPOT ("auto") the default mode: the likelihood
	// caps and averages deviations in z-score units, which a core whose
	// deviation is on another scale (sr's saliency ratio) does not have.
	pointwise bool
}

// calibration modes
const (
	modeLikelihood = iota
	modeSPOT
	modeFixed
)

type config struct {
	dir       Direction
	minDev    float64
	mode      int
	threshold float64 // fixed mode
	risk      float64
	guardRisk float64 // likelihood mode's SPOT guard
	init      int
	floor     float64
	lkWindow  int
	lkMemory  int
	lkCap     float64
	lkSkewed  bool
	debN      int
	debM      int
	counts    bool  // may score count-like series' square root
	recurring bool  // damps daily recurrences (calibrationHint.recurring)
	absorbMs  int64 // < 0: never absorb
	holdMs    int64 // < 0: no hold-off
}

// resolve validates a Spec and fills in the defaults.
func resolve(spec Spec, core Core) (config, error) {
	var h calibrationHint
	if c, ok := core.(hinter); ok {
		h = c.calibration()
	}
	c := config{dir: spec.Direction, minDev: spec.MinDeviation, floor: h.floor, counts: !h.raw, recurring: h.recurring}
	switch c.dir {
	case "":
		c.dir = Both
	case Both, Up, Down:
	default:
		return c, fmt.Errorf("%w: direction %q: must be both, up or down", ErrBadSpec, spec.Direction)
	}
	if math.IsNaN(c.minDev) || math.IsInf(c.minDev, 0) || c.minDev < 0 {
		return c, fmt.Errorf("%w: min_deviation %g: must be a finite number ≥ 0", ErrBadSpec, c.minDev)
	}
	th := spec.Threshold
	mode := th.Mode
	if mode == "" {
		mode = "likelihood"
		if h.pointwise {
			mode = "auto"
		}
		if h.fixed > 0 {
			mode = "fixed"
		}
	}
	switch mode {
	case "auto", "likelihood":
		c.mode = modeSPOT
		if mode == "likelihood" {
			c.mode = modeLikelihood
			if err := resolveLikelihood(&c, th); err != nil {
				return c, err
			}
		}
		c.risk = th.Risk
		if c.risk == 0 {
			c.risk = DefaultRisk
		}
		if !(c.risk > 0 && c.risk < 0.5) {
			return c, fmt.Errorf("%w: threshold.risk %g: must be in (0, 0.5)", ErrBadSpec, th.Risk)
		}
		c.guardRisk = th.GuardRisk
		if c.guardRisk == 0 {
			c.guardRisk = c.risk / DefaultGuardRiskDivisor
		}
		if !(c.guardRisk > 0 && c.guardRisk < 0.5) {
			return c, fmt.Errorf("%w: threshold.guard_risk %g: must be in (0, 0.5)", ErrBadSpec, th.GuardRisk)
		}
		c.init = th.Init
		if c.init == 0 {
			c.init = DefaultThresholdInit
		}
		if c.init < 8 || c.init > 1<<20 {
			return c, fmt.Errorf("%w: threshold.init %d: must be in [8, %d]", ErrBadSpec, th.Init, 1<<20)
		}
	case "fixed":
		c.mode = modeFixed
		c.threshold = th.Fixed
		if c.threshold == 0 {
			c.threshold = h.fixed
		}
		if !(c.threshold > 0) || math.IsInf(c.threshold, 0) {
			return c, fmt.Errorf("%w: threshold.fixed %g: fixed mode needs a finite threshold > 0", ErrBadSpec, th.Fixed)
		}
	default:
		return c, fmt.Errorf("%w: threshold.mode %q: must be likelihood, auto or fixed", ErrBadSpec, th.Mode)
	}
	c.debN, c.debM = spec.Debounce.N, spec.Debounce.M
	if c.debN == 0 && c.debM == 0 {
		c.debN, c.debM = 1, 1
	}
	if c.debM == 0 {
		c.debM = c.debN
	}
	if c.debN < 1 || c.debN > c.debM || c.debM > maxDebounce {
		return c, fmt.Errorf("%w: debounce %d of %d: need 1 ≤ n ≤ m ≤ %d", ErrBadSpec, spec.Debounce.N, spec.Debounce.M, maxDebounce)
	}
	switch a := spec.LevelShiftAbsorb; {
	case a == 0:
		c.absorbMs = DefaultLevelShiftAbsorb.Milliseconds()
	case a < 0:
		c.absorbMs = -1
	default:
		c.absorbMs = max(a.Milliseconds(), 1)
	}
	switch h := spec.HoldOff; {
	case h == 0:
		c.holdMs = DefaultHoldOff.Milliseconds()
	case h < 0:
		c.holdMs = -1
	default:
		c.holdMs = max(h.Milliseconds(), 1)
	}
	return c, nil
}

// resolveLikelihood validates and defaults the likelihood's fields.
func resolveLikelihood(c *config, th ThresholdSpec) error {
	c.lkWindow, c.lkMemory, c.lkCap = th.Window, th.Memory, th.Cap
	if c.lkWindow == 0 {
		c.lkWindow = DefaultLikelihoodWindow
	}
	if c.lkMemory == 0 {
		c.lkMemory = DefaultLikelihoodMemory
	}
	if c.lkCap == 0 {
		c.lkCap = DefaultLikelihoodCap
	}
	if c.lkWindow < 1 || c.lkWindow > maxLikelihoodWindow {
		return fmt.Errorf("%w: threshold.window %d: must be in [1, %d]", ErrBadSpec, th.Window, maxLikelihoodWindow)
	}
	if c.lkMemory < 2*c.lkWindow || c.lkMemory > 1<<24 {
		return fmt.Errorf("%w: threshold.memory %d: must be in [2·window, %d]", ErrBadSpec, th.Memory, 1<<24)
	}
	if !(c.lkCap > 0) || math.IsInf(c.lkCap, 0) {
		return fmt.Errorf("%w: threshold.cap %g: must be a finite number > 0", ErrBadSpec, th.Cap)
	}
	switch th.Tail {
	case "", TailGaussian:
	case TailSkewed:
		c.lkSkewed = true
	default:
		return fmt.Errorf("%w: threshold.tail %q: must be %s or %s", ErrBadSpec, th.Tail, TailGaussian, TailSkewed)
	}
	return nil
}

// detector is the Model New returns: a core plus calibration. One lives
// per series, so it holds only what the series learnt, its fields
// ordered and sized to keep it small; the settings, the same for every
// series of a spec, are shared (internParams).
type detector struct {
	p     *detectorParams
	core  Core
	spot  spot
	lk    likelihood
	rough roughness
	// rec damps deviations that recur daily; nil for cores that do
	// not ask for it (calibrationHint.recurring).
	rec *recurrence

	lastTs int64
	stepMs float64 // smoothed sampling step, for gap detection

	debBits uint64 // 1 bits: samples above threshold, newest in bit 0

	runStart int64   // first timestamp of the run
	runDelta float64 // recent offset of the values from Expected

	lastOnset int64 // timestamp of the latest episode's onset

	counts countState

	hasLast  bool
	debSeen  uint8 // samples in the debounce window so far
	runSign  int8  // sign of the current anomalous run, 0 when none
	hasOnset bool  // an episode has started
	status   Status
}

// detectorParams are a detector's settings, fixed by its Spec. They are
// immutable once built.
type detectorParams struct {
	name string
	cfg  detectorConfig
	spot spotParams
	lk   likelihoodParams
}

// maxInterned bounds the shared settings kept per kind: a process builds
// models of a few specs, but nothing should grow without bound if one
// builds them of ever new ones.
const maxInterned = 4096

// interner hands out one shared copy of each distinct settings value:
// series of one spec share their settings, which are a fair part of a
// small model's size.
type interner[T comparable] struct {
	mu sync.Mutex
	m  map[T]*T
}

func (in *interner[T]) get(p T) *T {
	in.mu.Lock()
	defer in.mu.Unlock()
	if q, ok := in.m[p]; ok {
		return q
	}
	q := new(T) // not &p: p would then escape on every call
	*q = p
	if in.m == nil {
		in.m = map[T]*T{}
	}
	if len(in.m) < maxInterned {
		in.m[p] = q
	}
	return q
}

var detectorInterned interner[detectorParams]

// internParams returns the shared copy of p.
func internParams(p detectorParams) *detectorParams { return detectorInterned.get(p) }

// detectorConfig is the part of config the detector reads after New:
// the rest is in its spot's and likelihood's settings.
type detectorConfig struct {
	minDev    float64
	threshold float64 // fixed mode
	absorbMs  int64   // < 0: never absorb
	holdMs    int64   // < 0: no hold-off
	debMask   uint64  // the debounce window's debM bits
	dir       uint8   // dirBoth, dirUp or dirDown: a byte, not the Spec's string, for the per-sample switches
	mode      uint8
	debN      uint8
	debM      uint8
	counts    bool // may score count-like series' square root
}

// Directions of detectorConfig.dir.
const (
	dirBoth uint8 = iota
	dirUp
	dirDown
)

// Count-like series. A count's noise grows with its level (a Poisson's
// variance is its mean), so one spread fits neither the quiet night nor
// the busy day of a daily cycle: a burst at night hides in the day's
// noise. The square root stabilises the variance (about 1/4 at any rate
// of a Poisson), so the detector scores √v once the series looks like a
// count: countDecide changes between values that are all integers in
// [0, countMax] (a constant start, zeros say, is no evidence either way).
// Until then it scores v; the switch restarts the model, which for a
// counter happens in its first hundred or so samples. A value that is
// not a count, or countPatience samples without a decision, ends the
// test for good. Once on, the transform stays (a later fraction or
// negative goes through the signed square root, defined everywhere).
const (
	countDecide   = 64
	countPatience = 1024
	// countMax: above this the relative Poisson noise is below 1%, other
	// variability dominates, and the integers (bytes, say) are not
	// counting noise.
	countMax = 10000
)

type countState struct {
	mode uint8  // countTentative, countOn or countOff
	n    uint8  // changes between count-like values while tentative
	seen uint32 // samples while tentative
}

const (
	countTentative uint8 = iota
	countOn
	countOff
)

func isCount(v float64) bool { return v >= 0 && v <= countMax && v == math.Trunc(v) }

// anscombeShift: √(v + 3/8) is Anscombe's form of the square root, whose
// variance stays close to 1/4 down to small means (about 1.5), where
// the plain root's varies.
const anscombeShift = 3.0 / 8

// signedSqrt is √(v+3/8), extended to an odd function of v+3/8 so that
// it is defined and monotone everywhere; signedSquare inverts it.
func signedSqrt(v float64) float64 {
	if v += anscombeShift; v < 0 {
		return -math.Sqrt(-v)
	}
	return math.Sqrt(v)
}

func signedSquare(y float64) float64 { return y*math.Abs(y) - anscombeShift }

// countValue decides on the transform and returns v in the core's units.
func (d *detector) countValue(v float64) float64 {
	switch d.counts.mode {
	case countOff:
		return v
	case countOn:
		return signedSqrt(v)
	}
	if !isCount(v) || d.counts.seen >= countPatience {
		d.counts.mode = countOff
		return v
	}
	d.counts.seen++
	// While tentative the values are the series' own, so the roughness
	// tracker's previous value is the previous sample.
	if d.rough.n > 0 && v != d.rough.prev {
		d.counts.n++
	}
	if d.counts.n < countDecide {
		return v
	}
	d.counts.mode = countOn
	d.restart()
	return signedSqrt(v)
}

// restart forgets what the core and the calibration learnt.
func (d *detector) restart() {
	d.core.Reset()
	d.spot.reset()
	d.lk.reset()
	d.rough = roughness{}
	if d.rec != nil {
		d.rec.reset()
	}
	d.runSign, d.runStart, d.runDelta = 0, 0, 0
	d.debBits, d.debSeen = 0, 0
}

func newDetector(name string, core Core, cfg config) *detector {
	p := detectorParams{name: name, cfg: detectorConfig{
		minDev: cfg.minDev, threshold: cfg.threshold, absorbMs: cfg.absorbMs, holdMs: cfg.holdMs,
		debMask: ^uint64(0) >> (64 - cfg.debM),
		mode:    uint8(cfg.mode), debN: uint8(cfg.debN), debM: uint8(cfg.debM), counts: cfg.counts,
	}}
	switch cfg.dir {
	case Up:
		p.cfg.dir = dirUp
	case Down:
		p.cfg.dir = dirDown
	}
	switch cfg.mode {
	case modeSPOT:
		p.spot = newSpotParams(cfg.risk, cfg.init, cfg.floor)
	case modeLikelihood:
		p.lk = newLikelihoodParams(cfg.risk, cfg.init, cfg.lkWindow, cfg.lkMemory, cfg.lkCap, cfg.lkSkewed)
		// SPOT alongside catches the single extreme sample that the
		// averaged likelihood dilutes (see Observe).
		p.spot = newSpotParams(cfg.guardRisk, cfg.init, cfg.floor)
		p.spot.guard = true
	}
	d := &detector{p: internParams(p), core: core}
	if cfg.mode == modeLikelihood {
		d.lk = newLikelihood(&d.p.lk)
	}
	if cfg.recurring {
		d.rec = new(recurrence)
	}
	d.resetCounts()
	return d
}

var nan = math.NaN()

// Observe implements Model.
//
// The result is named and filled in place: a Result returned from a
// local variable is copied with 16-byte moves that load what 8-byte and
// 1-byte stores have just written, which the CPU cannot forward from its
// store buffer, and those stalls were a fifth of the detector's time.
func (d *detector) Observe(ts int64, v float64) (res Result) {
	d.observe(&res, ts, v)
	if d.counts.mode != countOff {
		d.countUnits(&res)
	}
	return
}

// observe scores v into res, which is zero on entry.
func (d *detector) observe(res *Result, ts int64, v float64) {
	// v−v is 0 for a finite v and NaN for a NaN or an infinity: one
	// test for both.
	if v-v != 0 || (d.hasLast && ts <= d.lastTs) {
		res.Expected, res.Lower, res.Upper, res.Skipped, res.Status = nan, nan, nan, true, d.status
		return
	}
	if d.hasLast {
		step := float64(ts - d.lastTs)
		if d.stepMs > 0 && step > GapSteps*d.stepMs {
			// A gap: an anomalous run or a debounce window does not
			// span it; the core goes on from its state.
			d.runSign, d.debBits, d.debSeen = 0, 0, 0
		} else if d.stepMs == 0 {
			d.stepMs = step
		} else {
			// Both positive (timestamps increase): fmin is the builtin.
			d.stepMs += (fmin(step, 4*d.stepMs) - d.stepMs) / 16
		}
	}
	d.hasLast, d.lastTs = true, ts

	orig := v
	if d.counts.mode != countOff {
		v = d.countValue(v)
	}
	floor := d.rough.update(v)
	est := d.rough.apply(d.core.Update(ts, v), floor, v)
	res.Raw, res.Expected, res.Lower, res.Upper = est.Dev, est.Expected, nan, nan
	if !d.core.Ready() {
		d.status, res.Status = Warming, Warming
		return
	}
	mag := est.Dev
	if d.rec != nil {
		mag = d.rec.damp(ts, mag)
	}
	switch d.p.cfg.dir {
	case dirBoth:
		mag = math.Abs(mag)
	case dirDown:
		mag = -mag
	}
	// max(mag, 0), and 0 for a NaN: +0 on a tie with −0, as the
	// builtin.
	if !(mag > 0) {
		mag = 0
	}

	var thr, score float64
	switch d.p.cfg.mode {
	case modeFixed:
		thr = d.p.cfg.threshold
		score = mag / thr
	case modeSPOT:
		if !d.spot.ready {
			d.spot.learn(&d.p.spot, mag)
			d.status, res.Status = Warming, Warming
			return
		}
		thr = d.spot.threshold()
		d.spot.learn(&d.p.spot, mag)
		score = mag / thr
	case modeLikelihood:
		// The likelihood scores lasting changes; a single sample beyond
		// SPOT's threshold at the same risk is anomalous too, whatever
		// its neighbours (as HTM's detector adds a spatial anomaly test).
		var ok bool
		score, thr, ok = d.lk.observe(&d.p.lk, mag)
		if !d.spot.ready || !ok {
			d.spot.learn(&d.p.spot, mag)
			d.status, res.Status = Warming, Warming
			return
		}
		zq := d.spot.threshold()
		if d.spot.routine(mag) {
			d.spot.age(&d.p.spot) // learn's usual case, inline
		} else {
			d.spot.learn(&d.p.spot, mag)
		}
		// Either may be the larger, about as often: the builtin's
		// branch-free code beats a mispredicted branch. (score > 0 and
		// mag/zq ≥ +0, neither NaN: the same as taking mag/zq when
		// greater.)
		score = max(score, mag/zq)
		thr = fmin(thr, zq) // zq > 0, thr not NaN
	}
	d.status, res.Status = Ready, Ready
	if d.p.cfg.minDev > 0 {
		absDev := math.Abs(v - est.Expected)
		if d.counts.mode != countOff {
			absDev = math.Abs(orig - signedSquare(est.Expected))
		}
		if absDev < d.p.cfg.minDev {
			score = min(score, absDev/d.p.cfg.minDev)
		}
	}
	res.Score = score
	d.band(res, est, thr)

	d.debBits = d.debBits<<1 | uint64(b2u(score > 1))
	d.debSeen = min(d.debSeen+1, d.p.cfg.debM)
	res.Anomalous = bits.OnesCount64(d.debBits&d.p.cfg.debMask) >= int(d.p.cfg.debN)
	res.Held = d.hasOnset && d.p.cfg.holdMs > 0 && ts-d.lastOnset < d.p.cfg.holdMs
	if res.Anomalous && !res.Held {
		res.Onset = true
		d.hasOnset, d.lastOnset = true, ts
	}
	d.absorb(ts, v, est, score)
}

// countUnits turns Expected, Lower and Upper back into the series' units
// when the detector scores the square root.
func (d *detector) countUnits(res *Result) {
	res.Expected = signedSquare(res.Expected)
	res.Lower = min(signedSquare(res.Lower), res.Expected-d.p.cfg.minDev)
	res.Upper = max(signedSquare(res.Upper), res.Expected+d.p.cfg.minDev)
}

// band fills Lower and Upper: the values that would score exactly 1.
func (d *detector) band(res *Result, est Estimate, thr float64) {
	if math.IsNaN(est.Scale) || math.IsNaN(est.Expected) {
		return
	}
	w := thr * est.Scale
	if math.IsInf(thr, 1) {
		w = thr // the likelihood's cap: no single value scores 1
	}
	if d.counts.mode == countOff && !(w > d.p.cfg.minDev) {
		// max(w, minDev), else in countUnits, in the series' units; w >
		// minDev, the usual case, needs no builtin's NaN and zero care.
		w = max(w, d.p.cfg.minDev)
	}
	res.Lower, res.Upper = est.Expected-w, est.Expected+w
	switch d.p.cfg.dir {
	case dirUp:
		res.Lower = math.Inf(-1)
	case dirDown:
		res.Upper = math.Inf(1)
	}
}

// absorb tracks a run of same-signed deviations above half the threshold;
// once it has lasted cfg.absorbMs the core's level is moved to the new
// one, so a lasting level shift stops alerting.
func (d *detector) absorb(ts int64, v float64, est Estimate, score float64) {
	if d.p.cfg.absorbMs < 0 || math.IsNaN(est.Expected) {
		return
	}
	var sign int8
	if score > 0.5 {
		sign = 1
		if v < est.Expected {
			sign = -1
		}
	}
	if sign == 0 || sign != d.runSign {
		d.runSign, d.runStart, d.runDelta = sign, ts, v-est.Expected
		return
	}
	d.runDelta += 0.3 * (v - est.Expected - d.runDelta)
	if ts-d.runStart >= d.p.cfg.absorbMs {
		d.core.Shift(d.runDelta)
		d.runSign = 0
	}
}

// Status implements Model.
func (d *detector) Status() Status { return d.status }

// Reset implements Model.
func (d *detector) Reset() {
	d.restart()
	d.hasLast, d.lastTs, d.stepMs = false, 0, 0
	d.hasOnset, d.lastOnset = false, 0
	d.status = Warming
	d.resetCounts()
}

func (d *detector) resetCounts() {
	d.counts = countState{}
	if !d.p.cfg.counts {
		d.counts.mode = countOff
	}
}

// MarshalBinary implements Model. The encoding starts with a version byte
// and the model name; the core's state follows length-prefixed.
func (d *detector) MarshalBinary() ([]byte, error) {
	core, err := d.core.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", d.p.name, err)
	}
	e := enc{b: make([]byte, 0, 128+len(core)+8*spotPeaks)}
	e.u8(stateVersion)
	e.str(d.p.name)
	e.u32(uint32(len(core)))
	e.b = append(e.b, core...)
	d.spot.encode(&e)
	if d.p.cfg.mode == modeLikelihood {
		d.lk.encode(&e)
	}
	d.rough.encode(&e)
	if d.rec != nil {
		d.rec.encode(&e)
	}
	e.boolean(d.hasLast)
	e.i64(d.lastTs)
	e.f64(d.stepMs)
	e.u64(d.debBits)
	e.u8(d.debSeen)
	e.u8(uint8(d.runSign))
	e.i64(d.runStart)
	e.f64(d.runDelta)
	e.boolean(d.hasOnset)
	e.i64(d.lastOnset)
	e.u8(uint8(d.status))
	e.u8(d.counts.mode)
	e.u8(d.counts.n)
	e.u32(d.counts.seen)
	return e.b, nil
}

// UnmarshalBinary implements Model. It refuses a state of another model
// or version and leaves the model unchanged then.
func (d *detector) UnmarshalBinary(b []byte) error {
	r := dec{b: b}
	if v := r.u8(); r.err == nil && v != stateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrBadState, v, stateVersion)
	}
	if name := r.str(); r.err == nil && name != d.p.name {
		return fmt.Errorf("%w: state of model %q, not %q", ErrBadState, name, d.p.name)
	}
	n := r.u32()
	if r.err != nil || uint64(len(r.b)) < uint64(n) {
		return fmt.Errorf("%w: truncated core state", ErrBadState)
	}
	coreState := r.b[:n]
	r.b = r.b[n:]
	nd := *d
	nd.spot.decode(&r)
	if nd.p.cfg.mode == modeLikelihood {
		nd.lk.decode(&nd.p.lk, &r)
	}
	nd.rough.decode(&r)
	if d.rec != nil {
		rec := new(recurrence)
		rec.decode(&r)
		nd.rec = rec
	}
	nd.hasLast = r.boolean()
	nd.lastTs = r.i64()
	nd.stepMs = r.f64()
	nd.debBits = r.u64()
	nd.debSeen = r.u8()
	nd.runSign = int8(r.u8())
	nd.runStart = r.i64()
	nd.runDelta = r.f64()
	nd.hasOnset = r.boolean()
	nd.lastOnset = r.i64()
	nd.status = Status(r.u8())
	nd.counts.mode, nd.counts.n, nd.counts.seen = r.u8(), r.u8(), r.u32()
	if nd.counts.mode > countOff || int(nd.counts.n) > countDecide || nd.counts.seen > countPatience {
		r.fail("count state")
	}
	if err := r.finish(); err != nil {
		return err
	}
	if err := d.core.UnmarshalBinary(coreState); err != nil {
		return fmt.Errorf("model %q: %w", d.p.name, err)
	}
	nd.core = d.core
	*d = nd
	return nil
}
