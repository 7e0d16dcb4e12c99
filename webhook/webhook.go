package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/internal/register"
)

// Publisher takes events durably (the Kafka outbox): Enqueue returns once
// they are on local disk. *kafka.Publisher implements it.
type Publisher interface {
	Enqueue(ctx context.Context, msgs ...kafka.Message) error
}

// Webhook receives Alertmanager notifications and turns anteater's alerts
// into anomaly and cause events.
type Webhook struct {
	cfg    Config
	logger *slog.Logger
	scores ScoreSource
	rca    CauseInferer
	pub    Publisher
	st     *store
	now    func() time.Time

	tokenSum, userSum, passSum [32]byte
	hasToken, hasBasic         bool

	reqs      chan *acceptReq
	wake      chan struct{}
	quit      chan struct{}
	started   atomic.Bool
	closeOnce sync.Once

	requests  *prometheus.CounterVec
	alerts    *prometheus.CounterVec
	duration  prometheus.Histogram
	rcaTime   prometheus.Histogram
	rcaErrors prometheus.Counter
}

type acceptReq struct {
	items []item
	done  chan acceptResult
}

type acceptResult struct {
	out outcome
	err error
}

// New validates the configuration and opens (or recovers) the durable
// queue in cfg.StateDir. scores and rca may be nil (no score lookup, no
// cause events). Call Run to accept and process notifications; Run closes
// the queue when it returns.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, scores ScoreSource, rca CauseInferer, pub Publisher) (*Webhook, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errors.New("webhook: a publisher is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	token, user, pass, err := cfg.Auth.credentials()
	if err != nil {
		return nil, err
	}
	w := &Webhook{
		cfg: cfg, logger: logger.With("component", "webhook"), scores: scores, rca: rca, pub: pub,
		now:  time.Now,
		reqs: make(chan *acceptReq), wake: make(chan struct{}, 1), quit: make(chan struct{}),
		hasToken: token != "", hasBasic: user != "",
		tokenSum: sha256.Sum256([]byte(token)), userSum: sha256.Sum256([]byte(user)), passSum: sha256.Sum256([]byte(pass)),
	}
	w.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "anteater_webhook_requests_total", Help: "Alertmanager notifications received, by HTTP status code.",
	}, []string{"code"})
	w.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "anteater_webhook_alerts_total", Help: "Alerts received, by result (accepted, duplicate, ignored, resolved).",
	}, []string{"result"})
	for _, r := range []string{"accepted", "duplicate", "ignored", "resolved"} {
		w.alerts.WithLabelValues(r)
	}
	w.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "anteater_webhook_request_duration_seconds", Help: "Time to answer a notification (durable store included).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "anteater_webhook_queue_length", Help: "Alerts stored and waiting for the worker.",
	}, func() float64 { return float64(w.st.length.Load()) })
	w.rcaTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "anteater_rca_duration_seconds", Help: "Time of one root-cause inference.",
		Buckets: prometheus.ExponentialBuckets(0.005, 4, 8),
	})
	w.rcaErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "anteater_rca_errors_total", Help: "Root-cause inferences that failed or produced an invalid event.",
	})
	// Metrics first, the store after: a registration conflict then
	// leaves no database open (and locked) behind, and a store that
	// cannot open takes its metrics back out, so New can be retried.
	unregister, err := register.All(reg, w.requests, w.alerts, w.duration, queue, w.rcaTime, w.rcaErrors)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if w.st, err = openStore(cfg.StateDir, cfg.DedupTTL); err != nil {
		unregister()
		return nil, err
	}
	return w, nil
}

// Path is where Handler serves.
func (w *Webhook) Path() string { return w.cfg.Path }

// QueueLength is the number of alerts waiting for the worker.
func (w *Webhook) QueueLength() int { return int(w.st.length.Load()) }

// Close releases the queue; Run calls it on return.
func (w *Webhook) Close() error {
	var err error
	w.closeOnce.Do(func() { err = w.st.close() })
	return err
}

// Run commits accepted notifications (group commit), runs the worker and
// prunes expired dedup keys until ctx is done. An error closing the
// queue is returned with Run's own.
func (w *Webhook) Run(ctx context.Context) (err error) {
	if w.started.Swap(true) {
		return errors.New("webhook: Run called twice")
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); w.commitLoop() }()
	go func() {
		defer wg.Done()
		if err := w.workLoop(wctx); err != nil {
			errc <- err
			cancel()
		}
	}()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
loop:
	for {
		select {
		case <-wctx.Done():
			break loop
		case <-prune.C:
			// Prune in bounded transactions until no expired key is left,
			// so a high alert rate cannot outgrow the pruning.
			for wctx.Err() == nil {
				n, perr := w.st.prune(w.now(), 10000)
				if perr != nil {
					w.logger.Error("pruning dedup keys", "err", perr)
					break
				}
				if n < 10000 {
					break
				}
			}
		}
	}
	close(w.quit)
	wg.Wait()
	select {
	case err = <-errc:
	default:
	}
	return err
}

