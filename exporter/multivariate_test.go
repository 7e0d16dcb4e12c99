package exporter

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// mvLabels are 5 (or more) dimensions of one machine.
func mvLabels(i int) string {
	return fmt.Sprintf(`{"__name__":"node_mv","instance":"h:9100","machine_id":"m0","dim":"d%d"}`, i)
}

// mvValues makes the dimensions follow one load curve with their own gain
// and a little deterministic noise; from the timestamp in broken on (ms),
// dimension 2 leaves the curve.
func mvValues(broken *atomic.Int64) func(int, int64) float64 {
	return func(i int, ts int64) float64 {
		m := float64(ts / 60_000)
		base := 10 + 5*math.Sin(m/30)
		noise := 0.05 * math.Sin(m*1.7+float64(i)*2.3)
		v := base*float64(i+1) + noise
		if b := broken.Load(); i == 2 && b > 0 && ts >= b {
			v = 3*float64(i+1)*10 + 40
		}
		return v
	}
}

func mvGather(t *testing.T, d *driven) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := d.e.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func TestMultivariateScoresAndRetrains(t *testing.T) {
	var broken atomic.Int64
	// The query returns the dimensions in reverse order.
	f := newFakeAPI(5, func(i int) string { return mvLabels(4 - i) })
	f.value = mvValues(&broken)
	d := newDriven(t, startFake(t, f), "",
		"lookback: 6h\njobs: [{name: mv, query: node_mv, model: ewma, multivariate: {min_rows: 200, train_window: 24h, retrain_every: 1h, top_k: 3}}]\n", Options{})
	j := d.job("mv")
	t.Cleanup(j.stop)
	succ := d.e.m.modelRetrains.WithLabelValues("success")
	before := testutil.ToFloat64(succ)

	// The look-back (361 rows) fits the entity in the first cycle.
	require.NoError(t, d.cycle(t, "mv"))
	require.Len(t, j.mv.list, 1)
	e := j.mv.list[0]
	require.True(t, e.fitted)
	require.Len(t, e.dims, 5)
	require.Equal(t, "node_mv{dim=d0,instance=h:9100}", e.ids[0], "dimensions sorted by labels")
	require.Equal(t, before+1, testutil.ToFloat64(succ), "one entity fit")
	fams := mvGather(t, d)
	require.Equal(t, 0.0, fams["anteater_multivariate_warming"].GetMetric()[0].GetGauge().GetValue())
	require.Equal(t, map[string]string{"anteater_job": "mv", "machine_id": "m0"}, labelMap(fams["anteater_multivariate_score"].GetMetric()[0]))
	require.Less(t, fams["anteater_multivariate_score"].GetMetric()[0].GetGauge().GetValue(), 1.0, "normal rows score under the threshold")
	require.Len(t, fams["anteater_multivariate_contribution"].GetMetric(), 3, "top_k contributions only")

	// Normal cycles of 30 rows: the trainer refits every 60 rows in the
	// background while the cycles keep scoring.
	for k := 0; k < 40 && e.tr.Fits() == 0; k++ {
		d.clk.t = d.clk.t.Add(30 * time.Minute)
		require.NoError(t, d.cycle(t, "mv"))
		require.Less(t, d.job("mv").snap.Load().mv[0].score, 1.0, "cycle %d", k)
		time.Sleep(10 * time.Millisecond)
	}
	require.Positive(t, e.tr.Fits(), "a scheduled retrain finished")
	require.NoError(t, d.cycle(t, "mv"))
	require.GreaterOrEqual(t, testutil.ToFloat64(succ), before+2, "background fits are counted")
	require.Same(t, e, j.mv.list[0], "a retrain keeps the entity")

	// Dimension 2 breaks away from the others.
	broken.Store(d.clk.t.Add(time.Minute).Truncate(time.Minute).UnixMilli())
	d.clk.t = d.clk.t.Add(5 * time.Minute)
	require.NoError(t, d.cycle(t, "mv"))
	fams = mvGather(t, d)
	score := fams["anteater_multivariate_score"].GetMetric()[0].GetGauge().GetValue()
	require.Greater(t, score, 1.0)
	var top *dto.Metric
	for _, m := range fams["anteater_multivariate_contribution"].GetMetric() {
		if top == nil || m.GetGauge().GetValue() > top.GetGauge().GetValue() {
			top = m
		}
	}
	require.Equal(t, map[string]string{"anteater_job": "mv", "machine_id": "m0", "metric": "node_mv", "series": "node_mv{dim=d2,instance=h:9100}"}, labelMap(top))
}

func TestMultivariateWarmsAndRefitsOnNewDimensions(t *testing.T) {
	var broken atomic.Int64
	f := newFakeAPI(5, mvLabels)
	f.value = mvValues(&broken)
	d := newDriven(t, startFake(t, f), "",
		"lookback: 30m\njobs: [{name: mv, query: node_mv, multivariate: {min_rows: 40, train_window: 2h}}]\n", Options{})
	j := d.job("mv")
	t.Cleanup(j.stop)

	// 31 rows of look-back are fewer than min_rows: warming, no score.
	require.NoError(t, d.cycle(t, "mv"))
	fams := mvGather(t, d)
	require.Equal(t, 1.0, fams["anteater_multivariate_warming"].GetMetric()[0].GetGauge().GetValue())
	require.Nil(t, fams["anteater_multivariate_contribution"], "no contributions while warming")
	d.clk.t = d.clk.t.Add(10 * time.Minute)
	require.NoError(t, d.cycle(t, "mv"))
	require.True(t, j.mv.list[0].fitted, "41 rows fit")

	// A sixth series changes the dimensions: the entity starts again from
	// the look-back (30 rows) and the new live row, and fits once it has
	// min_rows.
	f.setSeries(6, mvLabels)
	d.clk.t = d.clk.t.Add(time.Minute)
	require.NoError(t, d.cycle(t, "mv"))
	require.Len(t, j.mv.list, 1)
	e := j.mv.list[0]
	require.Len(t, e.dims, 6)
	require.False(t, e.fitted)
	require.Len(t, e.hist, 31, "the look-back of the new dimensions")
	for _, row := range e.hist {
		require.Len(t, row, 6)
		require.False(t, math.IsNaN(row[5]), "the new series has its history")
	}
	d.clk.t = d.clk.t.Add(10 * time.Minute)
	require.NoError(t, d.cycle(t, "mv"))
	require.True(t, e.fitted)
	require.False(t, d.job("mv").snap.Load().mv[0].warming)
}

func BenchmarkMultivariateFeed(b *testing.B) {
	var broken atomic.Int64
	f := newFakeAPI(8, mvLabels)
	f.value = mvValues(&broken)
	d := newDriven(b, startFake(b, f), "",
		"lookback: 6h\njobs: [{name: mv, query: node_mv, multivariate: {min_rows: 200}}]\n", Options{})
	j := d.job("mv")
	b.Cleanup(j.stop)
	require.NoError(b, d.cycle(b, "mv"))
	e := j.mv.list[0]
	require.True(b, e.fitted)
	items := make([]work, len(e.dims))
	from := e.lastTs + j.set.stepMs
	for i, s := range e.dims {
		items[i] = work{s: s, samples: []model.SamplePair{{Timestamp: model.Time(from), Value: model.SampleValue(10 * (i + 1))}}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// One row per dimension and step, as a live cycle brings.
		e.lastTs = from - j.set.stepMs
		j.mv.feed(items, from, from, false)
	}
}
