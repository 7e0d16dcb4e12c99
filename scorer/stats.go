package scorer

import "math"

// zFloor is the smallest SPOT threshold for z-score cores: a series
// that sat on one value while SPOT learnt its tail would otherwise get a
// threshold near 0 and score any later move as a huge anomaly. Three
// spreads is the classic rule and below the z of every practical risk.
const zFloor = 3

// maxDev caps deviations so a series that was perfectly flat yields a
// large finite score rather than +Inf when it moves.
const maxDev = 1e9

// scaleFloor is the smallest spread a core divides by: a flat series has
// zero spread, and any change of it is then scored as very large but
// finite. The relative part keeps float noise on large values quiet.
func scaleFloor(level float64) float64 { return 1e-9 + 1e-6*math.Abs(level) }

// ratio is (v-mu)/sd capped to ±maxDev.
func ratio(v, mu, sd float64) float64 {
	z := (v - mu) / sd
	return min(max(z, -maxDev), maxDev)
}

// fmin, fmax and fclamp are the builtin min and max on floats for the
// hot paths, at one comparison instead of about seven instructions: the
// builtins also propagate a NaN in either operand and put −0 below +0.
// They return the same bits as the builtins when neither operand is NaN
// and the two are not zeros of opposite signs; y (lim) must never be
// NaN, and a NaN x comes out as a NaN. Callers say why their operands
// qualify.
func fmin(x, y float64) float64 {
	if y <= x {
		return y
	}
	return x
}

func fmax(x, y float64) float64 {
	if y >= x {
		return y
	}
	return x
}

// fclamp is min(max(x, −lim), lim) for lim > 0.
func fclamp(x, lim float64) float64 { return fmin(fmax(x, -lim), lim) }

// window is a ring of the last len(vals) values plus the same values kept
// sorted, so order statistics cost O(log w) to find and O(w) memmove to
// update, with no allocation.
type window struct {
	vals   []float64 // ring, oldest at head once full
	sorted []float64 // the first n values of vals, ascending
	head   int
	n      int
}

func newWindow(size int) window {
	return window{vals: make([]float64, size), sorted: make([]float64, 0, size)}
}

func (w *window) full() bool { return w.n == len(w.vals) }

func (w *window) reset() {
	clear(w.vals)
	w.sorted = w.sorted[:0]
	w.head, w.n = 0, 0
}

// push adds v, dropping the oldest value when full.
func (w *window) push(v float64) {
	if w.full() {
		old := w.vals[w.head]
		i := lowerBound(w.sorted, old)
		copy(w.sorted[i:], w.sorted[i+1:])
		w.sorted = w.sorted[:len(w.sorted)-1]
	} else {
		w.n++
	}
	w.vals[w.head] = v
	w.head = (w.head + 1) % len(w.vals)
	i := lowerBound(w.sorted, v)
	w.sorted = append(w.sorted, 0)
	copy(w.sorted[i+1:], w.sorted[i:])
	w.sorted[i] = v
}

// at returns the i-th oldest value.
func (w *window) at(i int) float64 {
	start := 0
	if w.full() {
		start = w.head
	}
	return w.vals[(start+i)%len(w.vals)]
}

// shift adds delta to every value; order is preserved. Values sit in
// vals[:n] both before and after the ring wraps.
func (w *window) shift(delta float64) {
	for i := range w.vals[:w.n] {
		w.vals[i] += delta
	}
	for i := range w.sorted {
		w.sorted[i] += delta
	}
}

func lowerBound(a []float64, v float64) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// median of the sorted values; NaN when empty.
func (w *window) median() float64 {
	n := len(w.sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return w.sorted[n/2]
	}
	return (w.sorted[n/2-1] + w.sorted[n/2]) / 2
}

