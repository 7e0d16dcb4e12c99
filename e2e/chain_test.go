package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/testenv"
)

// shop is the controllable target: a service whose latency follows its
// CPU. The test perturbs the CPU (and so the latency) and expects the
// latency's anomaly to be explained by the CPU. Noise is a hash of the
// second, so every run sees the same values.
type shop struct{ faulty atomic.Bool }

func noise(sec int64, k uint64) float64 {
	x := uint64(sec)*0x9E3779B97F4A7C15 + k*0xBF58476D1CE4E5B9
	x ^= x >> 31
	x *= 0x94D049BB133111EB
	x ^= x >> 29
	return float64(x%2001)/1000 - 1 // [-1, 1]
}

func (s *shop) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	sec := time.Now().Unix()
	cpu, latency := 0.20+0.01*noise(sec, 1), 0.100+0.004*noise(sec, 2)
	if s.faulty.Load() {
		cpu, latency = 0.90+0.01*noise(sec, 1), 0.600+0.004*noise(sec, 2)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, m := range []struct {
		name, help string
		v          float64
	}{
		{"e2e_request_latency_seconds", "Average latency of the shop's requests.", latency},
		{"e2e_cpu_usage", "Share of a CPU the shop uses.", cpu},
		{"e2e_memory_usage", "Share of its memory limit the shop uses.", 0.40 + 0.01*noise(sec, 3)},
		{"e2e_queue_length", "Requests waiting in the shop's queue.", 5 + noise(sec, 4)},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s{service=\"shop\"} %g\n", m.name, m.help, m.name, m.name, m.v)
	}
}

const (
	kpiMetric   = "e2e_request_latency_seconds"
	causeMetric = "e2e_cpu_usage"
	kpiJob      = "shop_latency"
)

// TestChain runs the whole chain on real parts and checks every hop: the
// score on anteater's /metrics, the alert in Prometheus (the repository's
// rules), Alertmanager's notification accepted by the webhook, and the
// anomaly and cause events on Kafka, read with kcat.
func TestChain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: several real processes for about two minutes")
	}
	promBin := requireBinary(t, "prometheus")
	requireBinary(t, "prometheus-alertmanager")
	requireBinary(t, "prometheus-node-exporter")
	requireBinary(t, "kcat")
	bin := anteaterBinary(t)
	dir := t.TempDir()
	began := time.Now()

	target := &shop{}
	tsrv := httptest.NewServer(target)
	t.Cleanup(tsrv.Close)
	node := testenv.StartNodeExporter(t)
	antAddr, brokerAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	antURL := "http://" + antAddr

	am := testenv.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: anteater
  group_by: [alertname, anteater_job, instance]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: anteater
    webhook_configs:
      - url: %s/webhook/alertmanager
        send_resolved: false
