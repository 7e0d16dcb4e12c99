package exporter

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/scorer"
)

func hostLabels(i int) string {
	return fmt.Sprintf(`{"__name__":"node_test","instance":"host-%d:9100","job":"node","machine_id":"m%d"}`, i, i%3)
}

// driven is an Exporter whose jobs the test runs cycle by cycle on a
// settable clock.
type driven struct {
	e   *Exporter
	reg *prometheus.Registry
	clk *clock
}

// newDriven loads a configuration: source is extra source fields, rest the
// remaining top-level fields (jobs, lookback, ...).
func newDriven(t testing.TB, url, source, rest string, opts Options) *driven {
	t.Helper()
	c, err := config.Load(fmt.Appendf(nil, "source: {url: %s, retry_backoff: 1ms, timeout: 60s%s}\ninterval: 1m\nstate_dir: %s\n%s",
		url, source, t.TempDir(), rest), "")
	require.NoError(t, err)
	d := &driven{reg: prometheus.NewRegistry(), clk: &clock{t: time.UnixMilli(1_800_000_000_000)}}
	opts.Registerer = d.reg
	d.e, err = New(opts)
	require.NoError(t, err)
	require.NoError(t, d.e.ApplyConfig(c))
	for _, j := range d.e.jobs.Load().list {
		j.now = d.clk.now
	}
	t.Cleanup(func() {
		d.e.src.close()
		require.NoError(t, d.e.st.close())
	})
	return d
}

func (d *driven) job(name string) *job { return d.e.jobs.Load().byName[name] }

func (d *driven) cycle(t testing.TB, name string) error {
	t.Helper()
	return d.job(name).cycle(context.Background())
}

func TestIncrementalChunkedQueries(t *testing.T) {
	f := newFakeAPI(3, hostLabels)
	d := newDriven(t, startFake(t, f), ", max_points_per_request: 3000",
		"lookback: 30d\njobs: [{name: t, query: node_test, model: ewma}]\n", Options{})
	require.NoError(t, d.cycle(t, "t"))
	reqs := f.reqs()
	require.Greater(t, len(reqs), 4, "30 days of minutes need several chunks")
	step := int64(60_000)
	for i, r := range reqs {
		points := (r.end-r.start)/r.step + 1
		require.LessOrEqual(t, points, int64(11000), "request %d", i)
		if i > 0 {
			require.LessOrEqual(t, points*3, int64(3000), "request %d over the points budget", i)
			require.Equal(t, reqs[i-1].end+step, r.start, "chunks are contiguous")
		}
	}
	j := d.job("t")
	require.Len(t, j.order, 3)
	end := reqs[len(reqs)-1].end
	for _, s := range j.order {
		require.Equal(t, end, s.lastTs)
	}

	// The next cycle asks only for the points after the last one.
	d.clk.t = d.clk.t.Add(3 * time.Minute)
	require.NoError(t, d.cycle(t, "t"))
	next := f.reqs()[len(reqs):]
	require.Len(t, next, 1)
	require.Equal(t, end+step, next[0].start)
	require.Equal(t, end+3*step, next[0].end)
	for _, s := range j.order {
		require.Equal(t, next[0].end, s.lastTs)
		require.False(t, s.got == false, "got new samples")
	}
	// A cycle before the next step is due asks nothing.
	require.NoError(t, d.cycle(t, "t"))
	require.Len(t, f.reqs(), len(reqs)+1)
}

func TestRetries(t *testing.T) {
	f := newFakeAPI(2, hostLabels)
	d := newDriven(t, startFake(t, f), ", retries: 2", "lookback: 10m\njobs: [{name: t, query: node_test}]\n", Options{})
	f.fail = 2
	require.NoError(t, d.cycle(t, "t"), "two failures are retried")
	require.Len(t, f.reqs(), 3)
	require.Equal(t, 1.0, testutil.ToFloat64(d.e.m.sourceUp))
	require.Equal(t, 2.0, testutil.ToFloat64(d.e.m.sourceRequests.WithLabelValues("failure")))

	f.fail = 5
	d.clk.t = d.clk.t.Add(time.Minute)
	require.Error(t, d.cycle(t, "t"))
	require.Equal(t, 0.0, testutil.ToFloat64(d.e.m.sourceUp))
	for _, v := range d.job("t").snap.Load().series {
		require.True(t, v.stale, "series stale after a failed cycle")
	}
}

