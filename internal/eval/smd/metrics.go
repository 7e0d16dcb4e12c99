package smd

import (
	"math"
	"slices"
	"sort"
)

// PRF is a confusion count with its precision, recall and F1 (0 when
// undefined).
type PRF struct {
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// NewPRF computes the ratios from counts.
func NewPRF(tp, fp, fn int) PRF {
	r := PRF{TP: tp, FP: fp, FN: fn}
	if tp+fp > 0 {
		r.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r.Recall = float64(tp) / float64(tp+fn)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r
}

// Add pools two counts.
func (a PRF) Add(b PRF) PRF { return NewPRF(a.TP+b.TP, a.FP+b.FP, a.FN+b.FN) }

// Confusion counts pred against label point by point.
func Confusion(pred, label []bool) PRF {
	var tp, fp, fn int
	for i, l := range label {
		p := pred[i]
		switch {
		case p && l:
			tp++
		case p:
			fp++
		case l:
			fn++
		}
	}
	return NewPRF(tp, fp, fn)
}

// Segments returns the maximal runs [start, end) of true labels.
func Segments(label []bool) [][2]int {
	var out [][2]int
	for i := 0; i < len(label); {
		if !label[i] {
			i++
			continue
		}
		j := i
		for j < len(label) && label[j] {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// PointAdjust returns pred with every labelled segment marked detected in
// full when any of its points is detected (Xu et al., "Unsupervised
// Anomaly Detection via Variational Auto-Encoder for Seasonal KPIs", 2018,
// as used by OmniAnomaly and TranAD). Points outside segments keep their
// prediction.
func PointAdjust(pred, label []bool) []bool {
	out := slices.Clone(pred)
	for _, s := range Segments(label) {
		if slices.Contains(pred[s[0]:s[1]], true) {
			for i := s[0]; i < s[1]; i++ {
				out[i] = true
			}
		}
	}
	return out
}

// BestF1 is the oracle: the F1 of the best single threshold (pred = score ≥
// threshold) chosen with the labels, with or without point-adjust. It
// considers every distinct score as a threshold.
func BestF1(scores []float64, label []bool, adjust bool) (PRF, float64) {
	type item struct {
		s      float64
		normal int // normal points at this score
		anom   int // anomalous points (or whole segments, when adjusting) that turn on here
	}
	var items []item
	totalAnom := 0
	if adjust {
		for _, seg := range Segments(label) {
			m := math.Inf(-1)
			for _, s := range scores[seg[0]:seg[1]] {
				m = max(m, s)
			}
			items = append(items, item{s: m, anom: seg[1] - seg[0]})
			totalAnom += seg[1] - seg[0]
		}
		for i, l := range label {
			if !l {
				items = append(items, item{s: scores[i], normal: 1})
			}
		}
	} else {
		for i, l := range label {
			if l {
				items = append(items, item{s: scores[i], anom: 1})
				totalAnom++
			} else {
				items = append(items, item{s: scores[i], normal: 1})
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].s > items[j].s })
	best, bestT := NewPRF(0, 0, totalAnom), math.Inf(1)
	tp, fp := 0, 0
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].s == items[i].s {
			tp += items[j].anom
			fp += items[j].normal
			j++
		}
		if r := NewPRF(tp, fp, totalAnom-tp); r.F1 > best.F1 {
			best, bestT = r, items[i].s
		}
		i = j
	}
	return best, bestT
}

// HitRate is OmniAnomaly's interpretation metric: for every test point in
// a labelled segment with ground-truth dimensions gt, take the top
// ⌊p·|gt|⌋ dimensions by contribution; the point's hit is |top ∩ gt|/|gt|.
// It returns the mean over points and the number of points. contrib(i)
// returns the contributions of test point i; dimensions with equal
// contribution are ranked by index.
func HitRate(segs []Segment, contrib func(i int) []float64, p float64) (float64, int) {
	var sum float64
	n := 0
	var order []int
	for _, s := range segs {
		if len(s.Dims) == 0 {
			continue
		}
		k := int(math.Floor(p * float64(len(s.Dims))))
		for i := s.Start; i < s.End; i++ {
			c := contrib(i)
			order = order[:0]
			for j := range c {
				order = append(order, j)
			}
			sort.SliceStable(order, func(a, b int) bool { return c[order[a]] > c[order[b]] })
			top := order[:min(k, len(order))]
			hit := 0
			for _, d := range s.Dims {
				if slices.Contains(top, d) {
					hit++
				}
			}
			sum += float64(hit) / float64(len(s.Dims))
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}
