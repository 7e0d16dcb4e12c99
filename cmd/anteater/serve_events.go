package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"

	"github.com/anteater-dev/anteater/exporter"
	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/rca"
	"github.com/anteater-dev/anteater/webhook"
)

// The events component closes the loop: Alertmanager posts to the
// webhook, whose worker asks rca for the causes and hands anomaly and
// cause events to the Kafka publisher's durable outbox.
func init() { serveComponents = append(serveComponents, addEvents) }

// corePaths are mounted by mountCore; the webhook must not take one.
var corePaths = []string{"/", "/metrics", "/-/healthy", "/-/ready", "/-/reload"}

func addEvents(env *serveEnv) error {
	cfg := env.Coordinator.Config()
	if cfg == nil {
		return errors.New("events: no configuration loaded")
	}
	logger := env.Logger
	if env.Options != nil && env.Options.kafkaEmbedded {
		if err := startEmbeddedBroker(env, cfg.Kafka); err != nil {
			return err
		}
	}

	pub, err := kafka.NewPublisher(cfg.Kafka, cfg.Kafka.OutboxDir, logger, env.Registry)
	if err != nil {
		return fmt.Errorf("kafka publisher: %w", err)
	}
	env.atExit(func() { _ = pub.Close() }) // a no-op once Run returned

	causes, err := newCauseInferer(cfg, env.Exporter, logger)
	if err != nil {
		return err
	}

	if err := checkWebhookPath(cfg.Webhook.Path); err != nil {
		return err
	}
	wh, err := webhook.New(cfg.Webhook, logger, env.Registry, env.Exporter, causes, pub)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	env.atExit(func() { _ = wh.Close() })
	env.Mux.Handle(wh.Path(), wh.Handler())

	started, running := cfg, cfg
	env.Coordinator.Subscribe(func(next *config.Config) error {
		// The queue, the outbox and the listener path are opened once;
		// their sections apply at the next start.
		if !reflect.DeepEqual(started.Webhook, next.Webhook) {
			logger.Warn("The webhook section changed; it applies after a restart", "component", "webhook")
		}
		if !reflect.DeepEqual(started.Kafka, next.Kafka) {
			logger.Warn("The kafka section changed; it applies after a restart", "component", "kafka")
		}
		if reflect.DeepEqual(running.RCA, next.RCA) && reflect.DeepEqual(running.Source, next.Source) &&
			reflect.DeepEqual(running.ArangoDB, next.ArangoDB) {
			return nil
		}
		if err := causes.apply(next); err != nil {
			return fmt.Errorf("rca: %w", err)
		}
		running = next
		return nil
	})

	// The embedded broker is closed by atExit, after the group (and so
	// the publisher) stopped.
	{ // The publisher drains the outbox to Kafka.
		ctx, cancel := context.WithCancel(context.Background())
		env.Group.Add(func() error { return pub.Run(ctx) }, func(error) { cancel() })
	}
	{ // The webhook commits notifications and runs the worker.
		ctx, cancel := context.WithCancel(context.Background())
		env.Group.Add(func() error { return wh.Run(ctx) }, func(error) { cancel() })
	}
	logger.Info("Events enabled", "webhook", wh.Path(), "brokers", strings.Join(pub.Config().Brokers, ","),
		"outbox", cfg.Kafka.OutboxDir, "rca_topology", cfg.RCA.Topology)
	return nil
}

// startEmbeddedBroker runs the in-memory dev broker on the one configured
// broker address; StartDevBroker refuses non-loopback addresses.
func startEmbeddedBroker(env *serveEnv, kc kafka.Config) error {
	kc = kc.WithDefaults()
	if len(kc.Brokers) != 1 {
		return fmt.Errorf("--kafka.embedded needs exactly one kafka.brokers address, got %d", len(kc.Brokers))
	}
	b, err := kafka.StartDevBroker(kc.Brokers[0], int32(kc.TopicPartitions), kc.ModelTopic, kc.RCATopic)
	if err != nil {
		return fmt.Errorf("--kafka.embedded: %w", err)
	}
	env.atExit(b.Close)
	env.Logger.Warn("Running the embedded Kafka broker: in memory, events are lost when anteater stops",
		"component", "kafka", "address", b.Addr())
	return nil
}