func TestSeriesCapAndGrace(t *testing.T) {
	f := newFakeAPI(5, hostLabels)
	d := newDriven(t, startFake(t, f), "", "lookback: 10m\nseries_grace: 5m\njobs: [{name: t, query: node_test, max_series: 3}]\n", Options{})
	require.NoError(t, d.cycle(t, "t"))
	require.Len(t, d.job("t").order, 3)
	require.Equal(t, 2.0, testutil.ToFloat64(d.e.m.seriesDropped.WithLabelValues("t", "limit")))
	d.clk.t = d.clk.t.Add(time.Minute)
	require.NoError(t, d.cycle(t, "t"))
	require.Equal(t, 2.0, testutil.ToFloat64(d.e.m.seriesDropped.WithLabelValues("t", "limit")), "a dropped series counts once")

	f.setSeries(1, hostLabels)
	d.clk.t = d.clk.t.Add(time.Minute)
	require.NoError(t, d.cycle(t, "t"))
	require.Len(t, d.job("t").snap.Load().series, 3, "vanished series stay for the grace period")
	d.clk.t = d.clk.t.Add(6 * time.Minute)
	require.NoError(t, d.cycle(t, "t"))
	require.Len(t, d.job("t").snap.Load().series, 1, "vanished series leave after the grace period")
	require.Equal(t, 1.0, testutil.ToFloat64(d.e.m.seriesTracked.WithLabelValues("t")))
}

func TestNewSeriesStartWarm(t *testing.T) {
	f := newFakeAPI(1, hostLabels)
	d := newDriven(t, startFake(t, f), "", "lookback: 4h\njobs: [{name: t, query: node_test, model: ewma}]\n", Options{})
	require.NoError(t, d.cycle(t, "t"))
	j := d.job("t")
	require.Equal(t, scorer.Ready, j.order[0].model.Status(), "4h of minutes warm an ewma model")

	f.setSeries(2, hostLabels)
	n := len(f.reqs())
	d.clk.t = d.clk.t.Add(time.Minute)
	require.NoError(t, d.cycle(t, "t"))
	reqs := f.reqs()[n:]
	require.Len(t, reqs, 2, "one live query, one history query for the new series")
	require.Less(t, reqs[1].end, reqs[0].start, "history ends before the live range")
	for _, s := range j.order {
		require.Equal(t, scorer.Ready, s.model.Status(), "series %v", s.labels)
	}
	require.Equal(t, 1.0, testutil.ToFloat64(d.e.m.modelRetrains.WithLabelValues("success")))
}

func TestShardsSplitSeries(t *testing.T) {
	f := newFakeAPI(40, hostLabels)
	url := startFake(t, f)
	var got [][]*series
	for i := range 2 {
		d := newDriven(t, url, "", "lookback: 10m\njobs: [{name: t, query: node_test}]\n", Options{ShardTotal: 2, ShardIndex: i})
		require.NoError(t, d.cycle(t, "t"))
		got = append(got, d.job("t").order)
	}
	require.NotEmpty(t, got[0])
	require.NotEmpty(t, got[1])
	require.Equal(t, 40, len(got[0])+len(got[1]))
	for _, a := range got[0] {
		require.False(t, slices.ContainsFunc(got[1], func(b *series) bool { return compareLabels(a.labels, b.labels) == 0 }))
	}
}

