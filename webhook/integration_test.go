package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/internal/testenv"
	"github.com/anteater-dev/anteater/webhook"
)

// stack is the webhook with the real Kafka publisher, in process.
type stack struct {
	url string
	pub *kafka.Publisher
	reg *prometheus.Registry
}

func kafkaTestConfig(addr string) kafka.Config {
	return kafka.Config{Brokers: []string{addr}, RetryBackoffMin: 20 * time.Millisecond, RetryBackoffMax: 300 * time.Millisecond, WriteTimeout: 3 * time.Second}
}

func startStack(t *testing.T, brokerAddr string, cfg webhook.Config, scores webhook.ScoreSource) *stack {
	t.Helper()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	pub, err := kafka.NewPublisher(kafkaTestConfig(brokerAddr), filepath.Join(dir, "outbox"), nil, reg)
	require.NoError(t, err)
	cfg.StateDir = filepath.Join(dir, "webhook")
	w, err := webhook.New(cfg, nil, reg, scores, nil, pub)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	go func() { errs <- pub.Run(ctx) }()
	go func() { errs <- w.Run(ctx) }()
	go func() {
		if err := srv.Serve(l); err != http.ErrServerClosed {
			errs <- err
			return
		}
		errs <- nil
	}()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		cancel()
		for range 3 {
			require.NoError(t, <-errs)
		}
	})
	url := "http://" + l.Addr().String() + w.Path()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode != http.StatusServiceUnavailable
	}, 5*time.Second, 5*time.Millisecond)
	return &stack{url: url, pub: pub, reg: reg}
}

