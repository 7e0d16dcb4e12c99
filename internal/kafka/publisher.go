package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/register"
)

// Publisher sends events to Kafka through the durable outbox: Enqueue
// returns once the events are fsync'd on local disk, Run sends them and
// removes each only after Kafka acknowledged it (acks=all). Delivery is
// at-least-once with stable event ids (the ce_id header).
type Publisher struct {
	cfg    Config
	logger *slog.Logger
	ob     *outbox
	writer *kafkago.Writer // used by Run only
	client *kafkago.Client
	codec  kafkago.Compression
	mech   sasl.Mechanism
	tls    *tls.Config
	now    func() time.Time

	wake      chan struct{}
	closeOnce sync.Once
	mu        sync.RWMutex
	closed    bool

	events   *prometheus.CounterVec
	messages *prometheus.CounterVec
	errs     prometheus.Counter
}

// NewPublisher opens (or recovers) the outbox in dir and prepares the Kafka
// writer. Call Run to publish; Run closes the outbox when it returns.
func NewPublisher(cfg Config, dir string, logger *slog.Logger, reg prometheus.Registerer) (*Publisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		dir = cfg.OutboxDir
	}
	if dir == "" {
		return nil, errors.New("kafka: outbox dir is not set")
	}
	codec, err := compressionCodec(cfg.Compression)
	if err != nil {
		return nil, err
	}
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	tc, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:    cfg,
		logger: logger.With("component", "kafka"),
		now:    time.Now,
		wake:   make(chan struct{}, 1),
		codec:  codec,
		mech:   mech,
		tls:    tc,
	}
	p.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "anteater_events_total", Help: "Events put into the Kafka outbox, by kind.",
	}, []string{"kind"})
	p.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "anteater_kafka_messages_total", Help: "Messages sent to Kafka, by topic and result.",
	}, []string{"topic", "result"})
	p.errs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "anteater_kafka_errors_total", Help: "Failed writes to Kafka (each is retried from the outbox).",
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "anteater_outbox_messages", Help: "Events in the outbox waiting for Kafka's acknowledgement.",
	}, func() float64 { n, _ := p.ob.stats(); return float64(n) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "anteater_outbox_oldest_age_seconds", Help: "Age of the oldest event in the outbox (0 when empty).",
	}, func() float64 {
		_, t := p.ob.stats()
		if t.IsZero() {
			return 0
		}
		return p.now().Sub(t).Seconds()
	})
	// Metrics first, the outbox after: a registration conflict then
	// leaves no database open (and locked) behind, and an outbox that
	// cannot open takes its metrics back out.
	unregister, err := register.All(reg, p.events, p.messages, p.errs, pending, oldest)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if p.ob, err = openOutbox(dir, cfg.DedupTTL); err != nil {
		unregister()
		return nil, err
	}
	p.connect()
	for _, k := range []event.Kind{event.KindAnomaly, event.KindCause} {
		p.events.WithLabelValues(string(k))
		for _, r := range []string{"success", "failure"} {
			p.messages.WithLabelValues(cfg.Topic(k), r)
		}
	}
	return p, nil
}

// Config returns the effective configuration (defaults filled in).
func (p *Publisher) Config() Config { return p.cfg }

// Pending returns the number of messages in the outbox.
func (p *Publisher) Pending() int { n, _ := p.ob.stats(); return n }

// Enqueue stores the messages durably (one fsync'd transaction) and wakes
// the sender. Messages whose DedupKey was seen within the TTL are dropped.
func (p *Publisher) Enqueue(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if m.Kind != event.KindAnomaly && m.Kind != event.KindCause {
			return fmt.Errorf("kafka: %w: %q", event.ErrUnknownKind, m.Kind)
		}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if _, err := p.ob.add(&p.cfg, p.now(), msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		p.events.WithLabelValues(string(m.Kind)).Inc()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close releases the outbox without publishing; Run calls it on return.
func (p *Publisher) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		err = errors.Join(p.disconnect(), p.ob.close())
	})
	return err
}

