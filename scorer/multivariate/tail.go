package multivariate

import (
	"context"
	"fmt"
	"math"
	"sort"
)

func init() {
	Register("tail", "Per-dimension tail model: every dimension gets its own two-sided tail probability p from the training window (empirical in the body, a generalised Pareto fit beyond the init_quantile quantile, as SPOT does, so values beyond the training range keep rising), and its evidence is −ln p, 0 at the median. A row scores the sum of the top evidences (top 1: the most surprising dimension). A dimension's contribution is its evidence, so the ranking follows how far each dimension is out of its own normal range.",
		[]Param{
			{"init_quantile", "0.98", "quantile above which each tail is fitted with a generalised Pareto distribution"},
			{"top", "3", "number of largest per-dimension evidences summed into the score (0: all, as ECOD does)"},
			{"cap", "30", "bound on one dimension's evidence −ln p, so that one dimension far beyond anything seen cannot make the score unbounded"},
			{"smoothing", "1", "EWMA weight of the newest score in the detector (1: none, as a single row far out in its own tail is the evidence; 0: the detector's smoothing)"},
		},
		func(p Params) (Model, error) {
			q, err := p.Float("init_quantile")
			if err != nil {
				return nil, err
			}
			top, err := p.Int("top")
			if err != nil {
				return nil, err
			}
			c, err := p.Float("cap")
			if err != nil {
				return nil, err
			}
			sm, err := p.Float("smoothing")
			if err != nil {
				return nil, err
			}
			if !(q > 0.5 && q < 1) || top < 0 || !(c > 0) || !(sm >= 0 && sm <= 1) {
				return nil, fmt.Errorf("need 0.5 < init_quantile < 1, top >= 0, cap > 0, 0 <= smoothing <= 1")
			}
			return &Tail{InitQuantile: q, Top: top, Cap: c, Smoothing: sm}, nil
		})
}

// tailKnots is the bodies' log survival function of one tail: ln P(X ≥ x)
// interpolated linearly between knots x[k] (ascending), then a GPD beyond
// u = x[last].
type tailFit struct {
	x, lnp []float64 // knots: ln P(X ≥ x), u = x[last]
	lnpu   float64   // ln P(X > u)
	sigma  float64   // GPD scale of the excesses over u
	xi     float64   // GPD shape, ≥ 0 (bounded tails are not extrapolated to a hard end)
}

// fitTail fits the upper tail of sorted values s (ascending).
func fitTail(s []float64, q float64) tailFit {
	n := len(s)
	var f tailFit
	// Knots at the median and quantiles halving the tail probability, up to
	// the init quantile u; each carries the empirical ln P(X ≥ v).
	ui := min(int(q*float64(n-1)), n-1)
	u := s[ui]
	surv := func(v float64) float64 { // P(X ≥ v)
		return float64(n-sort.SearchFloat64s(s, v)) / float64(n)
	}
	for p := 0.5; ; p /= 2 {
		v := s[min(int((1-p)*float64(n-1)), n-1)]
		if v >= u {
			break
		}
		if k := len(f.x); k > 0 && v <= f.x[k-1] {
			continue
		}
		f.x = append(f.x, v)
		f.lnp = append(f.lnp, math.Log(surv(v)))
	}
	// Excesses strictly over u. Beyond u the survival starts from the share
	// of excesses (the mass at u itself is not beyond it); when nothing
	// exceeds u it starts from P(X ≥ u), so that a slight drift past the
	// training maximum is not at once a rare event.
	i := sort.SearchFloat64s(s, math.Nextafter(u, math.Inf(1)))
	y := s[i:]
	f.x = append(f.x, u)
	f.lnp = append(f.lnp, math.Log(surv(u)))
	f.lnpu = f.lnp[len(f.lnp)-1]
	if len(y) > 0 {
		f.lnpu = math.Log(float64(len(y)) / float64(n))
	}
	f.sigma, f.xi = 1, 0
	if sigma, xi, ok := fitGPD(y, u); ok {
		// A bounded fitted tail (ξ < 0) is not trusted to be a hard bound:
		// past the training range the evidence rises exponentially with the
		// fitted scale, which is wider than the mean excess, so drift a
		// little past the range costs little.
		f.sigma, f.xi = sigma, max(xi, 0)
	} else if len(y) > 0 {
		var m float64
		for _, v := range y {
			m += v - u
		}
		f.sigma = m / float64(len(y))
	}
	// The excesses are in standardised units: a tail steeper than one unit
	// per e-fold would make a slight drift look impossible.
	f.sigma = max(f.sigma, 1)
	return f
}

// lnSurv is ln P(X ≥ x), ≤ 0.
func (f *tailFit) lnSurv(x float64) float64 {
	k := len(f.x) - 1
	if x > f.x[k] {
		e := (x - f.x[k]) / f.sigma
		if f.xi < 1e-9 {
			return f.lnpu - e
		}
		return f.lnpu - math.Log1p(f.xi*e)/f.xi
	}
	if x <= f.x[0] {
		return 0
	}
	for i := 1; i <= k; i++ {
		if x <= f.x[i] {
			t := (x - f.x[i-1]) / (f.x[i] - f.x[i-1])
			return f.lnp[i-1] + t*(f.lnp[i]-f.lnp[i-1])
		}
	}
	return f.lnp[k]
}

