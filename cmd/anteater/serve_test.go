package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/alertmanager/template"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/testenv"
	"github.com/anteater-dev/anteater/webhook"
)

// parseServe parses a serve command line the way main does.
func parseServe(t *testing.T, args ...string) *serveOptions {
	t.Helper()
	app := kingpin.New("anteater", "")
	app.Terminate(nil)
	o := serveFlags(app.Command("serve", ""))
	_, err := app.Parse(append([]string{"serve"}, args...))
	require.NoError(t, err)
	return o
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "anteater.yml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestServeExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "state_dir: "+filepath.Join(dir, "data")+"\njobs: [{name: j, query: up}]\n")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"missing config file", []string{"serve", "--config.file=" + filepath.Join(dir, "nope.yml")}, 1},
		{"shard index out of range", []string{"serve", "--config.file=" + good, "--shard.total=2", "--shard.index=2"}, 1},
		{"flag value not a number", []string{"serve", "--shard.total=two"}, 2},
		{"unknown flag", []string{"serve", "--no-such-flag"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, run(append(tc.args, "--web.listen-address=127.0.0.1:0", "--log.level=error")))
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	state := "state_dir: " + filepath.Join(dir, "data") + "\njobs: [{name: j, query: up}]\n"
	for _, tc := range []struct {
		name   string
		config string // "" leaves the file missing
		args   []string
		want   string
	}{
		{"missing file", "", nil, "read config: open "},
		{"not yaml", "jobs: [\n", nil, "invalid configuration"},
		{"bad field", "interval: soon\n", nil, "interval"},
		{"webhook on /metrics", state + "webhook: {path: /metrics}\n", nil, "path /metrics is taken by anteater's own endpoint"},
		{"webhook path pattern", state + "webhook: {path: '/hook/{x}'}\n", nil, "must not contain braces"},
		{"embedded broker off loopback", state + "kafka: {brokers: ['192.0.2.1:9092']}\n", []string{"--kafka.embedded"}, "not a loopback address"},
		{"embedded broker with two addresses", state + "kafka: {brokers: ['127.0.0.1:1', '127.0.0.1:2']}\n", []string{"--kafka.embedded"}, "exactly one kafka.brokers address"},
		{"shard out of range", state, []string{"--shard.total=2", "--shard.index=5"}, "shard index 5 out of [0, 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			path := filepath.Join(sub, "anteater.yml")
			if tc.config != "" {
				path = writeConfig(t, sub, tc.config)
			}
			o := parseServe(t, append([]string{"--config.file=" + path, "--web.listen-address=127.0.0.1:0"}, tc.args...)...)
			err := serve(context.Background(), o, slog.New(slog.DiscardHandler))
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
			if tc.config == "" {
				require.ErrorContains(t, err, path, "the error names the file")
			}
		})
	}
}

// fakePrometheus answers query_range with series of entity m1: the scored
// signal, a candidate cause that rose with it at the anomaly and one that
// did not move.
func fakePrometheus(t *testing.T, anomaly time.Time) *httptest.Server {
	t.Helper()
	series := func(name string, base, jump float64, start, end time.Time, step time.Duration) map[string]any {
		var vals [][2]any
		for ts := start; !ts.After(end); ts = ts.Add(step) {
			v := base + 0.01*float64(ts.Unix()%3)
			if !ts.Before(anomaly) {
				v += jump
			}
			vals = append(vals, [2]any{float64(ts.UnixMilli()) / 1000, fmt.Sprint(v)})
		}
		return map[string]any{"metric": map[string]string{"__name__": name, "machine_id": "m1", "job": "t"}, "values": vals}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query_range", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		parse := func(k string) time.Time {
			var f float64
			_, _ = fmt.Sscan(r.Form.Get(k), &f)
			return time.UnixMilli(int64(f * 1000))
		}
		step, err := time.ParseDuration(r.Form.Get("step") + "s")
		if err != nil || step <= 0 {
			step = time.Second
		}
		q := r.Form.Get("query")
		start, end := parse("start"), parse("end")
		var result []any
		switch {
		case strings.Contains(q, "anteater_anomaly_score"):
			// No score history: the onset stays the alert's start.
		case strings.Contains(q, `__name__="demo_signal"`) || q == "demo_signal":
			result = append(result, series("demo_signal", 1, 5, start, end, step))
		default:
			result = append(result, series("demo_signal", 1, 5, start, end, step), series("demo_cpu_usage", 0.2, 0.7, start, end, step),
				series("demo_memory_usage", 0.5, 0, start, end, step))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
	})
	mux.HandleFunc("/api/v1/metadata", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{}}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestServeEvents runs serve in process with every component on one
