package scorer

import "math"

// Defaults of the likelihood calibration (ThresholdSpec fields).
const (
	// DefaultLikelihoodWindow is how many recent deviations are averaged:
	// HTM's averaging window. A change has to persist for a few samples
	// (or be extreme) to move the average.
	DefaultLikelihoodWindow = 10
	// DefaultLikelihoodMemory is the number of samples the long-run
	// distribution of the average is learnt over (an exponential memory,
	// about a week of 5-minute samples).
	DefaultLikelihoodMemory = 2000
	// DefaultLikelihoodCap bounds each deviation (in the core's units, a
	// z-score for most cores) before it is averaged, as HTM bounds its raw
	// scores to [0, 1]: one wild sample then moves the average by at most
	// cap/window. At 8 a single 12σ spike still passes the threshold at
	// the default risk, while a series that is merely spiky does not
	// raise the average by much more than its usual level.
	DefaultLikelihoodCap = 8
	// maxLikelihoodWindow bounds the averaging ring.
	maxLikelihoodWindow = 64
	// likelihoodSDFloor is the smallest standard deviation of the average
	// (core units): on a series that never moves the average sits still,
	// and any later wobble would otherwise be infinitely unlikely.
	likelihoodSDFloor = 0.05
	// halfNormalSkew is the skewness of |z| for a standard normal z,
	// √2·(4−π)/(π−2)^{3/2}; the mean of w of them has it over √w.
	halfNormalSkew = 0.99527174643
	// tailFloor keeps log(tail) finite when the tail underflows: the
	// score is then at most log(tailFloor)/log(risk), 75 at risk 1e-4.
	tailFloor = 1e-300
	// infBits is +Inf's bits.
	infBits = 0x7ff0000000000000
)

// likelihood is the "anomaly likelihood" of Ahmad, Lavin, Purdy and Agha
// ("Unsupervised real-time anomaly detection for streaming data",
// Neurocomputing 2017), applied to a core's deviations: the mean of the
// last `window` capped deviations is compared with the long-run
// distribution of that mean (an exponentially weighted mean and variance
// over about `memory` samples, Gaussian as in the paper or, with
// TailSkewed, corrected for the skew of a mean of |z|), and the score is
// how unlikely the current mean is: log(tail)/log(risk), so that 1.0 is a
// tail probability equal to the risk, 2.0 its square, and 0.075 an
// ordinary sample.
//
// Why it helps: a point detector fires on every noisy sample that crosses
// a threshold, and on spiky series these are many short, separate false
// alarms. The likelihood instead asks whether the series has become more
// surprising than it usually is, which a lasting change (level shift, a
// burst, a new noise level, a broken pattern) does for several samples in
// a row while an isolated noisy sample does not.
//
// A likelihood holds only what it learnt, with narrow counters: one lives
// in every series' detector, while its settings (likelihoodParams) are
// shared by every series of a spec.
type likelihood struct {
	// ring holds the last window capped deviations as float32: they lie
	// in [0, cap], where 24 bits of mantissa are plenty, and the ring is
	// most of the likelihood's resident size.
	ring   []float32
	sum    float64 // of ring, kept incrementally, recomputed each wrap
	mu, vr float64
	n      int32 // averages learnt, saturating (the weight is alpha long before)
	head   uint8
	k      uint8 // values in ring
}

// likelihoodParams are a likelihood's settings (window ≤
// maxLikelihoodWindow, init ≤ 1<<20).
type likelihoodParams struct {
	// weight is max(alpha, 1/n) with alpha = 1/memory, the weight of
	// the n-th average in the long-run mean and variance.
	weight  weightOf
	cap     float64
	logRisk float64 // ln(risk) < 0
	// skew is the Cornish–Fisher coefficient γ/6 of the average's
	// skewness γ (tail "skewed"), 0 for the Gaussian tail.
	skew float64
	// zThr is the standardised average whose tail is risk.
	zThr   float64
	init   int32
	window uint8
}

func newLikelihoodParams(risk float64, init, window, memory int, capDev float64, skewed bool) likelihoodParams {
	l := likelihoodParams{
		window: uint8(window), weight: newWeightOf(1 / float64(memory)), cap: capDev, init: int32(init),
		logRisk: math.Log(risk),
	}
	z := math.Sqrt2 * math.Erfinv(1-2*risk)
	if skewed {
		l.skew = halfNormalSkew / math.Sqrt(float64(window)) / 6
	}
	l.zThr = z + l.skew*(z*z-1)
	return l
}

func newLikelihood(p *likelihoodParams) likelihood {
	return likelihood{ring: make([]float32, p.window)}
}

func (l *likelihood) reset() {
	clear(l.ring)
	l.sum, l.head, l.k, l.n, l.mu, l.vr = 0, 0, 0, 0, 0, 0
}

func (l *likelihood) ready(p *likelihoodParams) bool { return l.n >= p.init }