// fitGPD fits a generalised Pareto distribution to the excesses of y (all
// > u, ascending) by probability-weighted moments (Hosking & Wallis 1987).
func fitGPD(y []float64, u float64) (sigma, xi float64, ok bool) {
	if len(y) < 10 {
		return 0, 0, false
	}
	var a0, a1 float64
	n := float64(len(y))
	for k, v := range y {
		e := v - u
		a0 += e
		a1 += e * (1 - (float64(k+1)-0.35)/n)
	}
	a0 /= n
	a1 /= n
	den := a0 - 2*a1
	if !(den > 0) {
		return 0, 0, false
	}
	kH := a0/den - 2 // Hosking's k = −ξ
	sigma = 2 * a0 * a1 / den
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return 0, 0, false
	}
	return sigma, -kH, true
}

// Tail scores a row by how far each dimension is in its own training
// tails.
type Tail struct {
	InitQuantile float64
	Top          int
	Cap          float64
	// Smoothing is the detector's EWMA weight for this model's score.
	Smoothing float64

	d      int
	up, lo []tailFit // lo is fitted on −x
	ev     []float64 // scratch: evidences
	best   []float64 // scratch: top evidences
}

// Dims implements Model.
func (m *Tail) Dims() int { return m.d }

// ScoreSmoothing implements SelfSmoothing.
func (m *Tail) ScoreSmoothing() float64 { return m.Smoothing }

// Fit implements Model.
func (m *Tail) Fit(ctx context.Context, X [][]float64) error {
	if len(X) < 2 {
		return fmt.Errorf("tail: need at least 2 rows, have %d", len(X))
	}
	d := len(X[0])
	col := make([]float64, len(X))
	m.up, m.lo = make([]tailFit, d), make([]tailFit, d)
	for j := range d {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, r := range X {
			if len(r) != d {
				return fmt.Errorf("tail: row %d has %d values, want %d", i, len(r), d)
			}
			col[i] = r[j]
		}
		sort.Float64s(col)
		m.up[j] = fitTail(col, m.InitQuantile)
		for i, k := 0, len(col)-1; i < k; i, k = i+1, k-1 {
			col[i], col[k] = col[k], col[i]
		}
		for i := range col {
			col[i] = -col[i]
		}
		m.lo[j] = fitTail(col, m.InitQuantile)
	}
	m.d = d
	m.alloc()
	return nil
}

func (m *Tail) alloc() {
	m.ev = make([]float64, m.d)
	m.best = make([]float64, max(m.Top, 1))
}

// Evidence is −ln of the two-sided tail probability 2·min(P(X ≥ x),
// P(X ≤ x)), floored at 0 and capped.
func (m *Tail) evidence(j int, x float64) float64 {
	l := min(m.up[j].lnSurv(x), m.lo[j].lnSurv(-x))
	return min(max(-l-math.Ln2, 0), m.Cap)
}

// Score implements Model.
func (m *Tail) Score(row, contrib []float64) float64 {
	if m.d == 0 {
		return 0
	}
	var sum float64
	for j, x := range row[:m.d] {
		e := m.evidence(j, x)
		m.ev[j] = e
		sum += e
		if contrib != nil {
			contrib[j] = e
		}
	}
	if m.Top == 0 || m.Top >= m.d {
		return sum
	}
	// Sum of the Top largest by insertion into a small sorted buffer.
	b := m.best[:m.Top]
	clear(b)
	for _, e := range m.ev {
		if e <= b[len(b)-1] {
			continue
		}
		i := len(b) - 1
		for i > 0 && b[i-1] < e {
			b[i] = b[i-1]
			i--
		}
		b[i] = e
	}
	var s float64
	for _, e := range b {
		s += e
	}
	return s
}

func (f *tailFit) encode(e *encoder) {
	e.floats(f.x)
	e.floats(f.lnp)
	e.f64(f.lnpu)
	e.f64(f.sigma)
	e.f64(f.xi)
}

func (f *tailFit) decode(d *decoder) {
	f.x, f.lnp = d.floats(), d.floats()
	f.lnpu = d.f64()
	f.sigma, f.xi = d.f64(), d.f64()
	if d.err != nil {
		return
	}
	if len(f.x) == 0 || len(f.x) != len(f.lnp) || !(f.sigma > 0) || !(f.lnpu <= 0) || !(f.xi >= 0) || math.IsInf(f.sigma, 0) || math.IsInf(f.xi, 0) {
		d.err = fmt.Errorf("%w: tail knots", ErrCorrupt)
		return
	}
	for i := range f.x {
		if math.IsNaN(f.x[i]) || math.IsNaN(f.lnp[i]) || f.lnp[i] > 0 || (i > 0 && f.x[i] <= f.x[i-1]) {
			d.err = fmt.Errorf("%w: tail knots", ErrCorrupt)
			return
		}
	}
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *Tail) MarshalBinary() ([]byte, error) {
	var e encoder
	e.str("tail/1")
	e.f64(m.InitQuantile)
	e.int(m.Top)
	e.f64(m.Cap)
	e.f64(m.Smoothing)
	e.int(m.d)
	for j := range m.d {
		m.up[j].encode(&e)
		m.lo[j].encode(&e)
	}
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (m *Tail) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.tag("tail/1")
	var n Tail
	n.InitQuantile, n.Top, n.Cap, n.Smoothing = d.f64(), d.int(), d.f64(), d.f64()
	n.d = d.length(64)
	if d.err == nil && (n.Top < 0 || !(n.Cap > 0) || !(n.Smoothing >= 0 && n.Smoothing <= 1)) {
		return fmt.Errorf("%w: tail parameters", ErrCorrupt)
	}
	n.up, n.lo = make([]tailFit, n.d), make([]tailFit, n.d)
	for j := range n.d {
		n.up[j].decode(&d)
		n.lo[j].decode(&d)
	}
	if err := d.finish(); err != nil {
		return err
	}
	n.alloc()
	*m = n
	return nil
}
