package rca

import (
	"math"
	"slices"
)

// Robust change scoring follows BARO's RobustScorer (Pham et al., FSE
// 2024): a series that moved after the anomaly far beyond its usual spread
// is a likely cause. Centre and spread come from the window before the
// anomaly (median and inter-quartile range), so a few outliers in that
// window do not hide a change; the score is the largest robust z-score in
// the window after:
//
//	score = max over after of |x − median(before)| / IQR(before)
//
// N-sigma is the same with the mean and standard deviation.

// relativeFloor is the smallest spread a series is given, relative to its
// level: memory in bytes often varies by one page while its level is in
// gigabytes, so moving by a fraction of a percent would score thousands of
// IQRs and drown the real cause. A change below 1% of the level is noise
// whatever the series' history; a perfectly flat series would otherwise
// turn any move into an infinite score.
const relativeFloor = 0.01

// robustCentre returns the median and a robust spread of before. scratch
// must have room for len(before) values; it is overwritten.
func robustCentre(before, after, scratch []float64) (median, scale float64) {
	s := finite(scratch, before)
	if len(s) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(s)
	median = quantileSorted(s, 0.5)
	scale = quantileSorted(s, 0.75) - quantileSorted(s, 0.25)
	if scale <= 0 {
		// Less than a quarter of the points differ from the median: the
		// MAD is zero too, so fall back on the standard deviation, which
		// sees them.
		_, scale = meanStd(before)
	}
	return median, floorScale(scale, median, after)
}

// floorScale keeps a spread above relativeFloor of the level, and gives a
// flat series at level zero the spread it shows afterwards.
func floorScale(scale, level float64, after []float64) float64 {
	scale = math.Max(scale, math.Abs(level)*relativeFloor)
	if scale > 0 {
		return scale
	}
	return flatScale(level, after)
}

// flatScale is the spread given to a series that was flat before: a
// fraction of its level, or else the spread it shows afterwards.
func flatScale(level float64, after []float64) float64 {
	if s := math.Abs(level) * relativeFloor; s > 0 {
		return s
	}
	if _, sd := meanStd(after); sd > 0 {
		return sd
	}
	return 1
}

// Direction limits which moves a change score counts.
type Direction int

// Directions of change.
const (
	// Both counts rises and falls (the default).
	Both Direction = iota
	// Up counts rises only, as BARO does: resource faults raise usage
	// and latency, while unrelated series may drop.
	Up
	// Down counts falls only.
	Down
)

// maxDeviation is the largest deviation of after from centre, in units of
// scale, counting only the moves dir allows.
func maxDeviation(after []float64, centre, scale float64, dir Direction) float64 {
	best := 0.0
	for _, v := range after {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		d := v - centre
		switch dir {
		case Up:
		case Down:
			d = -d
		default:
			d = math.Abs(d)
		}
		if d > best {
			best = d
		}
	}
	return best / scale
}

// robustScore is BARO's score of one series. scratch needs len(before).
func robustScore(before, after, scratch []float64, dir Direction) float64 {
	if len(after) == 0 {
		return 0
	}
	m, s := robustCentre(before, after, scratch)
	if math.IsNaN(m) {
		return 0
	}
	return maxDeviation(after, m, s, dir)
}

// nSigmaGuard is the share of the history, at its end, left out of the
// n-sigma baseline: a cause often moves minutes before the anomaly is
// detected, and those samples would inflate the mean and deviation (the
// median and IQR shrug off such a minority, so the robust score needs no
// guard).
const nSigmaGuard = 0.1

// nSigmaScore is the classic n-sigma score: the largest deviation after,
// in standard deviations of before.
func nSigmaScore(before, after []float64, dir Direction) float64 {
	if len(after) == 0 {
		return 0
	}
	before = before[:len(before)-int(float64(len(before))*nSigmaGuard)]
	mean, sd := meanStd(before)
	if math.IsNaN(mean) {
		return 0
	}
	sd = floorScale(sd, mean, after)
	return maxDeviation(after, mean, sd, dir)
}
