package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/anteater-dev/anteater/internal/config"
)

// maxBackoff caps the doubling retry back-off.
const maxBackoff = 30 * time.Second

// source reads ranges of series from a Prometheus HTTP API with bounded
// concurrency, per-request timeouts and retries.
type source struct {
	hc        *http.Client
	api       v1.API
	sem       chan struct{}
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	maxPoints int
	m         *metrics
}

func newSource(cfg config.SourceConfig, m *metrics) (*source, error) {
	hc, err := promconfig.NewClientFromConfig(cfg.HTTPClientConfig, "anteater_source")
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return &source{
		hc:        hc,
		api:       v1.NewAPI(c),
		sem:       make(chan struct{}, cfg.MaxConcurrency),
		timeout:   time.Duration(cfg.Timeout),
		retries:   cfg.Retries,
		backoff:   time.Duration(cfg.RetryBackoff),
		maxPoints: cfg.MaxPointsPerRequest,
		m:         m,
	}, nil
}

// close releases the source's idle connections.
func (s *source) close() { s.hc.CloseIdleConnections() }

// retryable tells errors worth another attempt (the server or the network
// failed) from those that would fail again (a bad query, a cancellation).
func retryable(err error) bool {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case v1.ErrServer, v1.ErrTimeout, v1.ErrBadResponse:
			return true
		}
		return false
	}
	return !errors.Is(err, context.Canceled)
}

// queryRange runs one query_range request with retries. start and end are
// Unix milliseconds, both included.
func (s *source) queryRange(ctx context.Context, q string, start, end int64, step time.Duration) (model.Matrix, error) {
	backoff := s.backoff
	for attempt := 0; ; attempt++ {
		m, err := s.queryOnce(ctx, q, start, end, step)
		if err == nil {
			return m, nil
		}
		if attempt >= s.retries || !retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *source) queryOnce(ctx context.Context, q string, start, end int64, step time.Duration) (model.Matrix, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	t0 := time.Now()
	v, _, _, err := s.api.QueryRange(rctx, q, v1.Range{
		Start: time.UnixMilli(start),
		End:   time.UnixMilli(end),
		Step:  step,
	})
	s.m.sourceDuration.Observe(time.Since(t0).Seconds())
	if err == nil {
		if mat, ok := v.(model.Matrix); ok {
			s.m.sourceRequests.WithLabelValues("success").Inc()
			s.m.sourceUp.Set(1)
			return mat, nil
		}
		err = fmt.Errorf("query_range returned a %s, want a matrix", v.Type())
	}
	s.m.sourceRequests.WithLabelValues("failure").Inc()
	s.m.sourceUp.Set(0)
	return nil, fmt.Errorf("query_range %q: %w", q, err)
}

// fetch reads [start, end] in chunks in time order, each within
// Prometheus' 11000 points per series and the configured points budget, and
// hands each chunk to fn before fetching the next. seriesHint is the
// expected number of series (0 when unknown); it sizes the chunks.
func (s *source) fetch(ctx context.Context, q string, start, end int64, step time.Duration, seriesHint int,
	fn func(chunkStart, chunkEnd int64, m model.Matrix) error,
) error {
	stepMs := step.Milliseconds()
	for from := start; from <= end; {
		steps := min(config.MaxPointsPerSeries, max(1, s.maxPoints/max(seriesHint, 1)))
		to := min(end, from+int64(steps-1)*stepMs)
		m, err := s.queryRange(ctx, q, from, to, step)
		if err != nil {
			return err
		}
		if len(m) > seriesHint {
			seriesHint = len(m)
		}
		if err := fn(from, to, m); err != nil {
			return err
		}
		from = to + stepMs
	}
	return nil
}
