package exporter

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/internal/testenv"
)

// signal is the test target: four noisy periodic series, two of which get
// a spike or a level shift when the test injects them.
type signal struct {
	spikeAt, shiftAt atomic.Int64 // unix seconds, 0 = not injected
}

var signalSeries = []struct{ name, machine string }{
	{"spike", "m1"}, {"shift", "m1"}, {"clean1", "m2"}, {"clean2", "m2"},
}

func noise(series string, sec int64) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", series, sec)
	return float64(h.Sum64()%2001)/1000 - 1 // [-1, 1]
}

func (s *signal) value(i int, sec int64) float64 {
	name := signalSeries[i].name
	v := 10*float64(i+1) + 2*math.Sin(2*math.Pi*float64(sec)/120) + 0.2*noise(name, sec)
	if at := s.spikeAt.Load(); name == "spike" && at > 0 && sec >= at && sec < at+4 {
		v += 15
	}
	if at := s.shiftAt.Load(); name == "shift" && at > 0 && sec >= at {
		// Large enough for every phase of the sine: n-sigma compares
		// with the mean of the last 64 s, up to 2.5 below or above the
		// current value, so a +10 shift at a trough scored only 0.91.
		v += 25
	}
	return v
}

func (s *signal) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	sec := time.Now().Unix()
	var b strings.Builder
	b.WriteString("# TYPE anteater_test_signal gauge\n")
	for i, ss := range signalSeries {
		fmt.Fprintf(&b, "anteater_test_signal{machine_id=%q,series=%q} %g\n", ss.machine, ss.name, s.value(i, sec))
	}
	_, _ = io.WriteString(w, b.String())
}

// history is OpenMetrics text of the signal's last n seconds as
// Prometheus would have scraped it (job target1, instance addr).
func (s *signal) history(addr string, now time.Time, n int) string {
	var b strings.Builder
	b.WriteString("# TYPE anteater_test_signal gauge\n")
	for i, ss := range signalSeries {
		for sec := now.Unix() - int64(n); sec < now.Unix(); sec++ {
			fmt.Fprintf(&b, "anteater_test_signal{instance=%q,job=\"target1\",machine_id=%q,series=%q} %g %d\n",
				addr, ss.machine, ss.name, s.value(i, sec), sec)
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

const testConfig = `
source:
  url: %s
  timeout: 5s
  retries: 1
  retry_backoff: 100ms
interval: 1s
step: 1s
lookback: %s
series_grace: 1m
state_dir: %s
state_save_interval: 1m
jobs:
  - name: signal
    query: anteater_test_signal
    entity_labels: [machine_id]
    entity_name: test
    keywords: [test]
    description: The test's signal.
    window: 10s
    # The test is about the exporter, not the default model's tuning:
    # n-sigma with a fixed threshold reacts at the first anomalous point.
    model: nsigma
    params: {n: "6"}
  - name: node_cpu
    query: rate(node_cpu_seconds_total[10s])
    entity_labels: [instance]
    entity_name: node
  - name: node_memory
    query: node_memory_MemAvailable_bytes
    entity_labels: [instance]
    entity_name: node
`

// instance is an Exporter running in the test.
type instance struct {
	e    *Exporter
	reg  *prometheus.Registry
	stop func()
}

func loadTestConfig(t *testing.T, url, lookback, stateDir string) *config.Config {
	t.Helper()
	c, err := config.Load(fmt.Appendf(nil, testConfig, url, lookback, stateDir), "")
	require.NoError(t, err)
	return c
}

func startInstance(t *testing.T, c *config.Config, shardTotal, shardIndex int) *instance {
	t.Helper()
	reg := prometheus.NewRegistry()
	e, err := New(Options{
		Registerer: reg, ShardTotal: shardTotal, ShardIndex: shardIndex,
		Logger: promslog.New(&promslog.Config{Writer: testWriter{t}}),
	})
	require.NoError(t, err)
	require.NoError(t, e.ApplyConfig(c))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	in := &instance{e: e, reg: reg, stop: func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}}
	t.Cleanup(in.stop)
	return in
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (in *instance) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { ok, _ := in.e.Ready(); return ok }, timeout, 50*time.Millisecond,
		"exporter not ready")
}

// gauge reads one sample of a family from the exporter and its registry.
func (in *instance) gauge(t *testing.T, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := prometheus.Gatherers{in.reg, in.e}.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k {
			return l.GetValue() == v
		}
	}
	return false
}

