package exporter

import (
	"cmp"
	"github.com/anteater-dev/anteater/internal/score"
	"slices"
	"strings"
	"time"
)

// SeriesScore is one scored series as the webhook sees it (the score
// lookup of the metrics contract).
type SeriesScore = score.Series

// Lookup returns the latest score of the series of job and metric with
// the given identity labels. Labels may carry more than the identity (an
// alert's labels do): when there is no exact match, the series whose labels
// are all present with the same values wins, the one with most labels first.
func (e *Exporter) Lookup(job, metric string, labels map[string]string) (SeriesScore, bool) {
	js := e.jobs.Load()
	if js == nil {
		return SeriesScore{}, false
	}
	j := js.byName[job]
	if j == nil {
		return SeriesScore{}, false
	}
	snap := j.snap.Load()
	want := make([]label, 0, len(labels)+2)
	for n, v := range labels {
		if n != jobLabel && n != metricLabel {
			want = append(want, label{n, v})
		}
	}
	want = append(want, label{jobLabel, job}, label{metricLabel, metric})
	slices.SortFunc(want, func(a, b label) int { return strings.Compare(a.name, b.name) })
	i, ok := slices.BinarySearchFunc(snap.series, want, func(v seriesValue, w []label) int {
		return compareLabels(v.s.labels, w)
	})
	if ok {
		return scoreOf(snap, &snap.series[i]), true
	}
	best := -1
	for i := range snap.series {
		s := snap.series[i].s
		if s.metric != metric || (best >= 0 && len(s.labels) <= len(snap.series[best].s.labels)) {
			continue
		}
		if subset(s.labels, labels) {
			best = i
		}
	}
	if best < 0 {
		return SeriesScore{}, false
	}
	return scoreOf(snap, &snap.series[best]), true
}

func subset(ls []label, m map[string]string) bool {
	for _, l := range ls {
		if l.name == jobLabel || l.name == metricLabel {
			continue
		}
		if v, ok := m[l.name]; !ok || v != l.value {
			return false
		}
	}
	return true
}

// EntityScores returns the scores of every series, over all jobs, whose
// labels carry all of entity's labels and values, highest score first.
func (e *Exporter) EntityScores(entity map[string]string) []SeriesScore {
	js := e.jobs.Load()
	if js == nil {
		return nil
	}
	var out []SeriesScore
	for _, j := range js.list {
		snap := j.snap.Load()
		for i := range snap.series {
			s := snap.series[i].s
			match := true
			for n, v := range entity {
				if s.get(n) != v {
					match = false
					break
				}
			}
			if match {
				out = append(out, scoreOf(snap, &snap.series[i]))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b SeriesScore) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

func scoreOf(snap *jobSnapshot, v *seriesValue) SeriesScore {
	c := &snap.set.cfg
	s := v.s
	sc := SeriesScore{
		Job:          c.Name,
		Metric:       s.metric,
		Labels:       make(map[string]string, len(s.labels)-2),
		EntityLabels: make(map[string]string, len(c.EntityLabels)),
		EntityName:   c.EntityName,
		EventType:    c.EventType,
		Description:  c.Description,
		Keywords:     slices.Clone(c.Keywords),
		Score:        v.score,
		Ratio:        v.ratio(),
		Anomalous:    int(v.anomalous),
		Observed:     int(v.observed),
		Window:       time.Duration(snap.set.windowMs) * time.Millisecond,
	}
	if v.ts > 0 {
		sc.Timestamp = time.UnixMilli(v.ts)
	}
	for _, l := range s.labels {
		if l.name != jobLabel && l.name != metricLabel {
			sc.Labels[l.name] = l.value
		}
	}
	parts := make([]string, 0, len(c.EntityLabels)+1)
	if slices.Contains(c.EntityLabels, "machine_id") {
		parts = append(parts, s.get("machine_id"))
	}
	parts = append(parts, c.EntityName)
	for _, n := range c.EntityLabels {
		val := s.get(n)
		sc.EntityLabels[n] = val
		if n != "machine_id" {
			parts = append(parts, val)
		}
	}
	sc.EntityID = strings.Join(parts, "_")
	return sc
}