// checkWebhookPath refuses paths http.ServeMux would take as a pattern or
// that another endpoint already serves (the mux panics on both).
func checkWebhookPath(p string) error {
	for _, c := range corePaths {
		if p == c {
			return fmt.Errorf("webhook: path %s is taken by anteater's own endpoint", p)
		}
	}
	if strings.ContainsAny(p, "{} \t\n") {
		return fmt.Errorf("webhook: path %q must not contain braces or spaces", p)
	}
	return nil
}

// The exporter's snapshot serves the webhook's score lookups directly.
var _ webhook.ScoreSource = (*exporter.Exporter)(nil)

// entityScorer is the part of the exporter the entity state needs.
type entityScorer interface {
	EntityScores(entity map[string]string) []exporter.SeriesScore
}

// entityState tells rca whether an entity is abnormal now: its entity
// score (the largest score of its series) is at or above 1, the alert
// threshold. An entity the exporter does not score is unknown.
func entityState(exp entityScorer) rca.EntityState {
	return func(_ context.Context, labels map[string]string) (abnormal, known bool) {
		best := math.Inf(-1)
		for _, s := range exp.EntityScores(labels) {
			if !math.IsNaN(s.Score) {
				best = math.Max(best, s.Score)
			}
		}
		if math.IsInf(best, -1) {
			return false, false
		}
		return best >= 1, true
	}
}

// newPrometheusAPI builds a client of the source the exporter reads, with
// the same HTTP settings (auth, TLS, proxy).
func newPrometheusAPI(src config.SourceConfig) (v1.API, *http.Client, error) {
	hc, err := promconfig.NewClientFromConfig(src.HTTPClientConfig, "anteater_rca")
	if err != nil {
		return nil, nil, fmt.Errorf("rca source: %w", err)
	}
	c, err := api.NewClient(api.Config{Address: src.URL, Client: hc})
	if err != nil {
		return nil, nil, fmt.Errorf("rca source: %w", err)
	}
	return v1.NewAPI(c), hc, nil
}

// causeInferer is the webhook's CauseInferer: the rca service of the
// running configuration, swapped on reload, asked from the anomaly's
// onset rather than from the alert's start (see onset).
type causeInferer struct {
	exp     entityScorer
	logger  *slog.Logger
	current atomic.Pointer[inferState]
}

type inferState struct {
	svc   *rca.Service
	onset onsetQuery
	hc    *http.Client
}

func newCauseInferer(cfg *config.Config, exp entityScorer, logger *slog.Logger) (*causeInferer, error) {
	c := &causeInferer{exp: exp, logger: logger.With("component", "rca")}
	if err := c.apply(cfg); err != nil {
		return nil, fmt.Errorf("rca: %w", err)
	}
	return c, nil
}

// apply builds the service for cfg; on error the running one stays.
func (c *causeInferer) apply(cfg *config.Config) error {
	promAPI, hc, err := newPrometheusAPI(cfg.Source)
	if err != nil {
		return err
	}
	var opts []rca.ServiceOption
	if cfg.RCA.Topology == rca.TopologyArangoDB {
		topo, err := rca.NewArangoTopology(cfg.ArangoDB)
		if err != nil {
			return err
		}
		opts = append(opts, rca.WithTopologySource(topo))
	}
	svc, err := rca.NewService(promAPI, cfg.RCA, c.logger, entityState(c.exp), opts...)
	if err != nil {
		return err
	}
	old := c.current.Swap(&inferState{svc: svc, hc: hc, onset: onsetQuery{
		api: promAPI, lookback: cfg.RCA.WindowBefore, step: cfg.RCA.Step, timeout: cfg.RCA.QueryTimeout,
	}})
	if old != nil {
		// An inference in flight keeps its connection; idle ones go.
		old.hc.CloseIdleConnections()
	}
	return nil
}

// Infer implements webhook.CauseInferer.
func (c *causeInferer) Infer(ctx context.Context, inc event.Incident) (*event.Cause, error) {
	st := c.current.Load()
	if t, ok := st.onset.find(ctx, inc); ok && t.Before(inc.Time) {
		c.logger.Debug("Ranking causes from the anomaly's onset", "metric", inc.Metric, "alert_start", inc.Time, "onset", t)
		inc.Time = t
	}
	return st.svc.Infer(ctx, inc)
}
