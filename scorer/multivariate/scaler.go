package multivariate

import (
	"fmt"
	"math"
)

// Scaler standardises each dimension robustly from a training window:
// z = (x - median) / scale, where scale is the IQR/1.349 (the standard
// deviation of a normal with that IQR), falling back to the standard
// deviation for dimensions that are mostly constant (IQR 0, common for
// counters that are usually idle), and floored at MinScale so that a
// dimension constant in training does not divide by zero. z is clipped to
// ±Clip so that one broken dimension cannot swamp the others by orders of
// magnitude (it still dominates the contributions).
//
// Non-finite values (NaN, ±Inf) are treated as missing: they are ignored
// when fitting and imputed with the median (z = 0) when transforming.
type Scaler struct {
	Median, Scale []float64
	MinScale      float64
	Clip          float64
}

// Fit computes the per-dimension median and scale of X.
func (s *Scaler) Fit(X [][]float64) error {
	if len(X) == 0 {
		return fmt.Errorf("multivariate: scaler: no rows")
	}
	d := len(X[0])
	s.Median = make([]float64, d)
	s.Scale = make([]float64, d)
	col := make([]float64, 0, len(X))
	for j := range d {
		col = col[:0]
		var sum, sum2 float64
		for _, r := range X {
			if v := r[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				col = append(col, v)
				sum += v
				sum2 += v * v
			}
		}
		if len(col) == 0 {
			// Never observed: every value will be imputed.
			s.Median[j], s.Scale[j] = 0, math.Max(s.MinScale, 1)
			continue
		}
		srt := sortedCopy(col)
		s.Median[j] = quantile(srt, 0.5)
		sc := (quantile(srt, 0.75) - quantile(srt, 0.25)) / 1.349
		if sc <= s.MinScale {
			n := float64(len(col))
			mean := sum / n
			sc = math.Sqrt(math.Max(sum2/n-mean*mean, 0))
		}
		s.Scale[j] = math.Max(sc, s.MinScale)
	}
	return nil
}

// Dims is the number of dimensions fitted.
func (s *Scaler) Dims() int { return len(s.Median) }

// Transform writes the standardised row into z and reports in missing
// which values were not finite (missing may be nil). It does not allocate.
func (s *Scaler) Transform(row, z []float64, missing []bool) {
	for j, v := range row {
		m := math.IsNaN(v) || math.IsInf(v, 0)
		if missing != nil {
			missing[j] = m
		}
		if m {
			z[j] = 0
			continue
		}
		x := (v - s.Median[j]) / s.Scale[j]
		if s.Clip > 0 {
			x = softClip(x, s.Clip)
		}
		z[j] = x
	}
}

func (s *Scaler) encode(e *encoder) {
	e.str("scaler/1")
	e.floats(s.Median)
	e.floats(s.Scale)
	e.f64(s.MinScale)
	e.f64(s.Clip)
}

func (s *Scaler) decode(d *decoder) {
	d.tag("scaler/1")
	s.Median = d.floats()
	s.Scale = d.floats()
	s.MinScale = d.f64()
	s.Clip = d.f64()
	if d.err == nil && len(s.Median) != len(s.Scale) {
		d.err = fmt.Errorf("%w: scaler lengths %d != %d", ErrCorrupt, len(s.Median), len(s.Scale))
	}
}

// softClip is the identity on [−c, c] and logarithmic beyond: c + ln(1 +
// |x| − c) with x's sign. Unlike a hard clip it keeps the order of
// extreme values (a spike 100 scale units out still ranks above one 20
// out) while bounding their leverage on a model.
func softClip(x, c float64) float64 {
	switch {
	case x > c:
		return c + math.Log1p(x-c)
	case x < -c:
		return -c - math.Log1p(-x-c)
	}
	return x
}