// scoredSeries lists the label sets of anteater_anomaly_score.
func (in *instance) scoredSeries(t *testing.T) []string {
	t.Helper()
	mfs, err := in.e.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "anteater_anomaly_score" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			out = append(out, strings.Join(parts, ","))
		}
	}
	slices.Sort(out)
	return out
}

func signalLabels(addr string, i int) map[string]string {
	return map[string]string{
		"instance": addr, "job": "target1",
		"machine_id": signalSeries[i].machine, "series": signalSeries[i].name,
	}
}

// TestAgainstRealPrometheus runs anteater against a real Prometheus that
// scrapes a real node_exporter and a target the test controls.
func TestAgainstRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter")
	}
	node := testenv.StartNodeExporter(t)
	sig := &signal{}
	target := httptest.NewServer(sig)
	t.Cleanup(target.Close)
	targetAddr := strings.TrimPrefix(target.URL, "http://")
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		ScrapeInterval: time.Second,
		Targets:        []string{node.Addr, targetAddr},
		Backfill:       sig.history(targetAddr, time.Now(), 900),
	})
	stateA := t.TempDir()
	a := startInstance(t, loadTestConfig(t, prom.URL(), "10m", stateA), 1, 0)
	a.waitReady(t, 30*time.Second)

	lookup := func(in *instance, i int) SeriesScore {
		s, ok := in.e.Lookup("signal", "anteater_test_signal", signalLabels(targetAddr, i))
		require.True(t, ok, "series %s not scored", signalSeries[i].name)
		return s
	}

	t.Run("cold start from history", func(t *testing.T) {
		for i := range signalSeries {
			w, ok := a.gauge(t, "anteater_series_warming", signalLabels(targetAddr, i))
			require.True(t, ok)
			require.Zero(t, w, "series %s still warming after the first cycle", signalSeries[i].name)
		}
		s := lookup(a, 0)
		require.Equal(t, "m1_test", s.EntityID)
		require.Equal(t, []string{"test"}, s.Keywords)
		require.Equal(t, 10*time.Second, s.Window)
	})

	maxClean := 0.0
	watchClean := func() {
		for _, i := range []int{2, 3} {
			maxClean = max(maxClean, lookup(a, i).Score)
		}
	}

	t.Run("clean series stay below 1", func(t *testing.T) {
		for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			watchClean()
		}
		require.Less(t, maxClean, 1.0)
	})

	t.Run("spike and level shift pass 1 within two cycles", func(t *testing.T) {
		require.Zero(t, lookup(a, 0).Anomalous, "no anomalous point before the injection")
		require.Zero(t, lookup(a, 1).Anomalous, "no anomalous point before the injection")
		at := time.Now().Unix() + 1
		sig.spikeAt.Store(at)
		sig.shiftAt.Store(at)
		injected := time.Unix(at, 0)
		// Two cycles: the scored points up to two steps (1s each) after
		// the first anomalous sample, wherever the scrape put it. Polling
		// every 20ms sees each point's score (it stands for a cycle).
		horizon := injected.Add(3 * time.Second)
		wallCap := time.Now().Add(20 * time.Second)
		var spikeMax, shiftMax float64
		var spikeSeen, shiftSeen time.Duration
		for time.Now().Before(wallCap) && (spikeSeen == 0 || shiftSeen == 0) &&
			(lookup(a, 0).Timestamp.Before(horizon) || lookup(a, 1).Timestamp.Before(horizon)) {
			// A cycle that caught up on two points shows only the last
			// one's score; the window's anomalous-point count sees them
			// all, so a point above 1 within the horizon counts too.
			see := func(i int, best *float64, seen *time.Duration) {
				s := lookup(a, i)
				if s.Score > *best {
					*best = s.Score
				}
				if *seen == 0 && (s.Score > 1 || s.Anomalous > 0 && !s.Timestamp.After(horizon)) {
					*seen = time.Since(injected)
				}
			}
			see(0, &spikeMax, &spikeSeen)
			see(1, &shiftMax, &shiftSeen)
			watchClean()
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("spike score %.2f after %s, shift score %.2f after %s, clean max %.2f", spikeMax, spikeSeen, shiftMax, shiftSeen, maxClean)
		require.NotZero(t, spikeSeen, "spike not detected in time (max score seen %.2f)", spikeMax)
		require.NotZero(t, shiftSeen, "level shift not detected in time (max score seen %.2f)", shiftMax)
		require.Less(t, maxClean, 1.0, "a clean series scored above 1")

		require.Eventually(t, func() bool { return lookup(a, 0).Anomalous > 0 }, 15*time.Second, 50*time.Millisecond)
		ent := a.e.EntityScores(map[string]string{"machine_id": "m1"})
		require.Len(t, ent, 2)
		require.GreaterOrEqual(t, ent[0].Score, ent[1].Score)
		v, ok := a.gauge(t, "anteater_entity_anomaly_score", map[string]string{"anteater_job": "signal", "machine_id": "m1"})
		require.True(t, ok)
		require.GreaterOrEqual(t, v, 0.0)
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			if os.Getenv("ANTEATER_REQUIRE_REAL") != "" {
				t.Fatalf("promtool: %v", err)
			}
			t.Skipf("promtool not installed: %v", err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(versioncollector.NewCollector("anteater"), collectors.NewGoCollector())
		srv := httptest.NewServer(promhttp.HandlerFor(a.e.WithRegistry(prometheus.Gatherers{a.reg, reg}),
			promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		for _, want := range []string{"anteater_anomaly_score{", "anteater_anomaly_ratio{", "anteater_anomalous_points{",
			"anteater_observed_points{", "anteater_expected_value{", "anteater_series_warming{", "anteater_series_stale{",
			"anteater_entity_anomaly_score{", "anteater_build_info{", "anteater_cycle_duration_seconds_bucket{",
			"anteater_source_up ", "anteater_series_tracked{"} {
			require.Contains(t, string(body), want)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool check metrics:\n%s", out)
	})

	t.Run("source down keeps scores stale, then recovers", func(t *testing.T) {
		before := lookup(a, 2)
		prom.Stop()
		require.Eventually(t, func() bool {
			v, _ := a.gauge(t, "anteater_source_up", nil)
			return v == 0
		}, 15*time.Second, 100*time.Millisecond)
		require.Eventually(t, func() bool {
			v, _ := a.gauge(t, "anteater_series_stale", signalLabels(targetAddr, 2))
			return v == 1
		}, 10*time.Second, 100*time.Millisecond)
		after := lookup(a, 2)
		require.Equal(t, before.Labels, after.Labels, "scores kept while the source is down")
		v, ok := a.gauge(t, "anteater_cycles_total", map[string]string{"anteater_job": "signal", "result": "failure"})
		require.True(t, ok)
		require.Positive(t, v)

		prom.Start()
		require.Eventually(t, func() bool {
			up, _ := a.gauge(t, "anteater_source_up", nil)
			stale, _ := a.gauge(t, "anteater_series_stale", signalLabels(targetAddr, 2))
			return up == 1 && stale == 0
		}, 20*time.Second, 100*time.Millisecond)
		require.Greater(t, lookup(a, 2).Timestamp, before.Timestamp)
	})

	t.Run("reload: a broken config keeps the running one, a changed job restarts alone", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "anteater.yml")
		good := fmt.Sprintf(testConfig, prom.URL(), "10m", stateA)
		require.NoError(t, os.WriteFile(path, []byte(good), 0o600))
		coord := config.NewCoordinator(path, a.reg, promslog.NewNopLogger())
		coord.Subscribe(a.e.ApplyConfig)
		cpuJob := a.e.jobs.Load().byName["node_cpu"]
		signalJob := a.e.jobs.Load().byName["signal"]
		require.NoError(t, coord.Reload())
		require.Same(t, cpuJob, a.e.jobs.Load().byName["node_cpu"], "unchanged job kept running")
		require.Same(t, signalJob, a.e.jobs.Load().byName["signal"], "unchanged job kept running")

		require.NoError(t, os.WriteFile(path, []byte(good+"  - name: broken\n    query: 'rate(up'\n"), 0o600))
		require.Error(t, coord.Reload())
		v, _ := a.gauge(t, "anteater_config_last_reload_successful", nil)
		require.Zero(t, v)
		require.Len(t, a.e.jobs.Load().list, 3, "running jobs kept")
		require.Same(t, signalJob, a.e.jobs.Load().byName["signal"])

		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(good, "window: 10s", "window: 20s", 1)), 0o600))
		require.NoError(t, coord.Reload())
		v, _ = a.gauge(t, "anteater_config_last_reload_successful", nil)
		require.Equal(t, 1.0, v)
		require.Same(t, cpuJob, a.e.jobs.Load().byName["node_cpu"])
		require.NotSame(t, signalJob, a.e.jobs.Load().byName["signal"], "changed job restarted")
		a.waitReady(t, 15*time.Second)
		w, ok := a.gauge(t, "anteater_series_warming", signalLabels(targetAddr, 0))
		require.True(t, ok)
		require.Zero(t, w, "restarted job restored its state")
	})

	var reference []string
	t.Run("restart restores state without warm-up", func(t *testing.T) {
		a.stop()
		// A look-back of 3s is far too short to warm a model (nsigma
		// needs 16 points): only restored state avoids it.
		b := startInstance(t, loadTestConfig(t, prom.URL(), "3s", stateA), 1, 0)
		b.waitReady(t, 15*time.Second)
		restored, _ := b.gauge(t, "anteater_state_series_restored_total", nil)
		require.Positive(t, restored)
		for i := range signalSeries {
			w, ok := b.gauge(t, "anteater_series_warming", signalLabels(targetAddr, i))
			require.True(t, ok)
			require.Zero(t, w, "series %s re-warming after restart", signalSeries[i].name)
		}
		require.Less(t, lookup(b, 2).Score, 1.0)
		reference = b.scoredSeries(t)
		b.stop()
	})

	t.Run("two shards score every series exactly once", func(t *testing.T) {
		require.NotEmpty(t, reference)
		c0 := loadTestConfig(t, prom.URL(), "10m", t.TempDir())
		c1 := loadTestConfig(t, prom.URL(), "10m", t.TempDir())
		s0 := startInstance(t, c0, 2, 0)
		s1 := startInstance(t, c1, 2, 1)
		s0.waitReady(t, 30*time.Second)
		s1.waitReady(t, 30*time.Second)
		var got0, got1 []string
		// The node_exporter series set is stable; give both a cycle
		// with the same series.
		require.Eventually(t, func() bool {
			got0, got1 = s0.scoredSeries(t), s1.scoredSeries(t)
			return len(got0)+len(got1) == len(reference)
		}, 10*time.Second, 200*time.Millisecond)
		require.NotEmpty(t, got0)
		require.NotEmpty(t, got1)
		for _, s := range got0 {
			require.NotContains(t, got1, s, "series scored twice")
		}
		union := slices.Sorted(slices.Values(append(slices.Clone(got0), got1...)))
		require.Equal(t, reference, union)
	})
}
