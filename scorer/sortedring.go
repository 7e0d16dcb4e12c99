package scorer

import "math"

// sortedRing is mad's window: a ring of the last len(vals) values plus
// the same values kept sorted. An update moves only the sorted values
// between the old value's rank and the new one's (one memmove), both
// ranks found by branch-free binary searches; the MAD's split between
// the values below and above the median is walked from the previous
// sample's, since it moves by a rank or two per sample.
//
// It computes the same values, bit for bit, as the window it replaced,
// which re-sorted with two memmoves and binary-searched the MAD afresh
// (the golden hashes of mad did not change).
type sortedRing struct {
	vals   []float64 // ring, oldest at head once full
	sorted []float64 // the first n values of vals, ascending
	head   int
	n      int
	split  int // the last MAD search's answer: a hint, not state
	block  int // see ranks: about √size
}

func newSortedRing(size int) sortedRing {
	block := 1
	for block*block < size {
		block *= 2
	}
	return sortedRing{vals: make([]float64, size), sorted: make([]float64, 0, size), block: block}
}

func (w *sortedRing) full() bool { return w.n == len(w.vals) }

func (w *sortedRing) reset() {
	clear(w.vals)
	w.sorted = w.sorted[:0]
	w.head, w.n, w.split = 0, 0, 0
}

// push adds v, dropping the oldest value when full.
func (w *sortedRing) push(v float64) {
	if !w.full() {
		// Ranked as ranks does, so that both agree on where a −0 goes.
		i := 0
		for _, x := range w.sorted {
			i += below(x, v)
		}
		w.sorted = append(w.sorted, 0)
		copy(w.sorted[i+1:], w.sorted[i:])
		w.sorted[i] = v
		w.vals[w.head] = v
		w.n++
	} else {
		old := w.vals[w.head]
		w.vals[w.head] = v
		s := w.sorted
		// i: old's rank; j: v's rank among the others (before equal
		// values, as a binary search over them would put it).
		i, j := w.ranks(old, v)
		switch {
		case j > i+1:
			t := s[i:j]
			copy(t, t[1:])
			t[len(t)-1] = v
		case j < i:
			t := s[j : i+1]
			copy(t[1:], t)
			t[0] = v
		default: // j == i or j == i+1: v takes old's place
			s[i] = v
		}
	}
	if w.head++; w.head == len(w.vals) {
		w.head = 0
	}
}

// ranks returns how many sorted values are below a and below b, in two
// rounds of independent comparisons rather than a binary search's chain
// of dependent ones: the last value of every block of w.block values
// tells which block holds the rank, then that block's values are
// counted. Both counts share the loops, so the CPU overlaps them.
func (w *sortedRing) ranks(a, b float64) (int, int) {
	s := w.sorted
	bs := w.block
	ba, bb := 0, 0
	for i := bs - 1; i < len(s); i += bs {
		x := s[i]
		ba += below(x, a)
		bb += below(x, b)
	}
	ra, rb := ba*bs, bb*bs
	ca, cb := ra, rb
	if ra+bs <= len(s) && rb+bs <= len(s) {
		// Both blocks whole: one loop, two at a time.
		xa, xb := s[ra:ra+bs], s[rb:rb+bs]
		xb = xb[:len(xa)]
		for k := range xa {
			ca += below(xa[k], a)
			cb += below(xb[k], b)
		}
		return ca, cb
	}
	for _, x := range s[ra:min(ra+bs, len(s))] {
		ca += below(x, a)
	}
	for _, x := range s[rb:min(rb+bs, len(s))] {
		cb += below(x, b)
	}
	return ca, cb
}

// below is x < v as 0 or 1 for finite x and v, from the sign of x − v:
// three instructions and no branch. (The one case where it and < differ,
// x = −0 and v = +0, only lets a zero's sign trade places with another
// zero's.)
func below(x, v float64) int { return int(math.Float64bits(x-v) >> 63) }

// searchSorted is the first index of a whose value is ≥ v (len(a) if
// none). The loop has a fixed trip count per length and a conditional
// move for a body, so it costs the same whatever v is.
func searchSorted(a []float64, v float64) int {
	n := len(a)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		base += half & -less(a[base+half-1], v)
		n -= half
	}
	return base + less(a[base], v)
}