func TestAlertmanagerToKafka(t *testing.T) {
	k := testenv.StartKafka(t, 1, event.DefaultModelTopic, event.DefaultRCATopic)
	scores := fakeScores{series: []webhook.SeriesScore{{
		Job: "sli", Metric: "gala_gopher_ksliprobe_recent_rtt_nsec",
		Labels:       map[string]string{"machine_id": "m1", "tgid": "1513", "conn_fd": "18"},
		EntityLabels: map[string]string{"machine_id": "m1"}, EntityID: "m1_sli_1513_18", EventType: "app",
		Score: 1.4, Ratio: 0.6, Anomalous: 6, Observed: 10, Window: time.Minute,
	}}}
	s := startStack(t, k.Addr(), webhook.Config{Auth: webhook.AuthConfig{BearerToken: "am-token"}}, scores)
	am := testenv.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: anteater
  group_by: [alertname, machine_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: anteater
  webhook_configs:
  - url: %s
    send_resolved: true
    http_config:
      authorization:
        credentials: am-token
`, s.url))
	am.AddAlert(t, map[string]string{
		"alertname": "AnteaterSeriesAnomaly", "anteater": "anomaly", "anteater_job": "sli",
		"metric": "gala_gopher_ksliprobe_recent_rtt_nsec", "severity": "warning",
		"machine_id": "m1", "tgid": "1513", "conn_fd": "18",
	}, map[string]string{"score": "1.4", "ratio": "0.6"})
	am.AddAlert(t, map[string]string{"alertname": "SomethingElse", "machine_id": "m1"}, nil)

	got := k.ReadTopic(event.DefaultModelTopic, 1, 30*time.Second)
	require.Len(t, got, 1)
	require.Equal(t, "m1_sli_1513_18", string(got[0].Key))
	require.NoError(t, event.Validate(event.KindAnomaly, got[0].Value))
	var an event.Anomaly
	require.NoError(t, json.Unmarshal(got[0].Value, &an))
	require.Equal(t, "gala_gopher_ksliprobe_recent_rtt_nsec", an.Resource.Metrics)
	require.InDelta(t, 1.4, an.Resource.AnomalyScore, 0)
	require.Equal(t, fmt.Sprintf("%d_m1_sli_1513_18", an.Timestamp), an.Attributes.EventID)

	recs := testenv.Kcat(t, k.Addr(), event.DefaultModelTopic)
	require.Len(t, recs, 1)
	require.NotNil(t, recs[0].Payload)
	require.NoError(t, event.Validate(event.KindAnomaly, []byte(*recs[0].Payload)))
	require.JSONEq(t, string(got[0].Value), *recs[0].Payload)
	require.Equal(t, "m1_sli_1513_18", *recs[0].Key)
	for h, want := range map[string]string{"content-type": "application/json", "ce_specversion": "1.0", "ce_id": an.Attributes.EventID, "ce_type": "dev.anteater.anomaly"} {
		v, ok := recs[0].Header(h)
		require.True(t, ok, h)
		require.Equal(t, want, v, h)
	}
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(metric(s.reg, "anteater_webhook_alerts_total", "result", "ignored")) >= 1
	}, 10*time.Second, 20*time.Millisecond, "the other alert is counted as ignored")
}

func TestBrokerRestartLosesNothing(t *testing.T) {
	k := testenv.StartKafka(t, 3, event.DefaultModelTopic, event.DefaultRCATopic)
	s := startStack(t, k.Addr(), webhook.Config{}, nil)
	k.Stop()
	const n = 100
	for i := range n {
		code, resp := post(t, s.url, notification(anteaterAlert(fmt.Sprintf("m%03d", i), t0)))
		require.Equal(t, 202, code, resp)
	}
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(metric(s.reg, "anteater_kafka_errors_total")) >= 1 && s.pub.Pending() == n
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, float64(n), testutil.ToFloat64(metric(s.reg, "anteater_outbox_messages")))

	k.Restart() // a new, empty instance on the same port
	got := k.ReadTopic(event.DefaultModelTopic, n, 60*time.Second)
	require.Len(t, got, n)
	ids := map[string]bool{}
	for _, m := range got {
		require.NoError(t, event.Validate(event.KindAnomaly, m.Value))
		var a event.Anomaly
		require.NoError(t, json.Unmarshal(m.Value, &a))
		require.False(t, ids[a.Attributes.EventID], "event %s twice", a.Attributes.EventID)
		ids[a.Attributes.EventID] = true
	}
	require.Len(t, ids, n)
}

const (
	childEnv      = "ANTEATER_WEBHOOK_TEST_CHILD"
	childStateEnv = "ANTEATER_WEBHOOK_TEST_STATE"
	childKafkaEnv = "ANTEATER_WEBHOOK_TEST_KAFKA"
)

// runChild is the webhook server process of the crash test: it serves on
// a free port, writes the address to <state>/addr, and runs until killed.
func runChild() int {
	dir, broker := os.Getenv(childStateEnv), os.Getenv(childKafkaEnv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	pub, err := kafka.NewPublisher(kafkaTestConfig(broker), filepath.Join(dir, "outbox"), nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := webhook.New(webhook.Config{StateDir: filepath.Join(dir, "webhook")}, nil, nil, nil, nil, pub)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = pub.Run(ctx) }()
	go func() { _ = w.Run(ctx) }()
	go func() { _ = srv.Serve(l) }()
	tmp := filepath.Join(dir, "addr.tmp")
	if err := os.WriteFile(tmp, []byte(l.Addr().String()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Rename(tmp, filepath.Join(dir, "addr")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	_ = srv.Close()
	time.Sleep(200 * time.Millisecond)
	return 0
}

// startChild re-executes the test binary as a webhook server.
func startChild(t *testing.T, dir, broker string) (kill func(), url string) {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", childStateEnv+"="+dir, childKafkaEnv+"="+broker)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	kill = func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(kill)
	var addr string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "addr"))
		addr = string(b)
		return err == nil && addr != ""
	}, 20*time.Second, 10*time.Millisecond)
	url = "http://" + addr + webhook.DefaultPath
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusMethodNotAllowed
	}, 10*time.Second, 10*time.Millisecond)
	return kill, url
}

func TestCrashAfterAcceptBeforePublish(t *testing.T) {
	k := testenv.StartKafka(t, 1, event.DefaultModelTopic, event.DefaultRCATopic)
	k.Stop() // Kafka is down: nothing can be published
	dir := t.TempDir()
	kill, url := startChild(t, dir, k.Addr())
	const n = 20
	for i := range n {
		code, resp := post(t, url, notification(anteaterAlert(fmt.Sprintf("c%02d", i), t0)))
		require.Equal(t, 202, code, resp)
	}
	// The equivalent of SIGKILL right after the 202s.
	kill()

	k.Restart()
	startChild(t, dir, k.Addr())
	got := k.ReadTopic(event.DefaultModelTopic, n, 60*time.Second)
	ids := map[string]int{}
	for _, m := range got {
		require.NoError(t, event.Validate(event.KindAnomaly, m.Value))
		var a event.Anomaly
		require.NoError(t, json.Unmarshal(m.Value, &a))
		ids[a.Attributes.EventID]++
	}
	require.Len(t, ids, n)
	for id, c := range ids {
		require.Equal(t, 1, c, id)
		require.True(t, strings.HasPrefix(id, fmt.Sprint(t0.UnixMilli())+"_c"), id)
	}
}
