package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/internal/testenv"
	"github.com/anteater-dev/anteater/webhook"
)

// fakePublisher records what the worker hands over.
type fakePublisher struct {
	mu       sync.Mutex
	msgs     []kafka.Message
	fail     error         // returned by Enqueue while set
	attempts int           // Enqueue calls
	gate     chan struct{} // when set, Enqueue waits for it
}

func (p *fakePublisher) Enqueue(ctx context.Context, msgs ...kafka.Message) error {
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if p.fail != nil {
		return p.fail
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *fakePublisher) got() []kafka.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]kafka.Message(nil), p.msgs...)
}

// fakeScores is an exporter with fixed scores.
type fakeScores struct{ series []webhook.SeriesScore }

func (f fakeScores) Lookup(job, metric string, labels map[string]string) (webhook.SeriesScore, bool) {
	for _, s := range f.series {
		if s.Job == job && s.Metric == metric && fmt.Sprint(s.Labels) == fmt.Sprint(labels) {
			return s, true
		}
	}
	return webhook.SeriesScore{}, false
}

func (f fakeScores) EntityScores(entity map[string]string) []webhook.SeriesScore {
	var out []webhook.SeriesScore
	for _, s := range f.series {
		if s.EntityLabels["machine_id"] == entity["machine_id"] {
			out = append(out, s)
		}
	}
	return out
}

// fakeRCA answers with a fixed cause.
type fakeRCA struct {
	mu    sync.Mutex
	calls []event.Incident
	err   error
}

func (f *fakeRCA) Infer(_ context.Context, inc event.Incident) (*event.Cause, error) {
	f.mu.Lock()
	f.calls = append(f.calls, inc)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	kw := "process"
	return &event.Cause{
		Timestamp: inc.Time.UnixMilli() + 1000,
		Resource: event.CauseResource{
			AbnormalKPI: event.KPI{MetricID: inc.Metric, EntityID: inc.Anomaly.Attributes.EntityID, MetricLabels: inc.Labels, Score: inc.Score},
			CauseMetrics: []event.CauseMetric{{
				MetricID: "node_cpu_seconds_total", MetricLabels: map[string]string{"machine_id": "m1"}, Keyword: &kw, Score: 0.9,
				Path: []event.PathNode{{"machine_id": "m1", "pod_state": "abnormal"}},
			}},
		},
		Top1: "node_cpu_seconds_total异常", Keywords: []*string{&kw},
		SeverityText: "WARN", SeverityNumber: 13, Body: "A cause inferring event for an abnormal event",
	}, nil
}

// server runs a webhook on an httptest server until the test ends.
type server struct {
	w   *webhook.Webhook
	url string
	reg *prometheus.Registry
}

func startServer(t *testing.T, cfg webhook.Config, scores webhook.ScoreSource, rca webhook.CauseInferer, pub webhook.Publisher) *server {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	reg := prometheus.NewRegistry()
	w, err := webhook.New(cfg, nil, reg, scores, rca, pub)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		require.NoError(t, <-done)
	})
	// Run marks itself started before serving; wait for it.
	require.Eventually(t, func() bool {
		resp, err := http.Get(srv.URL + w.Path())
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusUnauthorized
	}, 5*time.Second, 5*time.Millisecond)
	return &server{w: w, url: srv.URL + w.Path(), reg: reg}
}

var t0 = time.Date(2024, 8, 22, 0, 51, 23, 452_000_000, time.UTC)

func anteaterAlert(machine string, startsAt time.Time) template.Alert {
	return template.Alert{
		Status: "firing",
		Labels: template.KV{
			"alertname": "AnteaterSeriesAnomaly", "anteater": "anomaly", "anteater_job": "sli", "metric": "gala_gopher_ksliprobe_recent_rtt_nsec",
			"severity": "warning", "machine_id": machine, "tgid": "1513", "conn_fd": "18",
		},
		Annotations: template.KV{"score": "1.7", "ratio": "0.8", "summary": "anomaly"},
		StartsAt:    startsAt,
	}
}

func notification(alerts ...template.Alert) []byte {
	m := webhook.Message{
		Data: &template.Data{
			Receiver: "anteater", Status: "firing", Alerts: alerts,
			GroupLabels: template.KV{"alertname": "AnteaterSeriesAnomaly"}, CommonLabels: template.KV{}, CommonAnnotations: template.KV{},
			ExternalURL: "http://am",
		},
		Version: "4", GroupKey: `{}:{alertname="AnteaterSeriesAnomaly"}`,
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func post(t *testing.T, url string, body []byte, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out), "every answer is JSON")
	return resp.StatusCode, out
}

type stoppable struct {
	url  string
	stop func()
}

// startServerNoCleanup runs a webhook that the test stops itself (to
// restart on the same state dir).
func startServerNoCleanup(t *testing.T, dir string, pub webhook.Publisher) stoppable {
	t.Helper()
	w, err := webhook.New(webhook.Config{StateDir: dir}, nil, nil, nil, nil, pub)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	srv := httptest.NewServer(w.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	require.Eventually(t, func() bool {
		resp, err := http.Get(srv.URL + w.Path())
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusMethodNotAllowed
	}, 5*time.Second, 5*time.Millisecond)
	return stoppable{url: srv.URL + w.Path(), stop: stop}
}

// metric selects one series of a registry by name and label name/value
// pairs (in label-name order), for testutil.ToFloat64.
func metric(reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	return testenv.Metric(reg, name, labels...)
}
