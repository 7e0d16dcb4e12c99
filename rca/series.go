package rca

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Series is one time series held in memory: a metric, its identity labels
// and its samples.
type Series struct {
	// Metric is the metric name (without labels).
	Metric string
	// Labels are the identity labels of the series (without __name__).
	Labels map[string]string
	// Entity names the entity the series belongs to. When empty, the
	// engine resolves it from the graph (the most specific entity whose
	// identity labels the series carries), else from the labels.
	Entity string
	// Times are the sample times in Unix milliseconds, increasing.
	Times []int64
	// Values are the samples, one per time. NaN marks a missing sample.
	Values []float64
}

// validate reports series that the engine cannot score.
func (s *Series) validate() error {
	if len(s.Times) != len(s.Values) {
		return fmt.Errorf("series %s: %d times but %d values", s.ID(), len(s.Times), len(s.Values))
	}
	for i := 1; i < len(s.Times); i++ {
		if s.Times[i] <= s.Times[i-1] {
			return fmt.Errorf("series %s: times not increasing at sample %d", s.ID(), i)
		}
	}
	return nil
}

// ID is a stable, readable identity: metric{k="v",...} with sorted labels.
func (s *Series) ID() string {
	return seriesID(s.Metric, s.Labels)
}

func seriesID(metric string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// split returns the index of the first sample at or after t (Unix ms).
func split(times []int64, t int64) int {
	return sort.Search(len(times), func(i int) bool { return times[i] >= t })
}

// finite copies the finite values of src into dst[:0] and returns it.
func finite(dst, src []float64) []float64 {
	dst = dst[:0]
	for _, v := range src {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			dst = append(dst, v)
		}
	}
	return dst
}

// quantileSorted is the linearly interpolated q-quantile of sorted data
// (the definition numpy and pandas use by default).
func quantileSorted(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return sorted[lo]
	}
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[hi]*f
}

// meanStd is the mean and population standard deviation of finite data.
func meanStd(x []float64) (mean, std float64) {
	n := 0
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n++
		mean += v
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	mean /= float64(n)
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		d := v - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(n))
}
