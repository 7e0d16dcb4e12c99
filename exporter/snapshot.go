package exporter

import (
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

var nan = math.NaN()

// jobLabelName is addressable for the label pairs of entity metrics.
var jobLabelName = jobLabel

// jobSnapshot is an immutable view of a job after a cycle; scrapes and
// lookups read it without locks.
type jobSnapshot struct {
	set      *jobSettings
	series   []seriesValue // sorted by labels
	entities []entityValue
	mv       []mvValue // multivariate entities, sorted by entity
}

// seriesValue is a series' published state. s is only read for its
// identity fields, which never change.
type seriesValue struct {
	s                      *series
	score                  float64
	expected, lower, upper float64
	ts                     int64
	anomalous, observed    int32
	warming, stale         bool
}

// ratio is the share of anomalous points in the observation window, as
// window.ratio computes it (kept as its two counts, not a third field).
func (v *seriesValue) ratio() float64 {
	if v.observed == 0 {
		return 0
	}
	return float64(v.anomalous) / float64(v.observed)
}

// entityValue is the largest score over an entity's series; s is one of
// them, for the entity label values.
type entityValue struct {
	s     *series
	score float64
}

// family accumulates one gauge family; metrics, gauges and values live in
// three slices so a family costs a handful of allocations per scrape.
type family struct {
	mf *dto.MetricFamily
	ms []dto.Metric
	gs []dto.Gauge
	vs []float64
}

func newFamily(name, help string, n int) *family {
	return &family{
		mf: &dto.MetricFamily{
			Name:   proto.String(name),
			Help:   proto.String(help),
			Type:   dto.MetricType_GAUGE.Enum(),
			Metric: make([]*dto.Metric, 0, n),
		},
		ms: make([]dto.Metric, n),
		gs: make([]dto.Gauge, n),
		vs: make([]float64, n),
	}
}

func (f *family) add(labels []*dto.LabelPair, v float64) {
	i := len(f.mf.Metric)
	f.vs[i] = v
	f.gs[i].Value = &f.vs[i]
	f.ms[i].Label = labels
	f.ms[i].Gauge = &f.gs[i]
	f.mf.Metric = append(f.mf.Metric, &f.ms[i])
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Gather builds the score families from the current snapshots (the
// prometheus.Gatherer interface). Label pairs point into the series'
// immutable labels and are shared by every family of a series.
func (e *Exporter) Gather() ([]*dto.MetricFamily, error) {
	js := e.jobs.Load()
	if js == nil {
		return nil, nil
	}
	snaps := make([]*jobSnapshot, 0, len(js.list))
	nSeries, nLabels, nEnt, nEntLabels := 0, 0, 0, 0
	for _, j := range js.list {
		s := j.snap.Load()
		snaps = append(snaps, s)
		nSeries += len(s.series)
		for i := range s.series {
			nLabels += len(s.series[i].s.labels)
		}
		nEnt += len(s.entities)
		nEntLabels += len(s.entities) * (len(s.set.sortedEntity) + 1)
	}
	pairs := make([]dto.LabelPair, nLabels+nEntLabels)
	ptrs := make([]*dto.LabelPair, nLabels+nEntLabels)
	entValues := make([]string, nEntLabels)

	score := newFamily("anteater_anomaly_score", "Latest calibrated anomaly score of a series; 1 is the alert threshold.", nSeries)
	ratio := newFamily("anteater_anomaly_ratio", "Anomalous points over observed points in the job's observation window.", nSeries)
	anom := newFamily("anteater_anomalous_points", "Anomalous points in the job's observation window.", nSeries)
	obs := newFamily("anteater_observed_points", "Observed points in the job's observation window.", nSeries)
	exp := newFamily("anteater_expected_value", "The model's expected value of the series' latest point.", nSeries)
	lower := newFamily("anteater_expected_lower", "Lowest value of the series' latest point that would score below 1.", nSeries)
	upper := newFamily("anteater_expected_upper", "Highest value of the series' latest point that would score below 1.", nSeries)
	warm := newFamily("anteater_series_warming", "1 while the series' model is still warming up.", nSeries)
	stale := newFamily("anteater_series_stale", "1 when the series got no new sample in the last cycle.", nSeries)
	ent := newFamily("anteater_entity_anomaly_score", "Largest anomaly score over an entity's series.", nEnt)

	off, eoff := 0, nLabels
	for _, snap := range snaps {
		for i := range snap.series {
			v := &snap.series[i]
			ls := v.s.labels
			lp := ptrs[off : off+len(ls) : off+len(ls)]
			for k := range ls {
				p := &pairs[off+k]
				p.Name, p.Value = &ls[k].name, &ls[k].value
				lp[k] = p
			}
			off += len(ls)
			score.add(lp, v.score)
			ratio.add(lp, v.ratio())
			anom.add(lp, float64(v.anomalous))
			obs.add(lp, float64(v.observed))
			if !math.IsNaN(v.expected) {
				exp.add(lp, v.expected)
			}
			if !math.IsNaN(v.lower) {
				lower.add(lp, v.lower)
			}
			if !math.IsNaN(v.upper) {
				upper.add(lp, v.upper)
			}
			warm.add(lp, b2f(v.warming))
			stale.add(lp, b2f(v.stale))
		}
		names := snap.set.sortedEntity
		for i := range snap.entities {
			ev := &snap.entities[i]
			n := len(names) + 1
			lp := ptrs[eoff : eoff+n : eoff+n]
			// anteater_job sorts among the entity labels by name.
			k := 0
			jobDone := false
			for ni, name := range names {
				if !jobDone && strings.Compare(jobLabel, name) < 0 {
					p := &pairs[eoff+k]
					p.Name, p.Value = &jobLabelName, &snap.set.cfg.Name
					lp[k] = p
					k++
					jobDone = true
				}
				p := &pairs[eoff+k]
				entValues[eoff-nLabels+k] = ev.s.get(name)
				p.Name, p.Value = &names[ni], &entValues[eoff-nLabels+k]
				lp[k] = p
				k++
			}
			if !jobDone {
				p := &pairs[eoff+k]
				p.Name, p.Value = &jobLabelName, &snap.set.cfg.Name
				lp[k] = p
			}
			eoff += n
			ent.add(lp, ev.score)
		}
	}
	out := make([]*dto.MetricFamily, 0, 10)
	for _, f := range []*family{ent, anom, score, ratio, exp, lower, upper, obs, stale, warm} {
		if len(f.mf.Metric) > 0 {
			out = append(out, f.mf)
		}
	}
	out = append(out, mvFamilies(snaps)...)
	return out, nil
}

// WithRegistry returns a Gatherer of g's families (the self-metrics)
// together with the score families. Unlike prometheus.Gatherers it does not
// re-check every score metric for consistency, which is most of the cost of
// a large scrape: the snapshot builds them consistent, and their names
// never collide with g's.
func (e *Exporter) WithRegistry(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		own, err := g.Gather()
		scores, serr := e.Gather()
		out := append(own, scores...)
		slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return out, errors.Join(err, serr)
	})
}