// less is a < b as 0 or 1, which compiles to a flag set rather than a
// branch.
func less(a, b float64) int {
	if a < b {
		return 1
	}
	return 0
}

// shift adds delta to every value; order is preserved.
func (w *sortedRing) shift(delta float64) {
	for i := range w.vals[:w.n] {
		w.vals[i] += delta
	}
	for i := range w.sorted {
		w.sorted[i] += delta
	}
}

// at returns the i-th oldest value.
func (w *sortedRing) at(i int) float64 {
	start := 0
	if w.full() {
		start = w.head
	}
	if i += start; i >= len(w.vals) {
		i -= len(w.vals)
	}
	return w.vals[i]
}

// median of the sorted values; NaN when empty.
func (w *sortedRing) median() float64 {
	n := len(w.sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return w.sorted[n/2]
	}
	return (w.sorted[n/2-1] + w.sorted[n/2]) / 2
}

// madAt is the median absolute deviation from med, which must be the
// median. The k+1 smallest deviations (k the lower middle rank) are those
// of a run of k+1 adjacent sorted values around med, s[a : a+k+1]: the
// run moves left while the value just left of it is nearer to med than
// its last value. a is walked from the previous sample's, since it moves
// by a rank or two per sample. The k-th smallest deviation is the
// larger of the run's two ends' and, for an even window, the next one
// the nearer of the two values just outside it.
//
// The k-th smallest deviation has one value whichever run finds it (the
// one it replaced walked the runs below and above med separately), up to
// the sign of a zero, which mad treats as 0 either way. max and min are
// the builtins: which end is larger is a coin toss, which the builtins'
// branch-free code does not mispredict.
func (w *sortedRing) madAt(med float64) float64 {
	s := w.sorted
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	// s[ri:] ≥ med > s[:ri]; med sits in the middle, so walk from
	// there (down over values equal to it).
	ri := n / 2
	for ri > 0 && s[ri-1] >= med {
		ri--
	}
	for ri < n && s[ri] < med {
		ri++
	}
	k := (n - 1) / 2
	// The run takes i ≤ ri values below med and k+1−i ≤ n−ri above it.
	lo, hi := max(ri-k-1, 0), min(ri, n-k-1)
	a := min(max(w.split, lo), hi)
	for a > lo && med-s[a-1] < s[a+k]-med {
		a--
	}
	for a < hi && !(med-s[a] < s[a+k+1]-med) {
		a++
	}
	w.split = a
	kth := max(med-s[a], s[a+k]-med)
	if n%2 == 1 {
		return kth
	}
	var next float64
	switch {
	case a == 0:
		next = s[a+k+1] - med
	case a+k+1 == n:
		next = med - s[a-1]
	default:
		next = min(med-s[a-1], s[a+k+1]-med)
	}
	return (kth + next) / 2
}

// absDevSum is the sum of the absolute deviations from med, in sorted
// order. Values equal to med add exactly zero, so the sum skips their
// run: it is over half the window when the MAD is 0, the only time mad
// asks.
func (w *sortedRing) absDevSum(med float64) float64 {
	s := w.sorted
	lo := searchSorted(s, med)
	hi := lo
	for hi < len(s) && s[hi] == med {
		hi++
	}
	var sum float64
	for _, x := range s[:lo] {
		sum += math.Abs(x - med)
	}
	for _, x := range s[hi:] {
		sum += math.Abs(x - med)
	}
	return sum
}

// appendState and restoreState save the values oldest first, the layout
// of window's (stats.go), so states of either read the same.
func (w *sortedRing) appendState(b []byte) ([]byte, error) {
	e := enc{b: b}
	e.u32(uint32(w.n))
	for i := range w.n {
		e.f64(w.at(i))
	}
	return e.b, nil
}

// restoreState rebuilds the window; a failed restore leaves it unchanged.
func (w *sortedRing) restoreState(b []byte) error {
	d := dec{b: b}
	n := int(d.u32())
	if d.err == nil && n > len(w.vals) {
		d.fail("window length")
	}
	tmp := newSortedRing(len(w.vals))
	for range n {
		if d.err != nil {
			break
		}
		tmp.push(d.f64())
	}
	if err := d.finish(); err != nil {
		return err
	}
	*w = tmp
	return nil
}
