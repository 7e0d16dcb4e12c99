package nab

import (
	"fmt"
	"math"
	"slices"
)

// Profile is one of NAB's application profiles: the weights of true
// positives, false positives, true negatives (unused by NAB's scoring) and
// false negatives.
type Profile struct {
	Name           string
	TP, FP, TN, FN float64
}

// Profiles are NAB's three profiles (config/profiles.json).
func Profiles() []Profile {
	return []Profile{
		{Name: "standard", TP: 1.0, FP: 0.11, TN: 1.0, FN: 1.0},
		{Name: "reward_low_FP_rate", TP: 1.0, FP: 0.22, TN: 1.0, FN: 1.0},
		{Name: "reward_low_FN_rate", TP: 1.0, FP: 0.11, TN: 1.0, FN: 2.0},
	}
}

// probationPercent is NAB's probationary share of each file.
const probationPercent = 0.15

// noThreshold is NAB's first sweep threshold: above every score, so nothing
// is detected.
const noThreshold = 1.1

// ProbationaryLength is the number of leading rows NAB does not score:
// min(floor(0.15 × rows), 0.15 × 5000) = min(floor(0.15 × rows), 750).
// The product is computed in float64 as NAB does (0.15×rows rounds the same
// way in Python).
func ProbationaryLength(rows int) int {
	p := math.Min(math.Floor(probationPercent*float64(rows)), probationPercent*5000)
	// NAB compares row index i >= p; with p integral this is ceil(p) rows.
	return int(math.Ceil(p))
}

