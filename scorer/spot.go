package scorer

import "math"

// spotPeaks bounds the peaks SPOT keeps, so its state stays small: the
// tail is fitted to the most recent spotPeaks excesses.
const spotPeaks = 32

// spotRoutine is the decayed count of values above z_q beyond which a
// guard (spotParams.guard) learns them as peaks: about
// 1/(1−spotDecay)·risk are expected (0.1 at the guard's 1e-5), so more
// of them within the horizon than the peaks the tail is fitted to mean it
// was fitted to the wrong values (a series that sits on one value between
// bursts fits it to the flat part) and these excursions are the series'
// routine. Standing alone, SPOT is the threshold and keeps the paper's
// rule: anomalies are never learnt.
const spotRoutine = spotPeaks

// spotDecay32 is spotDecay for the float32 count of anomalies.
const spotDecay32 = float32(spotDecay)

// spotMinT is the lowest initial threshold t, as a share of the floor.
const spotMinT = 1e-3

// spotDecay ages the sample and peak counts so the tail probability
// P(X > t) follows a slowly drifting series (horizon about 10k samples).
const spotDecay = 1 - 1.0/10000

// spot is SPOT (Siffer et al., "Anomaly Detection in Streams with Extreme
// Value Theory", KDD 2017) on a stream of non-negative deviations.
//
// Initial step: of the first init values, the largest k are kept; the
// smallest of them is the initial threshold t (an upper quantile) and the
// others' excesses over t are the first peaks. A generalised Pareto
// distribution is fitted to the peaks by the method of moments, and the
// threshold at risk q is
//
//	z_q = t + σ/γ · ((q·n/N_t)^(−γ) − 1)   (z_q = t − σ·ln(q·n/N_t) for γ = 0)
//
// Online step: a value above z_q is an anomaly and is not learnt; a value
// between t and z_q is a new peak and z_q is refitted; n and N_t decay so
// the tail follows drift. Since the cores already remove the series'
// level (they score residuals), this is DSPOT's drift-aware variant.
//
// The method of moments is used rather than Grimshaw's maximum likelihood
// because it refits in O(peaks) with no iteration, which keeps the
// per-sample cost within budget; with at most 32 peaks the two differ
// little.
//
// A spot holds only what it learnt, with narrow counters (at most 1<<20
// or spotPeaks): one lives in every series' detector, while its settings
// (spotParams) are shared by every series of a spec.
type spot struct {
	t     float64
	n, nt float64
	zq    float64
	peaks [spotPeaks]float32 // excesses; float32 halves SPOT's size
	ex    float32            // decayed count of values above z_q

	seen  int32 // samples seen during the initial step
	np    uint8 // peaks stored
	head  uint8 // next ring slot once ready
	ready bool
}

// spotParams are a spot's settings.
type spotParams struct {
	risk  float64
	floor float64
	init  int32 // samples before the first threshold
	k     uint8 // values kept during the initial step
	// guard marks a SPOT beside another calibration (the likelihood's
	// single-sample test), which learns routine anomalies (spotRoutine).
	guard bool
}

func newSpotParams(risk float64, init int, floor float64) spotParams {
	k := min(max(init/8, 8), spotPeaks)
	if k > init {
		k = init
	}
	return spotParams{risk: risk, init: int32(init), k: uint8(k), floor: floor}
}

func (s *spot) reset() { *s = spot{} }

// threshold is the current z_q; valid only when ready.
func (s *spot) threshold() float64 { return s.zq }

// routine reports whether learning x only ages the counts (age): x is
// at or below both t and z_q, as most values are. Both inline, which
// learn, with its rare cases, does not.
func (s *spot) routine(x float64) bool { return s.ready && x <= s.zq && x <= s.t }

// age is learn for a routine value.
func (s *spot) age(p *spotParams) {
	if p.guard {
		s.ex *= spotDecay32
	}
	s.n = s.n*spotDecay + 1
}

// learn feeds one deviation x ≥ 0 after it was scored.
func (s *spot) learn(p *spotParams, x float64) {
	if !s.ready {
		s.initial(p, x)
		return
	}
	if x > s.zq {
		// An anomaly: SPOT does not learn from it, unless it is a guard
		// and anomalies come far more often than the risk allows: the
		// fitted tail is then wrong, and they are the series' own.
		if !p.guard {
			return
		}
		if s.ex = s.ex*spotDecay32 + 1; s.ex < spotRoutine {
			return
		}
	} else if p.guard {
		s.ex *= spotDecay32
	}
	s.n = s.n*spotDecay + 1
	if x <= s.t {
		return
	}
	s.nt = s.nt*spotDecay + 1
	s.peaks[s.head] = float32(x - s.t)
	s.head = (s.head + 1) % spotPeaks
	if s.np < spotPeaks {
		s.np++
	}
	s.fit(p)
}

