package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/webhook"
)

// discardPublisher takes events without storing them, so the benchmark
// measures the accept path (decode, dedup, fsync'd queue) and the worker.
type discardPublisher struct{ n atomic.Int64 }

func (p *discardPublisher) Enqueue(_ context.Context, msgs ...kafka.Message) error {
	p.n.Add(int64(len(msgs)))
	return nil
}

// BenchmarkAccept posts one-alert notifications from many concurrent
// clients over loopback to a webhook with its durable store on, and
// reports accepted alerts per second and the p99 accept latency.
func BenchmarkAccept(b *testing.B) {
	for _, par := range []int{8, 32} {
		b.Run("senders="+strconv.Itoa(par)+"xGOMAXPROCS", func(b *testing.B) { benchAccept(b, par) })
	}
}

func benchAccept(b *testing.B, parallelism int) {
	pub := &discardPublisher{}
	w, err := webhook.New(webhook.Config{StateDir: b.TempDir(), QueueSize: 1 << 30}, nil, nil, nil, nil, pub)
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer func() {
		_ = srv.Close()
		cancel()
		require.NoError(b, <-done)
	}()
	url := "http://" + l.Addr().String() + w.Path()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	tmpl := notification(anteaterAlert("MACHINE", t0))
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusMethodNotAllowed {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}

	var (
		seq  atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
	)
	b.SetParallelism(parallelism) // concurrent senders, as many Alertmanager groups
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			body := bytes.Replace(tmpl, []byte("MACHINE"), strconv.AppendInt(nil, seq.Add(1), 10), 1)
			t := time.Now()
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
}