// Run sends the outbox to Kafka until ctx is done, then closes the
// publisher. Messages left over are sent by the next Run (after restart).
// An error closing the outbox is returned with Run's own.
func (p *Publisher) Run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, p.Close()) }()
	if p.cfg.CreateTopics {
		if err := p.createTopics(ctx); err != nil {
			p.logger.Warn("creating topics failed; will retry on unknown-topic errors", "err", err)
		}
	}
	backoff := time.Duration(0)
	for {
		recs, err := p.ob.peek(p.cfg.MaxBatch)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
			}
			continue
		}
		sent, werr := p.send(ctx, recs)
		if len(sent) > 0 {
			if err := p.ob.remove(sent, p.now()); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if werr == nil {
			backoff = 0
			continue
		}
		p.errs.Inc()
		// kafka-go's transport caches a failed metadata lookup until its
		// next refresh; a fresh one sees a recovered broker at once.
		if err := p.disconnect(); err != nil {
			p.logger.Debug("closing kafka writer", "err", err)
		}
		p.connect()
		if errors.Is(werr, kafkago.UnknownTopicOrPartition) && p.cfg.CreateTopics {
			if err := p.createTopics(ctx); err != nil {
				p.logger.Warn("creating topics failed", "err", err)
			}
		}
		backoff = nextBackoff(backoff, p.cfg.RetryBackoffMin, p.cfg.RetryBackoffMax)
		n, _ := p.ob.stats()
		p.logger.Warn("kafka write failed; retrying", "err", werr, "pending", n, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// nextBackoff doubles the previous back-off within [lo, hi] with ±20% jitter.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	d := 2 * prev
	if d < lo {
		d = lo
	}
	if d > hi {
		d = hi
	}
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return j
}

// send writes one batch and returns the sequence numbers Kafka
// acknowledged (plus unreadable records, which are dropped with an error).
func (p *Publisher) send(ctx context.Context, recs []record) ([]uint64, error) {
	msgs := make([]kafkago.Message, 0, len(recs))
	idx := make([]int, 0, len(recs))
	var done []uint64
	for i, r := range recs {
		if r.Topic == "" {
			p.logger.Error("dropping unreadable outbox record", "seq", r.seq)
			done = append(done, r.seq)
			continue
		}
		msgs = append(msgs, p.kafkaMessage(r))
		idx = append(idx, i)
	}
	if len(msgs) == 0 {
		return done, nil
	}
	err := p.writer.WriteMessages(ctx, msgs...)
	var werrs kafkago.WriteErrors
	switch {
	case err == nil:
		for _, i := range idx {
			done = append(done, recs[i].seq)
			p.messages.WithLabelValues(recs[i].Topic, "success").Inc()
		}
		return done, nil
	case errors.As(err, &werrs) && len(werrs) == len(msgs):
		var first error
		for j, i := range idx {
			if werrs[j] == nil {
				done = append(done, recs[i].seq)
				p.messages.WithLabelValues(recs[i].Topic, "success").Inc()
				continue
			}
			p.messages.WithLabelValues(recs[i].Topic, "failure").Inc()
			if first == nil {
				first = werrs[j]
			}
		}
		return done, fmt.Errorf("kafka write: %d of %d failed: %w", werrs.Count(), len(msgs), first)
	default:
		for _, i := range idx {
			p.messages.WithLabelValues(recs[i].Topic, "failure").Inc()
		}
		return done, fmt.Errorf("kafka write: %w", err)
	}
}

// CloudEvents binary content mode for Kafka: attributes as ce_ headers.
func (p *Publisher) kafkaMessage(r record) kafkago.Message {
	ceSource, ceType := p.cfg.EventSource+"/anomaly-detection", "dev.anteater.anomaly"
	if r.Kind == event.KindCause {
		ceSource, ceType = p.cfg.EventSource+"/"+event.SourceRootCause, "dev.anteater.cause"
	}
	return kafkago.Message{
		Topic: r.Topic,
		Key:   []byte(r.Key),
		Value: r.Value,
		Headers: []kafkago.Header{
			{Key: "content-type", Value: []byte("application/json")},
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte(r.ID)},
			{Key: "ce_source", Value: []byte(ceSource)},
			{Key: "ce_type", Value: []byte(ceType)},
			{Key: "ce_time", Value: []byte(r.Time.UTC().Format(time.RFC3339Nano))},
		},
	}
}

// createTopics creates the model and rca topics; existing ones are fine.
func (p *Publisher) createTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	var topics []kafkago.TopicConfig
	for _, t := range []string{p.cfg.ModelTopic, p.cfg.RCATopic} {
		topics = append(topics, kafkago.TopicConfig{Topic: t, NumPartitions: p.cfg.TopicPartitions, ReplicationFactor: p.cfg.TopicReplicationFactor})
	}
	resp, err := p.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for t, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", t, e))
		}
	}
	return errors.Join(errs...)
}

// connect builds a fresh transport, writer and admin client.
func (p *Publisher) connect() {
	cfg := &p.cfg
	transport := &kafkago.Transport{
		ClientID:    cfg.ClientID,
		DialTimeout: 5 * time.Second,
		TLS:         p.tls,
		SASL:        p.mech,
		MetadataTTL: 30 * time.Second,
	}
	p.writer = &kafkago.Writer{
		Addr:                   kafkago.TCP(cfg.Brokers...),
		Balancer:               &kafkago.Murmur2Balancer{}, // same partition for a key as Java clients
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              cfg.MaxBatch,
		WriteTimeout:           cfg.WriteTimeout,
		ReadTimeout:            cfg.WriteTimeout,
		MaxAttempts:            2, // the outbox retries with its own back-off
		WriteBackoffMin:        10 * time.Millisecond,
		WriteBackoffMax:        100 * time.Millisecond,
		Compression:            p.codec,
		Transport:              transport,
		AllowAutoTopicCreation: true,
	}
	p.client = &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: cfg.WriteTimeout, Transport: transport}
}

// disconnect closes the writer and the transport's connections.
func (p *Publisher) disconnect() error {
	err := p.writer.Close()
	if t, ok := p.writer.Transport.(*kafkago.Transport); ok {
		t.CloseIdleConnections()
	}
	return err
}