// observe scores the deviation mag ≥ 0 and learns it. thr is the
// deviation that would have scored exactly 1 (+Inf when the cap makes 1
// unreachable, 0 when every deviation would have passed); both are valid
// only when ok, i.e. when the likelihood was ready before this sample.
//
// mag is not NaN and the bounds are positive, so fmin and fmax give the
// builtins' bits.
func (l *likelihood) observe(p *likelihoodParams, mag float64) (score, thr float64, ok bool) {
	a := float64(float32(fmin(mag, p.cap)))
	rest := l.sum // the other k−1 values
	if l.k == p.window {
		rest -= float64(l.ring[l.head]) // the oldest leaves
	} else {
		l.k++
	}
	kk := float64(l.k)
	avg := (rest + a) / kk
	var z float64
	if ok = l.ready(p); ok {
		// The builtin, branch-free: a quiet series' spread is at the
		// floor on and off.
		sd := max(math.Sqrt(l.vr), likelihoodSDFloor)
		z = cornishFisherZ((avg-l.mu)/sd, p.skew)
		thr = (l.mu+p.zThr*sd)*kk - rest
		if thr < 0 {
			thr = 0
		}
		// +Inf above the cap, chosen on the bits so that it compiles to
		// a conditional move: the cap is passed on and off, which a
		// branch would mispredict.
		b := math.Float64bits(thr)
		if thr > p.cap {
			b = infBits
		}
		thr = math.Float64frombits(b)
	}
	l.ring[l.head] = float32(a)
	l.sum = rest + a
	if l.head++; l.head == p.window {
		// Recompute the sum once a lap so rounding does not build up.
		l.head, l.sum = 0, 0
		for _, x := range l.ring[:l.k] {
			l.sum += float64(x)
		}
	}
	if l.n < math.MaxInt32 {
		l.n++
	}
	w := p.weight.at(int(l.n))
	d := avg - l.mu
	l.mu += w * d
	l.vr = (1 - w) * (l.vr + w*d*d)
	if ok {
		// Last: little is live across the call.
		score = logTail(z) / p.logRisk
	}
	return score, thr, ok
}

// cornishFisherZ inverts the Cornish–Fisher expansion to first order in
// the skewness, x = z + g·(z²−1) with g = γ/6 ≥ 0: the standard normal z
// with the same upper tail as the standardised value x of a variable of
// skewness γ. Below the expansion's turning point (x < −1/(4g) − g, far
// in the lower tail, where scores are ≈ 0 anyway) it returns that point.
func cornishFisherZ(x, g float64) float64 {
	// g·z² + z − (x+g) = 0, in the form that is stable as g → 0.
	c := x + g
	if g == 0 && math.Abs(c) < 0x1p1023 {
		// The Gaussian tail (the default): the expression below is then
		// 2c/(1+√1) = c exactly (doubling and halving are exact short of
		// overflow), so skip its square root and division.
		return c
	}
	if g > 0 {
		c = max(c, -0.25/g) // the turning point: 1+4gc = 0
	}
	return 2 * c / (1 + math.Sqrt(max(1+4*g*c, 0)))
}

func (l *likelihood) encode(e *enc) {
	e.u8(uint8(l.head))
	e.u8(uint8(l.k))
	e.u64(uint64(l.n))
	e.f64(l.mu)
	e.f64(l.vr)
	for _, x := range l.ring[:l.k] {
		e.u32(math.Float32bits(x))
	}
}

func (l *likelihood) decode(p *likelihoodParams, d *dec) {
	l.head = d.u8()
	l.k = d.u8()
	n := d.u64()
	if n > math.MaxInt32 {
		d.fail("likelihood count")
		return
	}
	l.n = int32(n)
	l.mu = d.f64()
	l.vr = d.f64()
	if l.k > p.window || l.head >= p.window || (l.k < p.window && l.head != l.k%p.window) {
		d.fail("likelihood ring")
		return
	}
	clear(l.ring)
	l.sum = 0
	for i := range int(l.k) {
		l.ring[i] = math.Float32frombits(d.u32())
		l.sum += float64(l.ring[i])
	}
}

// The Gaussian log-tail log(max(Q(z), tailFloor)), Q(z) = erfc(z/√2)/2,
// tabulated with its derivative on a grid of 1/logTailRes from logTailLo
// to logTailHi and interpolated by cubic Hermite: Log and Erfc were a
// quarter of the default model's time per sample. The interpolation
// error is below 1e-6 in log units (a score error of about 1e-7 at the
// default risk) except in the grid step where the tailFloor clamp
// starts, interpolated linearly, where scores are about 75 anyway.
const (
	logTailLo  = -8
	logTailHi  = 38 // log Q(38) < log(tailFloor): clamped beyond
	logTailRes = 16
)

// logTailTable holds log Q and its derivative at each grid point: an
// array rather than a slice, so lookups need no slice header load.
var logTailTable = func() (t [(logTailHi-logTailLo)*logTailRes + 1][2]float64) {
	for i := range t {
		z := logTailLo + float64(i)/logTailRes
		q := 0.5 * math.Erfc(z/math.Sqrt2)
		if q <= tailFloor {
			t[i] = [2]float64{math.Log(tailFloor), 0}
			continue
		}
		// d/dz log Q = −φ(z)/Q(z).
		phi := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		t[i] = [2]float64{math.Log(q), -phi / q / logTailRes}
	}
	return t
}()

func logTail(z float64) float64 {
	switch {
	case z <= logTailLo:
		return logTailTable[0][0]
	case z >= logTailHi || math.IsNaN(z):
		return logTailTable[len(logTailTable)-1][0]
	}
	x := (z - logTailLo) * logTailRes
	i := int(x)
	t := x - float64(i)
	a, b := &logTailTable[i], &logTailTable[i+1] // pointers: no copies
	if b[1] == 0 {
		// The clamp's kink: linear, so the tail stays monotone.
		return a[0] + t*(b[0]-a[0])
	}
	// Hermite basis on [0, 1]; derivatives are stored per grid step.
	t2, t3 := t*t, t*t*t
	return (2*t3-3*t2+1)*a[0] + (t3-2*t2+t)*a[1] + (-2*t3+3*t2)*b[0] + (t3-t2)*b[1]
}