// initial keeps the k largest of the first init values, sorted ascending
// in peaks[:np].
func (s *spot) initial(p *spotParams, x float64) {
	s.seen++
	switch {
	case s.np < p.k:
		i := int(s.np)
		for i > 0 && float64(s.peaks[i-1]) > x {
			s.peaks[i] = s.peaks[i-1]
			i--
		}
		s.peaks[i] = float32(x)
		s.np++
	case x > float64(s.peaks[0]):
		i := 0
		for i+1 < int(s.np) && float64(s.peaks[i+1]) < x {
			s.peaks[i] = s.peaks[i+1]
			i++
		}
		s.peaks[i] = float32(x)
	}
	if s.seen < p.init {
		return
	}
	// A series that sat on one value puts the quantile at 0, and its
	// rounding residue (1e-16) would then fill the peaks: the tail starts
	// no lower than spotMinT of the floor.
	s.t = max(float64(s.peaks[0]), spotMinT*p.floor)
	kept := 0
	for i := 1; i < int(s.np); i++ {
		if e := float64(s.peaks[i]) - s.t; e > 0 {
			s.peaks[kept] = float32(e)
			kept++
		}
	}
	s.np = uint8(kept)
	for i := int(s.np); i < spotPeaks; i++ {
		s.peaks[i] = 0
	}
	s.head = s.np % spotPeaks
	s.n = float64(s.seen)
	s.nt = float64(max(s.np, 1))
	s.ready = true
	s.fit(p)
}

// fit refits the GPD to the stored peaks by the method of moments and
// recomputes z_q.
func (s *spot) fit(p *spotParams) {
	var sum, sum2 float64
	for _, pk := range s.peaks[:s.np] {
		y := float64(pk)
		sum += y
		sum2 += y * y
	}
	var gamma, sigma float64
	if s.np > 0 {
		m := sum / float64(s.np)
		v := sum2/float64(s.np) - m*m
		switch {
		case m <= 0:
		case v <= 1e-12*m*m:
			sigma = m // no spread: the exponential fit
		default:
			r := m * m / v
			gamma = 0.5 * (1 - r)
			sigma = 0.5 * m * (r + 1)
		}
	}
	// A negative γ (bounded tail) fitted to a few dozen peaks is too
	// noisy to extrapolate to q = 1e-4: it puts z_q just above the
	// largest peak seen and alarms on ordinary noise. Clamping at the
	// exponential tail keeps thresholds conservative; γ above 0.45 has no
	// finite moment estimate.
	gamma = min(max(gamma, 0), 0.45)
	r := p.risk * s.n / s.nt
	var zq float64
	switch {
	case r >= 1:
		zq = s.t
	case math.Abs(gamma) < 1e-6:
		zq = s.t - sigma*math.Log(r)
	default:
		zq = s.t + sigma/gamma*(math.Pow(r, -gamma)-1)
	}
	s.zq = max(zq, p.floor, 1e-9)
}

func (s *spot) encode(e *enc) {
	e.u32(uint32(s.seen))
	e.boolean(s.ready)
	e.f64(s.t)
	e.f64(s.n)
	e.f64(s.nt)
	e.u8(uint8(s.np))
	e.u8(uint8(s.head))
	for _, p := range s.peaks[:s.np] {
		e.u32(math.Float32bits(p))
	}
	e.f64(s.zq)
	e.u32(math.Float32bits(s.ex))
}

func (s *spot) decode(d *dec) {
	seen := d.u32()
	if seen > math.MaxInt32 {
		d.fail("spot count")
	}
	s.seen = int32(seen)
	s.ready = d.boolean()
	s.t = d.f64()
	s.n = d.f64()
	s.nt = d.f64()
	s.np = d.u8()
	s.head = d.u8()
	if s.np > spotPeaks || s.head >= spotPeaks {
		d.fail("spot peaks")
		return
	}
	s.peaks = [spotPeaks]float32{}
	for i := range int(s.np) {
		s.peaks[i] = math.Float32frombits(d.u32())
	}
	s.zq = d.f64()
	s.ex = math.Float32frombits(d.u32())
	if !(s.ex >= 0) || math.IsInf(float64(s.ex), 0) {
		d.fail("spot anomaly count")
	}
}