`, antURL))

	promAddr := testenv.FreeAddr(t)
	promURL := "http://" + promAddr
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
scrape_configs:
  - job_name: anteater
    honor_labels: true
    static_configs: [{targets: [%q]}]
  - job_name: node
    static_configs: [{targets: [%q]}]
  - job_name: shop
    static_configs: [{targets: [%q]}]
`, repoPath(t, "rules", "anteater.rules.yml"), hostPort(am.URL), antAddr, node.Addr, hostPort(tsrv.URL))), 0o600))
	prom := startProc(t, dir, "prometheus", promBin,
		"--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--web.external-url="+promURL+"/",
		"--rules.alert.resend-delay=1s", "--log.level=warn")
	waitOK(t, prom, promURL+"/-/ready", 30*time.Second)

	// The demo's model (see scripts/demo/anteater.yml): it scores from the
	// 10th sample and keeps scoring a lasting fault.
	antCfg := filepath.Join(dir, "anteater.yml")
	require.NoError(t, os.WriteFile(antCfg, []byte(fmt.Sprintf(`
source: {url: %q, timeout: 5s, retries: 1, retry_backoff: 100ms}
interval: 1s
lookback: 2m
state_dir: %q
jobs:
  - name: %s
    query: %s
    entity_labels: [instance]
    entity_name: shop
    keywords: [app]
    description: Latency of the shop's requests.
    model: ewma
    params: {alpha: "0.01", clip: "1", warmup: "10"}
    threshold: {mode: fixed, fixed: 5}
    direction: up
    min_deviation: 0.05
    window: 10s
  - name: node_load1
    query: node_load1
    entity_labels: [instance]
    entity_name: node
    model: ewma
    params: {alpha: "0.01", clip: "1", warmup: "10"}
    threshold: {mode: fixed, fixed: 5}
    direction: up
    min_deviation: 4
kafka:
  brokers: [%q]
  retry_backoff_min: 50ms
  retry_backoff_max: 500ms
rca:
  candidate_selectors: ['{__name__=~"e2e_.+"}']
  step: 1s
  window_before: 2m
  window_after: 1m
`, promURL, filepath.Join(dir, "anteater-data"), kpiJob, kpiMetric, brokerAddr)), 0o600))
	ant := startProc(t, dir, "anteater", bin, "serve", "--config.file="+antCfg,
		"--web.listen-address="+antAddr, "--kafka.embedded", "--log.level=debug")
	waitOK(t, ant, antURL+"/-/ready", 60*time.Second)

	// Baseline: the model warms up, then scores normal samples for a
	// while, which also gives rca a window before the fault.
	kpi := map[string]string{"anteater_job": kpiJob, "metric": kpiMetric, "job": "shop"}
	waitFor(t, "the shop's latency scored (not warming)", 60*time.Second, func() (bool, string) {
		v := metricValue(t, antURL, "anteater_series_warming", kpi)
		return v == 0, fmt.Sprint("warming=", v)
	})
	time.Sleep(20 * time.Second)
	require.LessOrEqual(t, metricValue(t, antURL, "anteater_anomaly_score", kpi), 1.0, "no anomaly before the fault")
	require.Empty(t, anomalyAlerts(t, promURL, "firing"), "no alert before the fault")

	target.faulty.Store(true)
	fault := time.Now()
	t.Logf("fault injected %s after start", fault.Sub(began).Round(time.Second))
	hop := func(what string) { t.Logf("+%4.0fs %s", time.Since(fault).Seconds(), what) }

	waitFor(t, "score above 1 on /metrics", 20*time.Second, func() (bool, string) {
		v := metricValue(t, antURL, "anteater_anomaly_score", kpi)
		return v > 1, fmt.Sprint("score=", v)
	})
	hop("score above 1 on anteater's /metrics")
	waitFor(t, "AnteaterSeriesAnomaly firing in Prometheus", 120*time.Second, func() (bool, string) {
		a := anomalyAlerts(t, promURL, "firing")
		return len(a) > 0, fmt.Sprint("pending: ", anomalyAlerts(t, promURL, "pending"))
	})
	hop("alert firing in Prometheus")
	waitFor(t, "notification accepted by the webhook", 30*time.Second, func() (bool, string) {
		v := metricValue(t, antURL, "anteater_webhook_alerts_total", map[string]string{"result": "accepted"})
		return v >= 1, fmt.Sprint("accepted=", v)
	})
	hop("webhook accepted the notification")

	anomalies := readTopic(t, brokerAddr, event.DefaultModelTopic, 30*time.Second)
	hop("anomaly event on Kafka")
	causes := readTopic(t, brokerAddr, event.DefaultRCATopic, 30*time.Second)
	hop("cause event on Kafka")

	var an event.Anomaly
	found := false
	for _, raw := range anomalies {
		require.NoError(t, event.Validate(event.KindAnomaly, raw), "anomaly event %s", raw)
		var a event.Anomaly
		require.NoError(t, json.Unmarshal(raw, &a))
		if a.Resource.Metrics == kpiMetric {
			an, found = a, true
		}
	}
	require.True(t, found, "an anomaly event for %s", kpiMetric)
	require.Greater(t, an.Resource.AnomalyScore, 1.0)
	require.Equal(t, "shop", an.Resource.MetricLabel["job"])

	var cause event.Cause
	found = false
	for _, raw := range causes {
		require.NoError(t, event.Validate(event.KindCause, raw), "cause event %s", raw)
		var c event.Cause
		require.NoError(t, json.Unmarshal(raw, &c))
		if c.EventID == an.Attributes.EventID {
			cause, found = c, true
		}
	}
	require.True(t, found, "a cause event for anomaly %s in %d cause events", an.Attributes.EventID, len(causes))
	require.Equal(t, kpiMetric, cause.Resource.AbnormalKPI.MetricID)
	var top []string
	for i, c := range cause.Resource.CauseMetrics {
		if i < 3 {
			top = append(top, c.MetricID)
		}
	}
	t.Logf("top causes: %v", top)
	// Only the CPU changed besides the KPI, so it must come first. (Ranked
	// from the alert's start instead of the anomaly's onset, the window
	// before already holds the fault and the CPU falls behind the noise.)
	require.NotEmpty(t, top)
	require.True(t, hasPrefix(top[:1], causeMetric), "the perturbed %s is the top cause of %v", causeMetric, top)
	require.InDelta(t, 0, metricValue(t, antURL, "anteater_rca_errors_total", nil), 0)
	t.Logf("chain complete in %s (fault to cause event %s)", time.Since(began).Round(time.Second), time.Since(fault).Round(time.Second))
}

func hasPrefix(ids []string, prefix string) bool {
	for _, id := range ids {
		if id == prefix || strings.HasPrefix(id, prefix+"@") {
			return true
		}
	}
	return false
}

// waitFor polls cond every 500ms; on timeout the test fails with the last
// state cond described.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// metricValue reads anteater's /metrics and returns the value of the first
// series of name carrying every label in want; NaN when there is none.
func metricValue(t *testing.T, base, name string, want map[string]string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return math.NaN()
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "anteater's /metrics parses")
	f := fams[name]
	if f == nil {
		return math.NaN()
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, want) {
			return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return math.NaN()
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// anomalyAlerts lists Prometheus' AnteaterSeriesAnomaly alerts of the
// KPI's job in the given state.
func anomalyAlerts(t *testing.T, promURL, state string) []string {
	t.Helper()
	resp, err := http.Get(promURL + "/api/v1/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	var out []string
	for _, a := range body.Data.Alerts {
		if a.Labels["alertname"] == "AnteaterSeriesAnomaly" && a.Labels["anteater_job"] == kpiJob && a.State == state {
			out = append(out, a.Labels["metric"])
		}
	}
	return out
}

// readTopic reads a topic with kcat until it has a record.
func readTopic(t *testing.T, broker, topic string, timeout time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	waitFor(t, "a record on "+topic, timeout, func() (bool, string) {
		out = out[:0]
		for _, r := range testenv.Kcat(t, broker, topic) {
			if r.Payload != nil {
				out = append(out, []byte(*r.Payload))
			}
		}
		return len(out) > 0, "no record yet"
	})
	return out
}
