package rca

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Event–curve correlation after Luo et al., "Correlating events with time
// series for incident diagnosis" (KDD 2014), as NetEase Games' monitoring
// team applied it: rather than comparing two curves, compare one curve
// with one event. Around the event time take the subsequence just before
// (front) and just after (rear), and draw random subsequences from the
// curve's history. A two-sample test tells whether front or rear differs
// from the random ones:
//
//   - front differs: the curve changed before the event, so its change may
//     have led to the event (a cause candidate);
//   - only rear differs: the event led to the curve's change (an effect);
//   - neither: the curve is unrelated.
//
// One random draw may be unlucky (it may hit a burst of the normal
// history), so the test is repeated over several draws and the outcomes
// are merged: the share of draws that reject, and the mean size of the
// shift in those draws. Metrics are autocorrelated, which the test does
// not assume, so any two stretches of a drifting series may differ: each
// draw also compares two random subsequences with each other, and the
// share of those null comparisons that reject is taken off the shares of
// the front and rear ones.
//
// The two-sample test is Mann–Whitney's U (rank based, so robust to
// outliers and to any monotone scale of the series) with the normal
// approximation and tie correction.

// Relation is how a series relates to an event.
type Relation int

// Relations between a series and an event.
const (
	// Unrelated: neither subsequence differs from the random ones.
	Unrelated Relation = iota
	// Leads: the series changed before the event (a cause candidate).
	Leads
	// Follows: the series changed only after the event (an effect).
	Follows
)

// String names the relation.
func (r Relation) String() string {
	switch r {
	case Leads:
		return "leads"
	case Follows:
		return "follows"
	default:
		return "unrelated"
	}
}

// CorrelationOptions tune the event–curve correlation.
type CorrelationOptions struct {
	// Window is the length of the front, rear and random subsequences in
	// samples (default 30). It shrinks to fit short series.
	Window int
	// Draws is how many random subsequences are compared (default 20).
	Draws int
	// Z is the two-sided critical value of the test (default 2.576,
	// a 1% level).
	Z float64
	// FollowWeight discounts series that changed only after the event
	// (default 0.5): they are more likely effects than causes.
	FollowWeight float64
	// Seed makes the draws reproducible.
	Seed uint64
}

func (o *CorrelationOptions) defaults() {
	if o.Window <= 0 {
		o.Window = 30
	}
	if o.Draws <= 0 {
		o.Draws = 20
	}
	if o.Z <= 0 {
		o.Z = 2.576
	}
	if o.FollowWeight <= 0 {
		o.FollowWeight = 0.5
	}
}

// minWindow is the shortest subsequence the test is run on: the normal
// approximation of U needs a handful of samples on each side.
const minWindow = 5

// EventCorrelation is the merged outcome for one series.
type EventCorrelation struct {
	Relation Relation
	// Lead and Follow are the shares of draws in which the front (rear)
	// subsequence differed from the random one.
	Lead, Follow float64
	// LeadShift and FollowShift are the mean shifts of the front (rear)
	// median from the random median, in robust spreads of the history,
	// over the draws that differed.
	LeadShift, FollowShift float64
}

// Score ranks related series: the evidence that the series moved, scaled
// by how far it moved, with a discount for series that only followed.
func (c EventCorrelation) Score(followWeight float64) float64 {
	return c.Lead*c.LeadShift + followWeight*c.Follow*c.FollowShift
}

// correlator holds the scratch space of one run, so scoring many series
// does not allocate.
type correlator struct {
	opts   CorrelationOptions
	rng    *rand.Rand
	pcg    *rand.PCG
	pairs  []rankPair
	sample []float64
	sub    []float64
}

type rankPair struct {
	v float64
	g int8 // 0: first sample, 1: second
}

func newCorrelator(opts CorrelationOptions) *correlator {
	opts.defaults()
	pcg := rand.NewPCG(opts.Seed, 0x5eed)
	return &correlator{
		opts:   opts,
		pcg:    pcg,
		rng:    rand.New(pcg),
		pairs:  make([]rankPair, 0, 2*opts.Window),
		sample: make([]float64, 0, opts.Window),
		sub:    make([]float64, 0, opts.Window),
	}
}

