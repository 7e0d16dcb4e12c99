package nab

import (
	"fmt"
	"math"
	"sort"
)

// Result is a detector's NAB result under one profile.
type Result struct {
	Profile string `json:"profile"`
	// Threshold on the [0, 1] anomaly score; detections are rows scoring at
	// or above it. 1.1 means nothing is detected (NAB's convention).
	Threshold float64 `json:"threshold"`
	// Score is NAB's normalized score: 100 × (Raw − Null)/(Perfect − Null).
	Score float64 `json:"score"`
	// Raw is the sum of the files' scores; Null is the raw score of a
	// detector that never detects; Perfect is TP weight × windows.
	Raw     float64 `json:"raw"`
	Null    float64 `json:"null"`
	Perfect float64 `json:"perfect"`
	// TP, FP, FN and TN are NAB's row counts (probationary rows excluded).
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
	TN int `json:"tn"`
	// Windows are the scorable windows; Detected those with a detection.
	Windows  int `json:"windows"`
	Detected int `json:"detected"`
	// Categories split the raw score by data category.
	Categories []CategoryResult `json:"categories"`
}

// CategoryResult is one category's share of a Result.
type CategoryResult struct {
	Category string  `json:"category"`
	Files    int     `json:"files"`
	Raw      float64 `json:"raw"`
	// TPScore is earned by detected windows (at most TP weight each),
	// FNScore lost to missed ones, FPScore lost to false positives.
	TPScore  float64 `json:"tp_score"`
	FPScore  float64 `json:"fp_score"`
	FNScore  float64 `json:"fn_score"`
	FPRows   int     `json:"fp_rows"`
	Windows  int     `json:"windows"`
	Detected int     `json:"detected"`
	// MeanDelay is the mean position of the first detection in detected
	// windows: 0 at the window's first row, near 1 at its last.
	MeanDelay float64 `json:"mean_delay"`
}

// Scorer holds a corpus and one detector's scores, ready to score at any
// threshold.
type Scorer struct {
	files   []*scoredFile
	windows int // all labelled windows, for the perfect score
}

// NewScorer pairs a corpus with scores: scores[i][r] is the [0, 1] anomaly
// score of row r of c.Files[i].
func NewScorer(c *Corpus, scores [][]float64) (*Scorer, error) {
	if len(scores) != len(c.Files) {
		return nil, fmt.Errorf("%d score series for %d files", len(scores), len(c.Files))
	}
	s := &Scorer{}
	for i, f := range c.Files {
		sf, err := prepare(f, scores[i], s.windows)
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, sf)
		s.windows += len(f.Windows)
	}
	return s, nil
}

// Optimize finds the threshold that maximizes the profile's raw score over
// the whole corpus (one threshold per profile, as NAB) and scores there.
func (s *Scorer) Optimize(p Profile) Result {
	best := sweep(s.files, s.windows, p)
	return s.ScoreAt(best.threshold, p)
}

// ScoreAt scores the corpus at a fixed threshold, as NAB's scoring step
// does once the threshold is known: each file is scored on its own and the
// raw scores are summed, then normalized against the null detector (never
// detects: −FN per scorable window) and the perfect one (TP weight per
// labelled window, NAB's runner.normalize).
func (s *Scorer) ScoreAt(threshold float64, p Profile) Result {
	r := Result{Profile: p.Name, Threshold: threshold, Perfect: float64(s.windows) * p.TP}
	cats := map[string]*CategoryResult{}
	delay := map[string]float64{}
	for _, sf := range s.files {
		fs := scoreFile(sf, threshold, p)
		r.Raw += fs.Raw
		r.Null -= float64(fs.Windows) * p.FN
		r.TP += fs.TP
		r.FP += fs.FP
		r.FN += fs.FN
		r.TN += fs.TN
		r.Windows += fs.Windows
		r.Detected += fs.Detected
		c := cats[fs.Category]
		if c == nil {
			c = &CategoryResult{Category: fs.Category}
			cats[fs.Category] = c
		}
		c.Files++
		c.Raw += fs.Raw
		c.TPScore += fs.TPScore
		c.FPScore += fs.FPScore
		c.FNScore += fs.FNScore
		c.FPRows += fs.FP
		c.Windows += fs.Windows
		c.Detected += fs.Detected
		delay[fs.Category] += fs.Delay
	}
	r.Score = normalize(r.Raw, r.Null, r.Perfect)
	for name, c := range cats {
		if c.Detected > 0 {
			c.MeanDelay = delay[name] / float64(c.Detected)
		}
		r.Categories = append(r.Categories, *c)
	}
	sort.Slice(r.Categories, func(i, j int) bool { return r.Categories[i].Category < r.Categories[j].Category })
	return r
}

// normalize maps raw so that the null detector scores 0 and the perfect
// one 100. With no scorable window both are equal and the score is 0.
func normalize(raw, null, perfect float64) float64 {
	if perfect == null {
		return 0
	}
	return 100 * (raw - null) / (perfect - null)
}

// MapScore maps an anteater score (0 normal, 1.0 the alert threshold,
// unbounded above) onto NAB's [0, 1] as s/(1+s): monotone, so the
// threshold sweep finds the same detections, and the product threshold 1.0
// lands on 0.5. Negative and NaN scores (not produced by the scorer) map
// to 0, +Inf to 1.
func MapScore(s float64) float64 {
	switch {
	case !(s > 0):
		return 0
	case math.IsInf(s, 1):
		return 1
	}
	return s / (1 + s)
}

// UnmapScore is the inverse of MapScore: the anteater score that a [0, 1]
// threshold corresponds to (+Inf at 1 and above).
func UnmapScore(t float64) float64 {
	if t >= 1 {
		return math.Inf(1)
	}
	if t <= 0 {
		return 0
	}
	return t / (1 - t)
}

// ProductThreshold is the anteater alert threshold 1.0 on NAB's scale.
var ProductThreshold = MapScore(1)
