package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/anteater-dev/anteater/internal/event"
)

// An alert starts when its rule's `for` has elapsed (Prometheus sends
// the firing time as startsAt), a minute or more after the scored series
// changed. Ranked from there, the window before the anomaly would already
// hold the fault, and the fault's own series would barely move against
// it. The onset is the start of the run of scores at or above 1 that led
// to the alert, read back from the score series Prometheus scraped from
// anteater.

// onsetMaxGap is how many consecutive samples below 1 a run may contain:
// a score flapping around the threshold is still one anomaly.
const onsetMaxGap = 3

// rangeQuerier is the part of v1.API the onset needs.
type rangeQuerier interface {
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// onsetQuery finds an incident's onset in the score history.
type onsetQuery struct {
	api      rangeQuerier
	lookback time.Duration
	step     time.Duration
	timeout  time.Duration
}

// find returns the time of the first score at or above 1 of the run that
// ends at the incident's time; ok is false when the history does not
// tell (no such series, no score at or above 1, a query error).
func (q onsetQuery) find(ctx context.Context, inc event.Incident) (time.Time, bool) {
	if q.api == nil || inc.Job == "" || inc.Metric == "" || inc.Time.IsZero() || q.step <= 0 || q.lookback <= 0 {
		return time.Time{}, false
	}
	ms := []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "anteater_anomaly_score"),
		labels.MustNewMatcher(labels.MatchEqual, "anteater_job", inc.Job),
		labels.MustNewMatcher(labels.MatchEqual, "metric", inc.Metric),
	}
	for _, k := range slices.Sorted(maps.Keys(inc.Labels)) {
		if k == "anteater_job" || k == "metric" || !model.LegacyValidation.IsValidLabelName(k) {
			continue
		}
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, k, inc.Labels[k]))
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	val, _, _, err := q.api.QueryRange(ctx, "{"+strings.Join(parts, ",")+"}",
		v1.Range{Start: inc.Time.Add(-q.lookback), End: inc.Time, Step: q.step})
	if err != nil {
		return time.Time{}, false
	}
	m, ok := val.(model.Matrix)
	if !ok || len(m) != 1 {
		return time.Time{}, false // none, or ambiguous
	}
	return runStart(m[0].Values)
}

// runStart returns the first sample of the last run of values at or above
// 1, tolerating onsetMaxGap samples below it inside the run.
func runStart(vs []model.SamplePair) (time.Time, bool) {
	end := -1
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Value >= 1 {
			end = i
			break
		}
	}
	if end < 0 {
		return time.Time{}, false
	}
	start, gap := end, 0
	for i := end - 1; i >= 0; i-- {
		if vs[i].Value >= 1 {
			start, gap = i, 0
			continue
		}
		if gap++; gap > onsetMaxGap {
			break
		}
	}
	return vs[start].Timestamp.Time(), true
}