// commitLoop takes every waiting request at once and stores them in one
// fsync'd transaction, so concurrent requests share the disk flush.
func (w *Webhook) commitLoop() {
	for {
		var first *acceptReq
		select {
		case <-w.quit:
			return
		case first = <-w.reqs:
		}
		batch := []*acceptReq{first}
	drain:
		for len(batch) < 4096 {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		items := make([][]item, len(batch))
		for i, r := range batch {
			items[i] = r.items
		}
		outs, err := w.st.commit(items, w.cfg.QueueSize, w.now())
		stored := false
		for i, r := range batch {
			res := acceptResult{err: err}
			if err == nil {
				res.out = outs[i]
				stored = stored || outs[i].accepted > 0
			}
			r.done <- res
		}
		if stored {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Handler serves Alertmanager's webhook at Path (POST only).
func (w *Webhook) Handler() http.Handler {
	return http.HandlerFunc(w.serve)
}

type apiResponse struct {
	Status string         `json:"status"`
	Error  string         `json:"error,omitempty"`
	Alerts map[string]int `json:"alerts,omitempty"`
}

func (w *Webhook) reply(rw http.ResponseWriter, code int, resp apiResponse) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(resp)
	w.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (w *Webhook) fail(rw http.ResponseWriter, code int, err error) {
	if code >= 500 {
		rw.Header().Set("Retry-After", "1")
	}
	w.reply(rw, code, apiResponse{Status: "error", Error: err.Error()})
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { w.duration.Observe(time.Since(start).Seconds()) }()
	if r.URL.Path != w.cfg.Path {
		w.fail(rw, http.StatusNotFound, fmt.Errorf("no webhook at %s (it is at %s)", r.URL.Path, w.cfg.Path))
		return
	}
	// Readiness first: until Run has started, every request (a probe's
	// GET too) learns that the webhook is not serving yet.
	if !w.started.Load() {
		w.fail(rw, http.StatusServiceUnavailable, errors.New("not ready"))
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.fail(rw, http.StatusMethodNotAllowed, errors.New("use POST"))
		return
	}
	if !w.authorized(r) {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="anteater", Basic realm="anteater"`)
		w.fail(rw, http.StatusUnauthorized, errors.New("missing or invalid credentials"))
		return
	}
	if r.ContentLength > w.cfg.MaxBodyBytes {
		w.fail(rw, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes exceeds %d", r.ContentLength, w.cfg.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.cfg.MaxBodyBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			w.fail(rw, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds %d bytes", w.cfg.MaxBodyBytes))
			return
		}
		w.fail(rw, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	msg, err := Decode(body)
	if err != nil {
		w.fail(rw, http.StatusBadRequest, err)
		return
	}
	items, ignored, resolved, err := w.classify(msg)
	if err != nil {
		w.fail(rw, http.StatusInternalServerError, err)
		return
	}
	counts := map[string]int{"accepted": 0, "duplicate": 0, "ignored": ignored, "resolved": resolved}
	if len(items) > 0 {
		req := &acceptReq{items: items, done: make(chan acceptResult, 1)}
		select {
		case w.reqs <- req:
		case <-w.quit:
			w.fail(rw, http.StatusServiceUnavailable, errors.New("shutting down"))
			return
		case <-r.Context().Done():
			w.fail(rw, http.StatusServiceUnavailable, r.Context().Err())
			return
		}
		res := <-req.done
		switch {
		case res.err != nil:
			w.logger.Error("storing notification", "err", res.err)
			w.fail(rw, http.StatusInternalServerError, errors.New("could not store the notification"))
			return
		case res.out.full:
			w.fail(rw, http.StatusServiceUnavailable, fmt.Errorf("queue full (%d alerts)", w.cfg.QueueSize))
			return
		}
		counts["accepted"], counts["duplicate"] = res.out.accepted, res.out.duplicate
	}
	for k, v := range counts {
		if v > 0 {
			w.alerts.WithLabelValues(k).Add(float64(v))
		}
	}
	w.reply(rw, http.StatusAccepted, apiResponse{Status: "success", Alerts: counts})
}

// classify picks the alerts to store: anteater's firing alerts, and its
// resolved ones when SendResolved is on.
func (w *Webhook) classify(m *Message) (items []item, ignored, resolved int, err error) {
	now := w.now()
	for _, a := range m.Alerts {
		if a.Labels[labelAnteater] != anteaterAnomaly {
			ignored++
			continue
		}
		if a.Status == "resolved" {
			resolved++
			if !w.cfg.SendResolved {
				continue
			}
		}
		key := a.Fingerprint + "|" + strconv.FormatInt(a.StartsAt.UnixNano(), 10) + "|" + a.Status
		v, err := json.Marshal(queued{Alert: a, Receiver: m.Receiver, GroupKey: m.GroupKey, DedupKey: key, Received: now})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("encode alert: %w", err)
		}
		items = append(items, item{dedupKey: []byte(key), value: v})
	}
	return items, ignored, resolved, nil
}

// authorized checks the configured credentials in constant time (hashes
// of equal length are compared, so the secret's length does not leak).
func (w *Webhook) authorized(r *http.Request) bool {
	if !w.hasToken && !w.hasBasic {
		return true
	}
	h := r.Header.Get("Authorization")
	if w.hasToken && len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		got := sha256.Sum256([]byte(strings.TrimSpace(h[7:])))
		return subtle.ConstantTimeCompare(got[:], w.tokenSum[:]) == 1
	}
	if w.hasBasic {
		if u, p, ok := r.BasicAuth(); ok {
			gu, gp := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
			okU := subtle.ConstantTimeCompare(gu[:], w.userSum[:])
			okP := subtle.ConstantTimeCompare(gp[:], w.passSum[:])
			return okU&okP == 1
		}
	}
	return false
}
