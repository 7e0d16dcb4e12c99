package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/webhook"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

func TestFiringAlertBecomesAnomalyAndCauseEvents(t *testing.T) {
	scores := fakeScores{series: []webhook.SeriesScore{
		{
			Job: "sli", Metric: "gala_gopher_ksliprobe_recent_rtt_nsec",
			Labels:       map[string]string{"machine_id": "m1", "tgid": "1513", "conn_fd": "18"},
			EntityLabels: map[string]string{"machine_id": "m1"}, EntityID: "m1_sli_1513_18",
			EventType: "app", Description: "sli performance",
			Score: 1.5, Ratio: 0.75, Anomalous: 9, Observed: 12, Window: time.Minute,
		},
		{Job: "tcp", Metric: "gala_gopher_tcp_link_notack_bytes", Labels: map[string]string{"machine_id": "m1", "tgid": "1"}, EntityLabels: map[string]string{"machine_id": "m1"}, Score: 0.24},
		{Job: "tcp", Metric: "gala_gopher_tcp_link_notack_bytes", Labels: map[string]string{"machine_id": "m1", "tgid": "2"}, EntityLabels: map[string]string{"machine_id": "m1"}, Score: 0.1},
		{Job: "cpu", Metric: "node_cpu", Labels: map[string]string{"machine_id": "m1"}, EntityLabels: map[string]string{"machine_id": "m1"}, Score: 0.9},
		{Job: "cpu", Metric: "node_load", Labels: map[string]string{"machine_id": "m2"}, EntityLabels: map[string]string{"machine_id": "m2"}, Score: 5},
	}}
	for i, m := range []string{"a", "b", "c", "d", "e"} {
		scores.series = append(scores.series, webhook.SeriesScore{Job: "x", Metric: "metric_" + m, Labels: map[string]string{"machine_id": "m1"}, EntityLabels: map[string]string{"machine_id": "m1"}, Score: 0.01 * float64(i)})
	}
	pub, rca := &fakePublisher{}, &fakeRCA{}
	s := startServer(t, webhook.Config{}, scores, rca, pub)

	other := anteaterAlert("m9", t0)
	other.Labels["anteater"] = "" // not anteater's
	resolved := anteaterAlert("m1", t0.Add(-time.Hour))
	resolved.Status = "resolved"
	resolved.EndsAt = t0
	code, body := post(t, s.url, notification(anteaterAlert("m1", t0), other, resolved))
	require.Equal(t, 202, code, body)
	require.Equal(t, map[string]any{"accepted": 1.0, "duplicate": 0.0, "ignored": 1.0, "resolved": 1.0}, body["alerts"])

	require.Eventually(t, func() bool { return len(pub.got()) == 2 }, 30*time.Second, 5*time.Millisecond)
	msgs := pub.got()
	require.Equal(t, event.KindAnomaly, msgs[0].Kind)
	require.Equal(t, "m1_sli_1513_18", msgs[0].Key)
	require.Equal(t, "1724287883452_m1_sli_1513_18", msgs[0].ID)
	require.NoError(t, event.Validate(event.KindAnomaly, msgs[0].Value))
	require.JSONEq(t, `{
		"Timestamp": 1724287883452,
		"Attributes": {"entity_id": "m1_sli_1513_18", "event_id": "1724287883452_m1_sli_1513_18", "event_type": "app"},
		"Resource": {
			"anomaly_score": 1.5, "anomaly_count": 9, "total_count": 12, "duration": 60, "anomaly_ratio": 0.75,
			"metric_label": {"machine_id": "m1", "tgid": "1513", "conn_fd": "18"},
			"recommend_metrics": {
				"node_cpu": {"label": {"__name__": "node_cpu", "machine_id": "m1"}, "score": 0.9},
				"gala_gopher_tcp_link_notack_bytes": {"label": {"__name__": "gala_gopher_tcp_link_notack_bytes", "machine_id": "m1", "tgid": "1"}, "score": 0.24},
				"metric_e": {"label": {"__name__": "metric_e", "machine_id": "m1"}, "score": 0.04},
				"metric_d": {"label": {"__name__": "metric_d", "machine_id": "m1"}, "score": 0.03},
				"metric_c": {"label": {"__name__": "metric_c", "machine_id": "m1"}, "score": 0.02}
			},
			"metrics": "gala_gopher_ksliprobe_recent_rtt_nsec"
		},
		"SeverityText": "WARN", "SeverityNumber": 14,
		"Body": "Thu Aug 22 00:51:23 2024, WARN, APP may be impacting sli performance issues."
	}`, string(msgs[0].Value))

	require.Equal(t, event.KindCause, msgs[1].Kind)
	require.Equal(t, "1724287883452_m1_sli_1513_18", msgs[1].Key)
	require.NoError(t, event.Validate(event.KindCause, msgs[1].Value))
	var c event.Cause
	require.NoError(t, json.Unmarshal(msgs[1].Value, &c))
	require.Equal(t, "1724287883452_m1_sli_1513_18", c.EventID)
	require.Equal(t, "root-cause-inference", c.Attributes.EventSource)

	require.Len(t, rca.calls, 1)
	inc := rca.calls[0]
	require.Equal(t, "sli", inc.Job)
	require.Equal(t, map[string]string{"machine_id": "m1"}, inc.EntityLabels)
	require.InDelta(t, 1.5, inc.Score, 0)
	require.True(t, inc.Time.Equal(t0))

	require.Eventually(t, func() bool { return s.w.QueueLength() == 0 }, 30*time.Second, 5*time.Millisecond)
	require.InDelta(t, 1, testutil.ToFloat64(metric(s.reg, "anteater_webhook_alerts_total", "result", "ignored")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(metric(s.reg, "anteater_webhook_requests_total", "code", "202")), 0)
}

func TestScoreLookupMissFallsBackToAnnotations(t *testing.T) {
	pub, rca := &fakePublisher{}, &fakeRCA{err: errors.New("no topology")}
	s := startServer(t, webhook.Config{}, fakeScores{}, rca, pub)
	code, _ := post(t, s.url, notification(anteaterAlert("m1", t0)))
	require.Equal(t, 202, code)
	require.Eventually(t, func() bool { return len(pub.got()) == 1 }, 30*time.Second, 5*time.Millisecond)
	var a event.Anomaly
	require.NoError(t, json.Unmarshal(pub.got()[0].Value, &a))
	require.NoError(t, event.Validate(event.KindAnomaly, pub.got()[0].Value))
	require.InDelta(t, 1.7, a.Resource.AnomalyScore, 1e-12)
	require.InDelta(t, 0.8, a.Resource.AnomalyRatio, 1e-12)
	require.Equal(t, "m1_sli_18_1513", a.Attributes.EntityID, "machine id, job, then other label values by name")
	require.Equal(t, map[string]string{"machine_id": "m1", "tgid": "1513", "conn_fd": "18"}, a.Resource.MetricLabel)
	require.Empty(t, a.Resource.RecommendMetrics)
	require.Eventually(t, func() bool { return testutil.ToFloat64(metric(s.reg, "anteater_rca_errors_total")) == 1 }, 30*time.Second, 5*time.Millisecond)
}

func TestResolvedAlertsWhenEnabled(t *testing.T) {
	pub := &fakePublisher{}
	s := startServer(t, webhook.Config{SendResolved: true}, nil, &fakeRCA{}, pub)
	a := anteaterAlert("m1", t0)
	a.Status, a.EndsAt = "resolved", t0.Add(5*time.Minute)
	code, _ := post(t, s.url, notification(a))
	require.Equal(t, 202, code)
	require.Eventually(t, func() bool { return len(pub.got()) == 1 }, 30*time.Second, 5*time.Millisecond)
	m := pub.got()[0]
	require.NoError(t, event.Validate(event.KindAnomaly, m.Value))
	var an event.Anomaly
	require.NoError(t, json.Unmarshal(m.Value, &an))
	require.Equal(t, "INFO", an.SeverityText)
	require.Equal(t, t0.Add(5*time.Minute).UnixMilli(), an.Timestamp, "a resolved event is stamped with endsAt")
}

func TestDuplicatesGiveOneEventAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	pub := &fakePublisher{}
	s := startServer(t, webhook.Config{StateDir: dir}, nil, nil, pub)
	body := notification(anteaterAlert("m1", t0), anteaterAlert("m2", t0))
	code, resp := post(t, s.url, body)
	require.Equal(t, 202, code)
	require.Equal(t, 2.0, resp["alerts"].(map[string]any)["accepted"])
	// The HA peer sends the same alerts under its own receiver.
	peer := strings.Replace(string(body), `"receiver":"anteater"`, `"receiver":"anteater-peer"`, 1)
	code, resp = post(t, s.url, []byte(peer))
	require.Equal(t, 202, code)
	require.Equal(t, 2.0, resp["alerts"].(map[string]any)["duplicate"])
	require.Eventually(t, func() bool { return len(pub.got()) == 2 }, 30*time.Second, 5*time.Millisecond)

	// A new startsAt is a new anomaly.
	code, resp = post(t, s.url, notification(anteaterAlert("m1", t0.Add(time.Hour))))
	require.Equal(t, 202, code)
	require.Equal(t, 1.0, resp["alerts"].(map[string]any)["accepted"])
	require.Eventually(t, func() bool { return len(pub.got()) == 3 }, 30*time.Second, 5*time.Millisecond)
}

func TestDedupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	pub := &fakePublisher{}
	body := notification(anteaterAlert("m1", t0))
	first := startServerNoCleanup(t, dir, pub)
	code, _ := post(t, first.url, body)
	require.Equal(t, 202, code)
	require.Eventually(t, func() bool { return len(pub.got()) == 1 }, 30*time.Second, 5*time.Millisecond)
	first.stop()

	second := startServer(t, webhook.Config{StateDir: dir}, nil, nil, pub)
	code, resp := post(t, second.url, body)
	require.Equal(t, 202, code)
	require.Equal(t, 1.0, resp["alerts"].(map[string]any)["duplicate"])
	time.Sleep(100 * time.Millisecond)
	require.Len(t, pub.got(), 1)
}

func TestRejectedRequestsChangeNothing(t *testing.T) {
	good := notification(anteaterAlert("m1", t0))
	big := make([]byte, 2048)
	for i := range big {
		big[i] = ' '
	}
	copy(big, good)
	for _, tc := range []struct {
		name string
		body string
		hdr  []string
		code int
		err  string
	}{
		{"malformed JSON", `{"version":"4",`, nil, 400, "invalid JSON"},
		{"not an object", `[1,2]`, nil, 400, "invalid JSON"},
		{"missing version", strings.Replace(string(good), `"version":"4"`, `"v":"4"`, 1), nil, 400, "missing version"},
		{"wrong version", strings.Replace(string(good), `"version":"4"`, `"version":"3"`, 1), nil, 400, "unsupported version"},
		{"missing groupKey", strings.Replace(string(good), `"groupKey"`, `"gk"`, 1), nil, 400, "missing groupKey"},
		{"missing alerts", strings.Replace(string(good), `"alerts"`, `"alertz"`, 1), nil, 400, "missing alerts"},
		{"alert without startsAt", strings.Replace(string(good), `"startsAt":"2024-08-22T00:51:23.452Z"`, `"startsAt":"0001-01-01T00:00:00Z"`, 1), nil, 400, "missing startsAt"},
		{"bad alert status", strings.Replace(string(good), `"status":"firing","labels"`, `"status":"pending","labels"`, 1), nil, 400, "neither firing nor resolved"},
		{"trailing garbage", string(good) + "x", nil, 400, "invalid JSON"},
		{"oversized", string(big) + strings.Repeat(" ", 4096), nil, 413, "exceeds"},
		{"no credentials", string(good), []string{"Authorization", ""}, 401, "credentials"},
		{"wrong token", string(good), []string{"Authorization", "Bearer nope"}, 401, "credentials"},
		{"wrong basic", string(good), []string{"Authorization", "Basic dTpw"}, 401, "credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{}
			s := startServer(t, webhook.Config{MaxBodyBytes: 4096, Auth: webhook.AuthConfig{BearerToken: "s3cret"}}, nil, nil, pub)
			hdr := tc.hdr
			if hdr == nil {
				hdr = []string{"Authorization", "Bearer s3cret"}
			}
			code, resp := post(t, s.url, []byte(tc.body), hdr...)
			require.Equal(t, tc.code, code, resp)
			require.Equal(t, "error", resp["status"])
			require.Contains(t, resp["error"], tc.err)
			require.Equal(t, 0, s.w.QueueLength())
			time.Sleep(20 * time.Millisecond)
			require.Empty(t, pub.got())
			require.InDelta(t, 0, testutil.ToFloat64(metric(s.reg, "anteater_webhook_alerts_total", "result", "accepted")), 0)
		})
	}
}

func TestAuthAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		auth webhook.AuthConfig
		hdr  []string
	}{
		{"bearer", webhook.AuthConfig{BearerToken: "tok"}, []string{"Authorization", "Bearer tok"}},
		{"basic", webhook.AuthConfig{BasicAuth: webhook.BasicAuthConfig{Username: "am", Password: "pw"}}, []string{"Authorization", "Basic YW06cHc="}},
		{"none configured", webhook.AuthConfig{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, webhook.Config{Auth: tc.auth}, nil, nil, &fakePublisher{})
			code, resp := post(t, s.url, notification(anteaterAlert("m1", t0)), tc.hdr...)
			require.Equal(t, 202, code, resp)
		})
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	pub := &fakePublisher{gate: make(chan struct{})} // the worker cannot hand over
	s := startServer(t, webhook.Config{QueueSize: 3}, nil, nil, pub)
	code, _ := post(t, s.url, notification(anteaterAlert("a", t0), anteaterAlert("b", t0)))
	require.Equal(t, 202, code)
	code, resp := post(t, s.url, notification(anteaterAlert("c", t0), anteaterAlert("d", t0)))
	require.Equal(t, 503, code, resp)
	require.Contains(t, resp["error"], "queue full")
	require.Equal(t, 2, s.w.QueueLength(), "a rejected request stores nothing")
	code, _ = post(t, s.url, notification(anteaterAlert("c", t0)))
	require.Equal(t, 202, code)
	close(pub.gate)
	require.Eventually(t, func() bool { return s.w.QueueLength() == 0 && len(pub.got()) == 3 }, 30*time.Second, 5*time.Millisecond)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  webhook.Config
		err  string
	}{
		{"defaults", webhook.Config{}, ""},
		{"relative path", webhook.Config{Path: "x"}, "must start with /"},
		{"token and file", webhook.Config{Auth: webhook.AuthConfig{BearerToken: "a", BearerTokenFile: "f"}}, "exclusive"},
		{"password without user", webhook.Config{Auth: webhook.AuthConfig{BasicAuth: webhook.BasicAuthConfig{Password: "p"}}}, "username"},
		{"user without password", webhook.Config{Auth: webhook.AuthConfig{BasicAuth: webhook.BasicAuthConfig{Username: "u"}}}, "password"},
		{"negative ttl", webhook.Config{DedupTTL: -time.Second}, "dedup_ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg.WithDefaults()
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				require.Equal(t, webhook.DefaultPath, c.Path)
				require.Equal(t, int64(4<<20), c.MaxBodyBytes)
				require.Equal(t, 24*time.Hour, c.DedupTTL)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestOversizedChunkedBody(t *testing.T) {
	pub := &fakePublisher{}
	s := startServer(t, webhook.Config{MaxBodyBytes: 1024}, nil, nil, pub)
	body := append(notification(anteaterAlert("m1", t0)), []byte(strings.Repeat(" ", 2048))...)
	// An io.Reader without a length is sent chunked: the limit applies while reading.
	req, err := http.NewRequest(http.MethodPost, s.url, io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, 0, s.w.QueueLength())
	require.Empty(t, pub.got())
}

func TestEmptyCredentialFilesAreRejected(t *testing.T) {
	empty := t.TempDir() + "/empty"
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	for _, tc := range []struct {
		name string
		auth webhook.AuthConfig
		err  string
	}{
		{"bearer token file", webhook.AuthConfig{BearerTokenFile: empty}, "bearer_token_file"},
		// An empty password would let anyone in who knows the user name.
		{"password file", webhook.AuthConfig{BasicAuth: webhook.BasicAuthConfig{Username: "u", PasswordFile: empty}}, "password_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.New(webhook.Config{StateDir: t.TempDir(), Auth: tc.auth}, nil, nil, nil, nil, &fakePublisher{})
			require.ErrorContains(t, err, tc.err)
			require.ErrorContains(t, err, "empty")
		})
	}
}

// TestNewFailsCleanly: a metric conflict or a store that cannot open is
// an error, not a panic, and leaves neither an open database nor
// registered metrics behind.
func TestNewFailsCleanly(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	first, err := webhook.New(webhook.Config{StateDir: dir}, nil, reg, nil, nil, &fakePublisher{})
	require.NoError(t, err)

	other := t.TempDir()
	_, err = webhook.New(webhook.Config{StateDir: other}, nil, reg, nil, nil, &fakePublisher{})
	require.ErrorContains(t, err, "registering metrics")
	require.NoFileExists(t, filepath.Join(other, "webhook.db"), "no store opened for a webhook that failed")
	require.NoError(t, first.Close())

	// A store that cannot open (its directory is a file) takes the
	// metrics back out: the next New on the same registry works.
	reg = prometheus.NewRegistry()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = webhook.New(webhook.Config{StateDir: file}, nil, reg, nil, nil, &fakePublisher{})
	require.Error(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Empty(t, mfs, "metrics unregistered")
	w, err := webhook.New(webhook.Config{StateDir: t.TempDir()}, nil, reg, nil, nil, &fakePublisher{})
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

// TestEnqueueRetryKeepsBuiltEvents: while the outbox refuses, the worker
// retries with the events it built, without running the root-cause
// inference again.
func TestEnqueueRetryKeepsBuiltEvents(t *testing.T) {
	pub, rca := &fakePublisher{fail: errors.New("disk full")}, &fakeRCA{}
	s := startServer(t, webhook.Config{}, fakeScores{}, rca, pub)
	code, _ := post(t, s.url, notification(anteaterAlert("m1", t0)))
	require.Equal(t, 202, code)
	require.Eventually(t, func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return pub.attempts >= 3
	}, 30*time.Second, 5*time.Millisecond)
	pub.mu.Lock()
	pub.fail = nil
	pub.mu.Unlock()
	require.Eventually(t, func() bool { return len(pub.got()) == 2 }, 30*time.Second, 5*time.Millisecond)
	rca.mu.Lock()
	defer rca.mu.Unlock()
	require.Len(t, rca.calls, 1, "one inference, however many hand-over attempts")
}

// TestNotReadyBeforeRun: until Run starts, every request, a readiness
// probe's GET as well as a notification, is answered 503, so a probe
// can wait for the webhook; once it runs a GET gets 405.
func TestNotReadyBeforeRun(t *testing.T) {
	w, err := webhook.New(webhook.Config{StateDir: t.TempDir()}, nil, prometheus.NewRegistry(), nil, nil, &fakePublisher{})
	require.NoError(t, err)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	get := func() int {
		resp, err := http.Get(srv.URL + w.Path())
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	require.Equal(t, http.StatusServiceUnavailable, get())
	code, resp := post(t, srv.URL+w.Path(), notification(anteaterAlert("m1", t0)))
	require.Equal(t, http.StatusServiceUnavailable, code, resp)
	require.Zero(t, w.QueueLength(), "nothing is accepted before Run")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	require.Eventually(t, func() bool { return get() == http.StatusMethodNotAllowed }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