func TestGatherAndLookup(t *testing.T) {
	f := newFakeAPI(3, hostLabels)
	d := newDriven(t, startFake(t, f), "", `lookback: 10m
jobs:
  - name: t
    query: node_test
    entity_labels: [machine_id]
    entity_name: host
    event_type: sys
    keywords: [cpu]
    description: A test metric.
`, Options{})
	require.NoError(t, d.cycle(t, "t"))
	n, err := testutil.GatherAndCount(d.e, "anteater_anomaly_score", "anteater_series_warming", "anteater_entity_anomaly_score")
	require.NoError(t, err)
	require.Equal(t, 3+3+3, n, "3 series, 3 entities (machine_id m0, m1, m2)")

	labels := map[string]string{"instance": "host-1:9100", "job": "node", "machine_id": "m1"}
	s, ok := d.e.Lookup("t", "node_test", labels)
	require.True(t, ok)
	require.Equal(t, "t", s.Job)
	require.Equal(t, "node_test", s.Metric)
	require.Equal(t, labels, s.Labels)
	require.Equal(t, map[string]string{"machine_id": "m1"}, s.EntityLabels)
	require.Equal(t, "m1_host", s.EntityID)
	require.Equal(t, []string{"cpu"}, s.Keywords)
	require.Equal(t, 5*time.Minute, s.Window)
	require.Equal(t, 5, s.Observed, "points within the 5m window at 1m steps")

	// An alert's labels carry more than the series' identity.
	alert := map[string]string{"instance": "host-1:9100", "job": "node", "machine_id": "m1", "alertname": "AnteaterSeriesAnomaly", "severity": "warning"}
	s2, ok := d.e.Lookup("t", "node_test", alert)
	require.True(t, ok)
	require.Equal(t, s.Labels, s2.Labels)
	_, ok = d.e.Lookup("t", "node_test", map[string]string{"instance": "nowhere"})
	require.False(t, ok)
	_, ok = d.e.Lookup("nojob", "node_test", labels)
	require.False(t, ok)

	es := d.e.EntityScores(map[string]string{"machine_id": "m0"})
	require.Len(t, es, 1)
	require.Equal(t, "host-0:9100", es[0].Labels["instance"])
}

func TestStateRoundTrip(t *testing.T) {
	f := newFakeAPI(2, hostLabels)
	d := newDriven(t, startFake(t, f), "", "lookback: 4h\njobs: [{name: t, query: node_test, model: ewma}]\n", Options{})
	require.NoError(t, d.cycle(t, "t"))
	j := d.job("t")
	for _, s := range j.order {
		b, err := s.encodeState()
		require.NoError(t, err)
		c := newSeries(nil, "t", nil, nil)
		c.model, err = scorer.New(scorer.Spec{Model: "ewma"})
		require.NoError(t, err)
		c.win = newWindow(j.set.windowMs, j.set.stepMs)
		require.NoError(t, c.decodeState(b))
		require.Equal(t, s.lastTs, c.lastTs)
		require.Equal(t, s.win.n, c.win.n)
		require.Equal(t, s.win.anomalous, c.win.anomalous)
		require.Equal(t, scorer.Ready, c.model.Status())
		ts := s.lastTs + 60_000
		require.Equal(t, s.model.Observe(ts, 12), c.model.Observe(ts, 12), "restored model behaves the same")

		require.ErrorIs(t, c.decodeState(b[:3]), errBadState)
		require.ErrorIs(t, c.decodeState([]byte{9}), errBadState)
	}
}

func TestWindow(t *testing.T) {
	w := newWindow(5_000, 1_000) // 6 points
	for i := range 10 {
		w.push(int64(i)*1000, i%2 == 0, 5_000)
	}
	// Points 5..9 are within 5s of 9 (ts > 4000).
	require.EqualValues(t, 5, w.n)
	require.EqualValues(t, 2, w.anomalous) // 6, 8
	v := seriesValue{anomalous: w.anomalous, observed: w.n}
	require.InDelta(t, 0.4, v.ratio(), 1e-9)
	require.Zero(t, (&seriesValue{}).ratio(), "no points, ratio 0")

	small := newWindow(1_000_000, 1) // capped
	require.Len(t, small.buf, maxWindowPoints)
	for i := range 3000 {
		small.push(int64(i), true, 1_000_000)
	}
	require.EqualValues(t, maxWindowPoints, small.n)
	require.EqualValues(t, maxWindowPoints, small.anomalous)
}