// scaledSigmoid is NAB's weighting of a detection by its position x
// relative to a window's end: x = -1 at the window's start, 0 at its end
// and positive after it. It is 2/(1+e^(5x)) − 1, and −1 beyond x > 3.
func scaledSigmoid(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// maxTP is scaledSigmoid(-1): NAB divides true positives by it, so that a
// detection at a window's first row is worth exactly the profile's TP
// weight.
var maxTP = scaledSigmoid(-1)

// point is one scorable (non-probationary) row.
type point struct {
	score float64 // detector score in [0, 1]
	// sig is the unweighted scaled sigmoid of the row: its worth as a true
	// positive inside a window, its cost as a false positive outside.
	sig    float64
	window int32 // corpus-wide window index, or -1 outside windows
}

// weight is the row's contribution when detected under profile p.
func (pt point) weight(p Profile) float64 {
	if pt.window < 0 {
		return pt.sig * p.FP
	}
	return pt.sig * p.TP / maxTP
}

// scoredFile holds a file's scorable rows and its windows.
type scoredFile struct {
	file *File
	// points are the rows from ProbationaryLength on, in row order.
	points []point
	// firstWindow is the corpus-wide index of the file's first window.
	firstWindow int
	// scorable tells, per window of the file, whether it has a row after
	// the probationary period. NAB only counts those: a window wholly in
	// the probationary period is neither detected nor missed.
	scorable []bool
}

// prepare computes NAB's per-row sweep weights for one file (NAB's
// Sweeper.calcSweepScore): inside a window, the sigmoid of
// −(last − i + 1)/len; outside, the sigmoid of (i − last)/(len − 1)
// relative to the closest preceding window, or −1 with none. NAB divides by
// zero after a one-row window; here such a window counts as far away (−1),
// as NAB's older scorer did.
func prepare(f *File, scores []float64, firstWindow int) (*scoredFile, error) {
	if len(scores) != f.Rows() {
		return nil, fmt.Errorf("%s: %d scores for %d rows", f.Name, len(scores), f.Rows())
	}
	prob := ProbationaryLength(f.Rows())
	sf := &scoredFile{file: f, firstWindow: firstWindow, scorable: make([]bool, len(f.Windows))}
	if prob < f.Rows() {
		sf.points = make([]point, 0, f.Rows()-prob)
	}
	w := 0     // next window of the file
	prev := -1 // index of the closest preceding window, -1 if none
	inside := false
	for i := range f.Rows() {
		if !inside && w < len(f.Windows) && i == f.Windows[w].First {
			inside = true
		}
		var pt point
		if inside {
			win := f.Windows[w]
			pt.sig = scaledSigmoid(-float64(win.Last-i+1) / float64(win.Len()))
			pt.window = int32(firstWindow + w)
		} else {
			pt.window = -1
			pt.sig = -1
			if prev >= 0 && f.Windows[prev].Len() > 1 {
				win := f.Windows[prev]
				pt.sig = scaledSigmoid(float64(i-win.Last) / float64(win.Len()-1))
			}
		}
		if i >= prob {
			s := scores[i]
			if math.IsNaN(s) {
				return nil, fmt.Errorf("%s: row %d: score is NaN", f.Name, i+1)
			}
			pt.score = s
			sf.points = append(sf.points, pt)
			if inside {
				sf.scorable[w] = true
			}
		}
		if inside && i == f.Windows[w].Last {
			inside = false
			prev = w
			w++
		}
	}
	return sf, nil
}

// Counts are NAB's row counts at a threshold: rows inside windows are
// true positives when detected and false negatives otherwise, rows outside
// are false positives when detected and true negatives otherwise.
// Probationary rows are not counted.
type Counts struct {
	TP, FP, FN, TN int
}

// sweepResult is the corpus score at one threshold.
type sweepResult struct {
	threshold float64
	raw       float64
	counts    Counts
}

// sweep scores every distinct threshold over the whole corpus at once and
// returns the best, as NAB's optimizer does (nab/optimizer.py over
// Sweeper.calcScoreByThreshold): rows sorted by score, highest first; at
// each new score the current total is a candidate; a window is worth the
// best (i.e. earliest) detected row's weight, or −FN when none is detected;
// false positives add up. Ties go to the highest threshold, as NAB's stable
// sort does. Exact: every distinct score is tried, no hill climbing.
func sweep(files []*scoredFile, windows int, p Profile) sweepResult {
	n := 0
	for _, sf := range files {
		n += len(sf.points)
	}
	pts := make([]point, 0, n)
	parts := make([]float64, windows)
	active := make([]bool, windows)
	var c Counts
	for _, sf := range files {
		pts = append(pts, sf.points...)
		for i, ok := range sf.scorable {
			if ok {
				active[sf.firstWindow+i] = true
				parts[sf.firstWindow+i] = -p.FN
			}
		}
		for _, pt := range sf.points {
			if pt.window >= 0 {
				c.FN++
			} else {
				c.TN++
			}
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	fp := 0.0
	total := func() float64 {
		s := fp
		for i, v := range parts {
			if active[i] {
				s += v
			}
		}
		return s
	}
	best := sweepResult{threshold: noThreshold, raw: total(), counts: c}
	cur := noThreshold
	for i, pt := range pts {
		if pt.score != cur && i > 0 {
			if r := total(); r > best.raw {
				best = sweepResult{threshold: cur, raw: r, counts: c}
			}
		}
		cur = pt.score
		if pt.window >= 0 {
			c.TP++
			c.FN--
			parts[pt.window] = max(parts[pt.window], pt.weight(p))
		} else {
			c.FP++
			c.TN--
			fp += pt.weight(p)
		}
	}
	if len(pts) > 0 {
		if r := total(); r > best.raw {
			best = sweepResult{threshold: cur, raw: r, counts: c}
		}
	}
	return best
}

// FileScore is one file's NAB score at a threshold, split into its parts.
type FileScore struct {
	Name, Category string
	// Raw = TPScore + FPScore + FNScore.
	Raw, TPScore, FPScore, FNScore float64
	Counts
	// Windows counts the scorable windows (with a row past the
	// probationary period); Detected those with a detection.
	Windows, Detected int
	// Delay sums, over detected windows, the position of the earliest
	// detection: 0 at the window's first row, 1 past its last.
	Delay float64
}

// scoreFile scores one file at a threshold: rows with score ≥ threshold
// are detections (NAB's Sweeper.scoreDataSet).
func scoreFile(sf *scoredFile, threshold float64, p Profile) FileScore {
	fs := FileScore{Name: sf.file.Name, Category: sf.file.Category}
	best := make([]float64, len(sf.scorable))
	hit := make([]bool, len(sf.scorable))
	firstHit := make([]int, len(sf.scorable))
	prob := sf.file.Rows() - len(sf.points)
	for j, pt := range sf.points {
		detected := pt.score >= threshold
		if pt.window < 0 {
			if detected {
				fs.FP++
				fs.FPScore += pt.weight(p)
			} else {
				fs.TN++
			}
			continue
		}
		w := int(pt.window) - sf.firstWindow
		if !detected {
			fs.FN++
			continue
		}
		fs.TP++
		if !hit[w] {
			hit[w], best[w], firstHit[w] = true, pt.weight(p), prob+j
		} else {
			best[w] = max(best[w], pt.weight(p))
		}
	}
	for w, ok := range sf.scorable {
		if !ok {
			continue
		}
		fs.Windows++
		if !hit[w] {
			fs.FNScore -= p.FN
			continue
		}
		fs.Detected++
		fs.TPScore += best[w]
		win := sf.file.Windows[w]
		fs.Delay += float64(firstHit[w]-win.First) / float64(win.Len())
	}
	fs.Raw = fs.TPScore + fs.FPScore + fs.FNScore
	return fs
}