// correlate relates the series x to an event at index split (the first
// sample at or after the event). history is the number of samples before
// split that may serve as random subsequences; scale is the series'
// robust spread before the event. key seeds the draws of this series so
// results do not depend on the order series are scored in.
func (c *correlator) correlate(x []float64, split int, scale float64, key uint64) EventCorrelation {
	var out EventCorrelation
	k := c.opts.Window
	k = min(k, len(x)-split, split/2)
	if k < minWindow || !(scale > 0) {
		return out
	}
	front := x[split-k : split]
	rear := x[split : split+k]
	frontMed := c.median(front)
	rearMed := c.median(rear)
	// Random subsequences come from the history that does not overlap the
	// front one, when there is enough of it.
	maxStart := split - 2*k
	if maxStart < 0 {
		maxStart = split - k
	}
	c.pcg.Seed(c.opts.Seed, key)
	null := 0.0
	for range c.opts.Draws {
		start := c.rng.IntN(maxStart + 1)
		random := x[start : start+k]
		randMed := c.median(random)
		if math.IsNaN(randMed) {
			continue
		}
		other := c.rng.IntN(maxStart + 1)
		if c.differ(x[other:other+k], random) {
			null++
		}
		if c.differ(front, random) {
			out.Lead++
			out.LeadShift += math.Abs(frontMed-randMed) / scale
		}
		if c.differ(rear, random) {
			out.Follow++
			out.FollowShift += math.Abs(rearMed-randMed) / scale
		}
	}
	if out.Lead > 0 {
		out.LeadShift /= out.Lead
	}
	if out.Follow > 0 {
		out.FollowShift /= out.Follow
	}
	draws := float64(c.opts.Draws)
	out.Lead = max(0, out.Lead-null) / draws
	out.Follow = max(0, out.Follow-null) / draws
	switch {
	case out.Lead >= relatedShare:
		out.Relation = Leads
	case out.Follow >= relatedShare:
		out.Relation = Follows
	}
	return out
}

func (c *correlator) median(x []float64) float64 {
	c.sub = finite(c.sub, x)
	if len(c.sub) == 0 {
		return math.NaN()
	}
	slices.Sort(c.sub)
	return quantileSorted(c.sub, 0.5)
}

// differ runs Mann–Whitney's U test of a against b.
func (c *correlator) differ(a, b []float64) bool {
	c.pairs = c.pairs[:0]
	for _, v := range a {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			c.pairs = append(c.pairs, rankPair{v, 0})
		}
	}
	n1 := len(c.pairs)
	for _, v := range b {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			c.pairs = append(c.pairs, rankPair{v, 1})
		}
	}
	n2 := len(c.pairs) - n1
	if n1 < minWindow || n2 < minWindow {
		return false
	}
	z := mannWhitneyZ(c.pairs, n1, n2)
	return math.Abs(z) > c.opts.Z
}

// mannWhitneyZ sorts pairs and returns the standardised U statistic of
// group 0 against group 1 (positive when group 0 is larger).
func mannWhitneyZ(pairs []rankPair, n1, n2 int) float64 {
	slices.SortFunc(pairs, func(x, y rankPair) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	n := len(pairs)
	var rankSum, tieTerm float64
	for i := 0; i < n; {
		j := i + 1
		for j < n && pairs[j].v == pairs[i].v {
			j++
		}
		// Tied values share the mean of their ranks (1-based).
		rank := float64(i+j+1) / 2
		for t := i; t < j; t++ {
			if pairs[t].g == 0 {
				rankSum += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieTerm += t*t*t - t
		}
		i = j
	}
	f1, f2, fn := float64(n1), float64(n2), float64(n)
	u := rankSum - f1*(f1+1)/2
	mean := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((fn + 1) - tieTerm/(fn*(fn-1)))
	if variance <= 0 {
		return 0
	}
	return (u - mean) / math.Sqrt(variance)
}

// relatedShare is the share of draws, beyond the null comparisons, that
// must reject for a subsequence to count as changed.
const relatedShare = 0.3