// mad is the median absolute deviation from med. The absolute deviations
// form two sorted runs walking outward from med (below it, med − s[ri−1−i];
// above it, s[ri+j] − med), so the middle ranks are found by a binary
// search over how many come from each run: O(log w), no allocation.
func (w *window) mad(med float64) float64 {
	s := w.sorted
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	ri := lowerBound(s, med) // s[ri:] >= med > s[:ri]
	if n%2 == 1 {
		return kthDev(s, ri, med, n/2)
	}
	return (kthDev(s, ri, med, n/2-1) + kthDev(s, ri, med, n/2)) / 2
}

// kthDev is the k-th smallest (0-based) of |s[i] − med| given the split ri.
func kthDev(s []float64, ri int, med float64, k int) float64 {
	na, nb := ri, len(s)-ri
	a := func(i int) float64 { return med - s[ri-1-i] } // ascending in i
	b := func(j int) float64 { return s[ri+j] - med }   // ascending in j
	// Take i from a and k+1−i from b: find the i where both runs agree.
	lo, hi := max(0, k+1-nb), min(k+1, na)
	for lo < hi {
		i := int(uint(lo+hi) >> 1)
		if a(i) < b(k-i) { // a(i) must be among the k+1 smallest
			lo = i + 1
		} else {
			hi = i
		}
	}
	i, j := lo, k+1-lo
	switch {
	case i == 0:
		return b(j - 1)
	case j == 0:
		return a(i - 1)
	}
	return max(a(i-1), b(j-1))
}

func (w *window) encode(e *enc) {
	e.u32(uint32(w.n))
	for i := range w.n {
		e.f64(w.at(i))
	}
}

// decode restores a window of the same size; the sorted copy is rebuilt.
func (w *window) decode(d *dec) {
	n := int(d.u32())
	if d.err != nil {
		return
	}
	if n > len(w.vals) {
		d.fail("window length")
		return
	}
	w.reset()
	for range n {
		w.push(d.f64())
	}
}

// roughnessAlpha sets the memory of roughness (about 500 samples).
const roughnessAlpha = 1.0 / 256

// roughnessWeight is max(roughnessAlpha, 1/n) without the division once
// the alpha wins.
var roughnessWeight = newWeightOf(roughnessAlpha)

// roughnessShare is the share of the series' typical step that a core's
// spread may not go below.
var roughnessShare = 0.5

// roughness tracks the long-run mean absolute step |x(t) − x(t−1)| of a
// series. A core's spread can collapse to ~0 on a series that sits on one
// value between bursts (disk writes, error counts); the next burst would
// then score in the millions, and scores would no longer compare across
// series. Flooring the spread at a share of the typical step keeps such
// scores in proportion to how the series usually moves.
type roughness struct {
	n          int
	prev, mean float64
}

// update learns v and returns the spread floor before it.
func (r *roughness) update(v float64) float64 {
	floor := roughnessShare * r.mean
	if r.n > 0 {
		a := roughnessWeight.at(r.n)
		r.mean += a * (math.Abs(v-r.prev) - r.mean)
	}
	r.n++
	r.prev = v
	return floor
}

// apply rescales an estimate whose spread is below floor.
func (r *roughness) apply(est Estimate, floor float64) Estimate {
	if floor > 0 && est.Scale > 0 && est.Scale < floor {
		est.Dev *= est.Scale / floor
		est.Scale = floor
	}
	return est
}

func (r *roughness) encode(e *enc) {
	e.u64(uint64(r.n))
	e.f64(r.prev)
	e.f64(r.mean)
}

func (r *roughness) decode(d *dec) {
	r.n = int(d.u64())
	r.prev = d.f64()
	r.mean = d.f64()
}

// appendState and restoreState save and restore a core whose whole state
// is its window (mad, sr). A failed restore leaves the window unchanged.
func (w *window) appendState(b []byte) ([]byte, error) {
	e := enc{b: b}
	w.encode(&e)
	return e.b, nil
}

func (w *window) restoreState(b []byte) error {
	d := dec{b: b}
	tmp := newWindow(len(w.vals))
	tmp.decode(&d)
	if err := d.finish(); err != nil {
		return err
	}
	*w = tmp
	return nil
}
