package main

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/exporter"
	"github.com/anteater-dev/anteater/internal/event"
)

func samples(vs ...float64) []model.SamplePair {
	out := make([]model.SamplePair, len(vs))
	for i, v := range vs {
		out[i] = model.SamplePair{Timestamp: model.Time(int64(i) * 1000), Value: model.SampleValue(v)}
	}
	return out
}

func TestRunStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   []float64
		want int // index of the onset, -1 for none
	}{
		{"no anomaly", []float64{0.1, 0.5, 0.99}, -1},
		{"empty", nil, -1},
		{"run to the end", []float64{0.1, 0.2, 1.5, 2, 3}, 2},
		{"all anomalous", []float64{1, 2, 3}, 0},
		{"short dip inside the run", []float64{0.1, 1.2, 0.8, 0.9, 1.4, 2}, 1},
		{"long dip splits runs", []float64{1.5, 0.1, 0.2, 0.3, 0.4, 1.2, 1.3}, 5},
		{"run ended before the alert", []float64{0.2, 1.1, 1.2, 0.5}, 1},
		{"NaN is below", []float64{1.1, math.NaN(), math.NaN(), math.NaN(), math.NaN(), 1.5}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := runStart(samples(tc.vs...))
			if tc.want < 0 {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, time.UnixMilli(int64(tc.want)*1000), got)
		})
	}
}

type fakeRange struct {
	query string
	r     v1.Range
	val   model.Value
	err   error
}

func (f *fakeRange) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	f.query, f.r = q, r
	return f.val, nil, nil, f.err
}

func TestOnsetQuery(t *testing.T) {
	at := time.Unix(1000, 0)
	inc := event.Incident{Job: "cpu", Metric: "instance:cpu:rate", Labels: map[string]string{"instance": "h:9100", "job": "node"}, Time: at}
	one := model.Matrix{{Metric: model.Metric{"__name__": "anteater_anomaly_score"}, Values: samples(0.1, 1.5, 2, 3)}}
	two := append(model.Matrix{{Values: samples(2)}}, one...)
	for _, tc := range []struct {
		name   string
		val    model.Value
		err    error
		inc    event.Incident
		wantOK bool
	}{
		{"found", one, nil, inc, true},
		{"ambiguous", two, nil, inc, false},
		{"no series", model.Matrix{}, nil, inc, false},
		{"query error", nil, errors.New("down"), inc, false},
		{"not a matrix", model.Vector{}, nil, inc, false},
		{"no job", one, nil, event.Incident{Metric: "m", Time: at}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRange{val: tc.val, err: tc.err}
			q := onsetQuery{api: f, lookback: 10 * time.Minute, step: 15 * time.Second, timeout: time.Second}
			got, ok := q.find(context.Background(), tc.inc)
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				return
			}
			require.Equal(t, time.UnixMilli(1000), got)
			require.Equal(t, `{__name__="anteater_anomaly_score",anteater_job="cpu",metric="instance:cpu:rate",instance="h:9100",job="node"}`, f.query)
			require.Equal(t, v1.Range{Start: at.Add(-10 * time.Minute), End: at, Step: 15 * time.Second}, f.r)
		})
	}
}

type fakeEntities []exporter.SeriesScore

func (f fakeEntities) EntityScores(map[string]string) []exporter.SeriesScore { return f }

func TestEntityState(t *testing.T) {
	for _, tc := range []struct {
		name            string
		scores          []float64
		abnormal, known bool
	}{
		{"not scored", nil, false, false},
		{"only NaN", []float64{math.NaN()}, false, false},
		{"below threshold", []float64{0.99, 0.2}, false, true},
		{"at threshold", []float64{0.3, 1}, true, true},
		{"NaN ignored", []float64{math.NaN(), 2}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f fakeEntities
			for _, s := range tc.scores {
				f = append(f, exporter.SeriesScore{Score: s})
			}
			abnormal, known := entityState(f)(context.Background(), map[string]string{"instance": "h"})
			require.Equal(t, tc.abnormal, abnormal)
			require.Equal(t, tc.known, known)
		})
	}
}
