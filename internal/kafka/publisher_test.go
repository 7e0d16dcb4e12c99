package kafka_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// running runs a publisher until the test ends.
func running(t *testing.T, p *kafka.Publisher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		require.NoError(t, p.Run(ctx))
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func testConfig(addr string) kafka.Config {
	return kafka.Config{
		Brokers:         []string{addr},
		RetryBackoffMin: 20 * time.Millisecond,
		RetryBackoffMax: 200 * time.Millisecond,
		WriteTimeout:    2 * time.Second,
	}
}

func msg(kind event.Kind, i int) kafka.Message {
	id := fmt.Sprintf("1700000000%03d_m%d", i, i)
	return kafka.Message{
		Kind: kind, Key: fmt.Sprintf("m%d", i), ID: id,
		Time:  time.UnixMilli(1700000000000 + int64(i)),
		Value: []byte(fmt.Sprintf(`{"event_id":%q}`, id)),
	}
}

func TestPublishKeysAndCloudEventsHeaders(t *testing.T) {
	k := testenv.StartKafka(t, 3, event.DefaultModelTopic, event.DefaultRCATopic)
	reg := prometheus.NewRegistry()
	p, err := kafka.NewPublisher(testConfig(k.Addr()), t.TempDir(), nil, reg)
	require.NoError(t, err)
	running(t, p)

	require.NoError(t, p.Enqueue(context.Background(), msg(event.KindAnomaly, 1), msg(event.KindCause, 2)))
	got := k.ReadTopic(event.DefaultModelTopic, 1, 10*time.Second)
	require.Len(t, got, 1)
	m := got[0]
	require.Equal(t, "m1", string(m.Key))
	require.JSONEq(t, `{"event_id":"1700000000001_m1"}`, string(m.Value))
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	require.Equal(t, map[string]string{
		"content-type":   "application/json",
		"ce_specversion": "1.0",
		"ce_id":          "1700000000001_m1",
		"ce_source":      "anteater/anomaly-detection",
		"ce_type":        "dev.anteater.anomaly",
		"ce_time":        "2023-11-14T22:13:20.001Z",
	}, h)

	cause := k.ReadTopic(event.DefaultRCATopic, 1, 10*time.Second)
	require.Len(t, cause, 1)
	require.Equal(t, "m2", string(cause[0].Key))

	require.Eventually(t, func() bool { return p.Pending() == 0 }, 30*time.Second, 10*time.Millisecond)
	require.InDelta(t, 1, testutil.ToFloat64(mustCounter(t, reg, "anteater_kafka_messages_total", "result", "success", "topic", event.DefaultModelTopic)), 0)
	require.Equal(t, 0.0, gauge(t, reg, "anteater_outbox_messages"))
}

func TestOutboxHoldsWhileKafkaIsDown(t *testing.T) {
	k := testenv.StartKafka(t, 2, event.DefaultModelTopic, event.DefaultRCATopic)
	k.Stop()
	reg := prometheus.NewRegistry()
	p, err := kafka.NewPublisher(testConfig(k.Addr()), t.TempDir(), nil, reg)
	require.NoError(t, err)
	running(t, p)

	const n = 50
	for i := range n {
		require.NoError(t, p.Enqueue(context.Background(), msg(event.KindAnomaly, i)))
	}
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(mustCounter(t, reg, "anteater_kafka_errors_total")) >= 2
	}, 10*time.Second, 20*time.Millisecond, "writes fail while the broker is down")
	require.Equal(t, n, p.Pending())
	require.Equal(t, float64(n), gauge(t, reg, "anteater_outbox_messages"))
	require.Positive(t, gauge(t, reg, "anteater_outbox_oldest_age_seconds"))

	k.Restart()
	got := k.ReadTopic(event.DefaultModelTopic, n, 30*time.Second)
	ids := map[string]int{}
	for _, m := range got {
		ids[string(m.Key)]++
	}
	require.Len(t, ids, n)
	require.Eventually(t, func() bool { return p.Pending() == 0 }, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.0, gauge(t, reg, "anteater_outbox_oldest_age_seconds"))
}

func TestOutboxDrainsAfterRestart(t *testing.T) {
	k := testenv.StartKafka(t, 1, event.DefaultModelTopic, event.DefaultRCATopic)
	k.Stop()
	dir := t.TempDir()
	p, err := kafka.NewPublisher(testConfig(k.Addr()), dir, nil, nil)
	require.NoError(t, err)
	stop := running(t, p)
	for i := range 10 {
		require.NoError(t, p.Enqueue(context.Background(), msg(event.KindAnomaly, i)))
	}
	stop()
	require.ErrorIs(t, p.Enqueue(context.Background(), msg(event.KindAnomaly, 99)), kafka.ErrClosed)

	k.Restart()
	p2, err := kafka.NewPublisher(testConfig(k.Addr()), dir, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 10, p2.Pending(), "the outbox survives a restart")
	running(t, p2)
	got := k.ReadTopic(event.DefaultModelTopic, 10, 30*time.Second)
	require.Len(t, got, 10)
	for i, m := range got {
		require.Equal(t, fmt.Sprintf("m%d", i), string(m.Key), "order is kept")
	}
}

func TestEnqueueDedupKey(t *testing.T) {
	k := testenv.StartKafka(t, 1, event.DefaultModelTopic, event.DefaultRCATopic)
	k.Stop()
	p, err := kafka.NewPublisher(testConfig(k.Addr()), t.TempDir(), nil, nil)
	require.NoError(t, err)
	defer p.Close()
	a := msg(event.KindAnomaly, 1)
	a.DedupKey = "fp|start|firing"
	c := msg(event.KindCause, 1)
	c.DedupKey = a.DedupKey
	require.NoError(t, p.Enqueue(context.Background(), a, c))
	require.NoError(t, p.Enqueue(context.Background(), a, c))
	require.Equal(t, 2, p.Pending(), "one anomaly and one cause")
	require.ErrorIs(t, p.Enqueue(context.Background(), kafka.Message{Kind: "other"}), event.ErrUnknownKind)
}

func TestCreateTopicsAfterBrokerLostThem(t *testing.T) {
	// A broker without seeded topics: the publisher creates them.
	k := testenv.StartKafka(t, 1)
	cfg := testConfig(k.Addr())
	cfg.CreateTopics = true
	cfg.ModelTopic = "custom_model"
	p, err := kafka.NewPublisher(cfg, t.TempDir(), nil, nil)
	require.NoError(t, err)
	running(t, p)
	require.NoError(t, p.Enqueue(context.Background(), msg(event.KindAnomaly, 7)))
	require.Len(t, k.ReadTopic("custom_model", 1, 10*time.Second), 1)
}

// mustCounter selects a series by name and label name/value pairs.
func mustCounter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	return testenv.Metric(reg, name, labels...)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return testutil.ToFloat64(testenv.Metric(reg, name))
}

// TestNewPublisherFailsCleanly: a metric conflict is an error, not a
// panic, and opens no outbox.
func TestNewPublisherFailsCleanly(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := kafka.NewPublisher(testConfig("127.0.0.1:1"), t.TempDir(), nil, reg)
	require.NoError(t, err)
	defer first.Close()
	dir := t.TempDir()
	_, err = kafka.NewPublisher(testConfig("127.0.0.1:1"), dir, nil, reg)
	require.ErrorContains(t, err, "registering metrics")
	require.NoFileExists(t, filepath.Join(dir, "outbox.db"))
}