// registry: an Alertmanager notification posted to the webhook comes out
// of the embedded broker as an anomaly and a cause event, /metrics shows
// the webhook and Kafka counters, and serve stops cleanly.
func TestServeEvents(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	// The first cleanup runs last: after the fake Prometheus closed.
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
	anomaly := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	prom := fakePrometheus(t, anomaly)
	dir := t.TempDir()
	broker, listen := freeAddr(t), freeAddr(t)
	path := writeConfig(t, dir, fmt.Sprintf(`
source: {url: %q, retries: 0}
interval: 1s
lookback: 1m
state_dir: %q
jobs:
  - {name: sig, query: demo_signal, entity_labels: [machine_id]}
kafka:
  brokers: [%q]
  retry_backoff_min: 20ms
  retry_backoff_max: 200ms
rca:
  step: 1s
  window_before: 2m
  window_after: 1m
`, prom.URL, filepath.Join(dir, "data"), broker))
	o := parseServe(t, "--config.file="+path, "--web.listen-address="+listen, "--kafka.embedded", "--web.shutdown-timeout=2s")
	logs := &testenv.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, logger) }()
	stopped := false
	defer func() {
		if !stopped { // a failed assertion: stop serve before goleak looks
			cancel()
			<-done
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	}()
	base := "http://" + listen
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "ready")

	notify := func(fingerprint string) {
		t.Helper()
		body, err := json.Marshal(webhook.Message{
			Data: &template.Data{
				Receiver: "anteater", Status: "firing",
				Alerts: []template.Alert{{
					Status: "firing", StartsAt: anomaly, Fingerprint: fingerprint,
					Labels: template.KV{"alertname": "AnteaterSeriesAnomaly", "anteater": "anomaly", "anteater_job": "sig",
						"metric": "demo_signal", "severity": "info", "machine_id": "m1", "job": "t"},
					Annotations: template.KV{"score": "3", "ratio": "0.8"},
				}},
				GroupLabels: template.KV{}, CommonLabels: template.KV{}, CommonAnnotations: template.KV{},
			},
			Version: "4", GroupKey: "{}:{}",
		})
		require.NoError(t, err)
		resp, err := http.Post(base+webhook.DefaultPath, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	}
	notify("f1")

	recs := consume(t, broker, 1, event.DefaultModelTopic, event.DefaultRCATopic)
	require.NoError(t, event.Validate(event.KindAnomaly, recs[event.DefaultModelTopic][0]))
	require.NoError(t, event.Validate(event.KindCause, recs[event.DefaultRCATopic][0]))
	var cause event.Cause
	require.NoError(t, json.Unmarshal(recs[event.DefaultRCATopic][0], &cause))
	require.Len(t, cause.Resource.CauseMetrics, 2)
	// metric@entity: the label topology names the entity host/m1.
	require.Equal(t, "demo_cpu_usage@host/m1", cause.Resource.CauseMetrics[0].MetricID)
	require.Equal(t, "demo_signal", cause.Resource.AbnormalKPI.MetricID)

	fams := scrape(t, base+"/metrics")
	require.InDelta(t, 1, value(fams, "anteater_webhook_alerts_total", "result", "accepted"), 0)
	require.InDelta(t, 1, value(fams, "anteater_events_total", "kind", "anomaly"), 0)
	require.InDelta(t, 1, value(fams, "anteater_events_total", "kind", "cause"), 0)
	require.InDelta(t, 0, value(fams, "anteater_rca_errors_total"), 0)
	require.Contains(t, fams, "anteater_anomaly_score", "the exporter's scores share the registry")

	// A reload rebuilds rca (max_causes 1 now); the webhook section
	// needs a restart, so its new path is not served.
	cfg, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg = []byte(strings.Replace(string(cfg), "rca:\n", "webhook: {path: /elsewhere}\nrca:\n  max_causes: 1\n", 1))
	require.NoError(t, os.WriteFile(path, cfg, 0o600))
	resp, err := http.Post(base+"/-/reload", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, logs.String(), "The webhook section changed; it applies after a restart")
	notify("f2")
	recs = consume(t, broker, 2, event.DefaultModelTopic, event.DefaultRCATopic)
	require.NoError(t, json.Unmarshal(recs[event.DefaultRCATopic][1], &cause))
	require.Len(t, cause.Resource.CauseMetrics, 1, "the reloaded rca section applies")

	cancel()
	select {
	case err := <-done:
		stopped = true
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// consume reads the topics from the start until each has want records.
func consume(t *testing.T, broker string, want int, topics ...string) map[string][][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	out := map[string][][]byte{}
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n < want*len(topics) {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "got %d of %d records", n, want*len(topics))
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Topic] = append(out[r.Topic], r.Value)
			n++
		})
	}
	for _, tp := range topics {
		require.Len(t, out[tp], want, "topic %s", tp)
	}
	return out
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value is the counter or gauge of the family's series with exactly
// these label name/value pairs; NaN when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return math.NaN()
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			found := false
			for i := 0; i+1 < len(labels); i += 2 {
				if labels[i] == lp.GetName() && labels[i+1] == lp.GetValue() {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// The webhook is served by the same exporter-toolkit server as /metrics,
// so --web.config.file's basic auth guards it too.
func TestServeWebConfigGuardsWebhook(t *testing.T) {
	prom := fakePrometheus(t, time.Now())
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	webCfg := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webCfg, []byte("basic_auth_users:\n  am: "+string(hash)+"\n"), 0o600))
	listen := freeAddr(t)
	path := writeConfig(t, dir, fmt.Sprintf("source: {url: %q}\ninterval: 1s\nstate_dir: %q\njobs: [{name: sig, query: demo_signal}]\nkafka: {brokers: [%q]}\n",
		prom.URL, filepath.Join(dir, "data"), freeAddr(t)))
	o := parseServe(t, "--config.file="+path, "--web.listen-address="+listen, "--web.config.file="+webCfg, "--web.shutdown-timeout=2s")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	post := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+listen+webhook.DefaultPath, strings.NewReader("{}"))
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return post("", "") == http.StatusUnauthorized }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, post("am", "wrong"))
	// Past the web server's auth, the webhook itself answers: {} is not
	// a notification.
	require.Equal(t, http.StatusBadRequest, post("am", "s3cret"))
}
