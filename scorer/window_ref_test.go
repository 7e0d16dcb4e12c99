package scorer

import "math"

// window is the straightforward sorted window mad used before its
// sortedRing: kept as the reference its tests and benchmark compare with.

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
