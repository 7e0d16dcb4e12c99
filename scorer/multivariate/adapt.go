package multivariate

import (
	"fmt"
	"math"
	"slices"
)

// livePeaks bounds the peaks a liveThreshold keeps: the tail is fitted to
// the most recent livePeaks excesses (at the usual 2 % of rows above t,
// the last ~50,000 rows), so its state stays bounded on a detector that
// scores for months.
const livePeaks = 1024

// liveRefit is how many rows may pass without a new peak before the
// threshold is recomputed for the grown row count.
const liveRefit = 256

// liveThreshold continues the detector's calibration on its live scores,
// as SPOT's online step does (Siffer et al., KDD 2017): a score above the
// threshold z is an anomaly and is not learnt; a score between the
// initial quantile t and z is a new peak and z is refitted; every score
// counts in n. The held-out rows the detector is calibrated on are fewer
// and were scored by a model fitted without them, so their tail is only
// a first estimate: live rows scored by the refitted model are often
// quieter (z then comes down to their own tail) or noisier (z goes up
// with the peaks they add).
//
// The peaks are kept sorted (for the probability-weighted-moments fit) and
// in arrival order (to forget the oldest once livePeaks are held); n then
// counts the rows since the oldest kept peak arrived, so N_t/n stays the
// rate of peaks in the window they cover.
type liveThreshold struct {
	risk, margin float64
	t            float64 // initial threshold: peaks are excesses over it
	z            float64 // current threshold of the combined score
	seen         int64   // scores counted, calibration rows included

	sorted []float64 // excesses over t, ascending
	ring   []float64 // the same excesses in arrival order, from head
	at     []int64   // seen when each ring entry arrived
	head   int
	stale  int // rows since z was last computed
}

// start sets the initial state from the calibration scores comb (in
// time order): z is POT's threshold of them, and their peaks are the
// first ones.
func (l *liveThreshold) start(p POT, comb []float64) {
	p = p.withDefaults()
	*l = liveThreshold{risk: p.Risk, margin: p.Margin, z: p.Threshold(comb)}
	s := finite(comb)
	if len(s) == 0 {
		return
	}
	l.t = quantile(slices.Sorted(slices.Values(s)), p.InitQuantile)
	l.sorted = make([]float64, 0, livePeaks)
	l.ring = make([]float64, 0, livePeaks)
	l.at = make([]int64, 0, livePeaks)
	for _, v := range s {
		if v > l.t {
			l.add(v - l.t)
		}
		l.seen++
	}
}

// observe counts the combined score v, learns it when it is a peak and
// not an anomaly, and returns the threshold v was judged against.
func (l *liveThreshold) observe(v float64) float64 {
	z := l.z
	l.seen++
	l.stale++
	switch {
	case !(v > l.t) || v > z || l.sorted == nil:
		// Routine, an anomaly (never learnt), or NaN; or no tail to
		// follow (a calibration with no finite scores).
		if l.stale >= liveRefit && l.sorted != nil {
			l.refit()
		}
	default:
		l.add(v - l.t)
		l.refit()
	}
	return z
}

// add stores excess e, forgetting the oldest peak when full.
func (l *liveThreshold) add(e float64) {
	if len(l.ring) == livePeaks {
		old := l.ring[l.head]
		i, _ := slices.BinarySearch(l.sorted, old)
		l.sorted = slices.Delete(l.sorted, i, i+1)
		l.ring[l.head], l.at[l.head] = e, l.seen
		l.head = (l.head + 1) % livePeaks
	} else {
		l.ring = append(l.ring, e)
		l.at = append(l.at, l.seen)
	}
	i, _ := slices.BinarySearch(l.sorted, e)
	l.sorted = slices.Insert(l.sorted, i, e)
}

// refit recomputes z from the kept peaks and the rows they cover. Too few
// peaks for a fit keep the last z.
func (l *liveThreshold) refit() {
	l.stale = 0
	n := l.seen
	if len(l.ring) == livePeaks {
		n -= l.at[l.head] // the oldest kept peak
	}
	sigma, xi, ok := fitGPD(l.sorted, 0)
	if !ok || n <= 0 {
		return
	}
	r := l.risk * float64(n) / float64(len(l.sorted))
	if r >= 1 {
		return
	}
	z := gpdQuantile(l.t, sigma, xi, r) * l.margin
	if z > 0 && !math.IsInf(z, 0) && z >= l.t*l.margin {
		l.z = z
	}
}

// encode saves the learnt state; risk and margin come from the config.
func (l *liveThreshold) encode(e *encoder) {
	e.f64(l.t)
	e.f64(l.z)
	e.int(int(l.seen))
	e.int(l.stale)
	e.int(b2i(l.sorted != nil))
	// The ring from its oldest entry, so decode needs no head.
	e.int(len(l.ring))
	for k := range l.ring {
		i := (l.head + k) % len(l.ring)
		e.f64(l.ring[i])
		e.int(int(l.at[i]))
	}
}

// decode restores what encode saved, with the risk and margin of p, and
// checks it.
func (l *liveThreshold) decode(d *decoder, p POT) error {
	p = p.withDefaults()
	n := liveThreshold{risk: p.Risk, margin: p.Margin}
	n.t, n.z = d.f64(), d.f64()
	n.seen, n.stale = int64(d.int()), d.int()
	learning := d.int()
	np := d.length(16)
	if d.err != nil {
		return d.err
	}
	if learning != 0 && learning != 1 {
		return fmt.Errorf("%w: live threshold flag %d", ErrCorrupt, learning)
	}
	if np > livePeaks || (learning == 0 && np > 0) {
		return fmt.Errorf("%w: %d live peaks", ErrCorrupt, np)
	}
	if !positive(n.z) || math.IsNaN(n.t) || math.IsInf(n.t, 0) || n.seen < 0 || n.stale < 0 {
		return fmt.Errorf("%w: live threshold t %v z %v after %d rows", ErrCorrupt, n.t, n.z, n.seen)
	}
	if learning == 1 {
		n.sorted = make([]float64, 0, livePeaks)
		n.ring = make([]float64, 0, livePeaks)
		n.at = make([]int64, 0, livePeaks)
	}
	prev := int64(0)
	for range np {
		e, at := d.f64(), int64(d.int())
		if d.err != nil {
			return d.err
		}
		if !(e > 0) || math.IsInf(e, 0) || at < prev || at > n.seen {
			return fmt.Errorf("%w: live peak %v at row %d", ErrCorrupt, e, at)
		}
		prev = at
		n.ring = append(n.ring, e)
		n.at = append(n.at, at)
		i, _ := slices.BinarySearch(n.sorted, e)
		n.sorted = slices.Insert(n.sorted, i, e)
	}
	*l = n
	return nil
}
