// Package kafka publishes anteater's events to Kafka through a durable
// local outbox, and runs an embedded development broker.
package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anteater-dev/anteater/internal/event"
)

// Config is the `kafka` section of anteater.yml.
type Config struct {
	// Brokers are host:port addresses (default ["127.0.0.1:9092"]).
	Brokers []string `yaml:"brokers,omitempty"`
	// ModelTopic receives anomaly events (default gala_anteater_hybrid_model).
	ModelTopic string `yaml:"model_topic,omitempty"`
	// RCATopic receives cause events (default gala_cause_inference).
	RCATopic string `yaml:"rca_topic,omitempty"`
	// MetaTopic is gala-anteater's metadata topic, kept for compatibility
	// (default gala_gopher_metadata).
	MetaTopic string `yaml:"meta_topic,omitempty"`
	// GroupID is kept for compatibility (default gala_anteater_kafka).
	GroupID string `yaml:"group_id,omitempty"`
	// Compression: none, gzip, snappy, lz4, zstd (default none).
	Compression string `yaml:"compression,omitempty"`
	// SASL authentication; mechanism "" (none), PLAIN, SCRAM-SHA-256,
	// SCRAM-SHA-512. gala-anteater's auth_type sasl_plaintext maps to PLAIN.
	SASL SASLConfig `yaml:"sasl,omitempty"`
	// TLS enables TLS to the brokers.
	TLS TLSConfig `yaml:"tls,omitempty"`
	// BatchTimeout bounds how long a message waits for a batch (default 10ms).
	BatchTimeout time.Duration `yaml:"batch_timeout,omitempty"`
	// OutboxDir holds the durable outbox (default <state dir>/outbox).
	OutboxDir string `yaml:"outbox_dir,omitempty"`

	// ClientID is sent to the brokers (default anteater).
	ClientID string `yaml:"client_id,omitempty"`
	// EventSource prefixes the CloudEvents ce_source header: anomaly events
	// get "<event_source>/anomaly-detection", cause events
	// "<event_source>/root-cause-inference" (default anteater).
	EventSource string `yaml:"event_source,omitempty"`
	// WriteTimeout bounds one produce request (default 10s).
	WriteTimeout time.Duration `yaml:"write_timeout,omitempty"`
	// RetryBackoffMin and RetryBackoffMax bound the exponential back-off
	// between attempts while Kafka is unreachable (defaults 100ms, 30s).
	RetryBackoffMin time.Duration `yaml:"retry_backoff_min,omitempty"`
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max,omitempty"`
	// MaxBatch is the most outbox messages sent in one write (default 500).
	MaxBatch int `yaml:"max_batch,omitempty"`
	// CreateTopics creates the model and rca topics at start and whenever
	// the broker reports them unknown (default false: anteater relies on
	// the broker's auto.create.topics.enable, which it always requests).
	CreateTopics bool `yaml:"create_topics,omitempty"`
	// TopicPartitions and TopicReplicationFactor are used when anteater
	// creates the topics (defaults 1 and 1).
	TopicPartitions        int `yaml:"topic_partitions,omitempty"`
	TopicReplicationFactor int `yaml:"topic_replication_factor,omitempty"`
	// DedupTTL is how long the outbox remembers an idempotency key, so a
	// notification handed over twice (crash between hand-off and removal
	// from the webhook queue) yields its events once (default 24h).
	DedupTTL time.Duration `yaml:"dedup_ttl,omitempty"`
}

// DefaultConfig is the kafka section with every default filled in.
var DefaultConfig = Config{
	Brokers:                []string{"127.0.0.1:9092"},
	ModelTopic:             event.DefaultModelTopic,
	RCATopic:               event.DefaultRCATopic,
	MetaTopic:              "gala_gopher_metadata",
	GroupID:                "gala_anteater_kafka",
	Compression:            "none",
	BatchTimeout:           10 * time.Millisecond,
	ClientID:               "anteater",
	EventSource:            "anteater",
	WriteTimeout:           10 * time.Second,
	RetryBackoffMin:        100 * time.Millisecond,
	RetryBackoffMax:        30 * time.Second,
	MaxBatch:               500,
	TopicPartitions:        1,
	TopicReplicationFactor: 1,
	DedupTTL:               24 * time.Hour,
}

// UnmarshalYAML fills the defaults before decoding, so absent fields keep them.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig
	c.Brokers = append([]string(nil), DefaultConfig.Brokers...)
	type plain Config
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	return c.Validate()
}

// WithDefaults returns c with every zero field set to its default, for
// configurations built in code rather than decoded.
func (c Config) WithDefaults() Config {
	d := DefaultConfig
	if len(c.Brokers) == 0 {
		c.Brokers = append([]string(nil), d.Brokers...)
	}
	setStr := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setStr(&c.ModelTopic, d.ModelTopic)
	setStr(&c.RCATopic, d.RCATopic)
	setStr(&c.MetaTopic, d.MetaTopic)
	setStr(&c.GroupID, d.GroupID)
	setStr(&c.Compression, d.Compression)
	setStr(&c.ClientID, d.ClientID)
	setStr(&c.EventSource, d.EventSource)
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&c.BatchTimeout, d.BatchTimeout)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	setDur(&c.RetryBackoffMin, d.RetryBackoffMin)
	setDur(&c.RetryBackoffMax, d.RetryBackoffMax)
	setDur(&c.DedupTTL, d.DedupTTL)
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = d.TopicPartitions
	}
	if c.TopicReplicationFactor == 0 {
		c.TopicReplicationFactor = d.TopicReplicationFactor
	}
	return c
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: brokers must not be empty")
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("kafka: broker %q is not host:port", b)
		}
	}
	if c.ModelTopic == "" || c.RCATopic == "" {
		return errors.New("kafka: model_topic and rca_topic must not be empty")
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		return err
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafka: unsupported sasl mechanism %q (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", c.SASL.Mechanism)
	}
	if c.SASL.Mechanism != "" && c.SASL.Username == "" {
		return errors.New("kafka: sasl needs a username")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("kafka: tls cert_file and key_file go together")
	}
	for name, d := range map[string]time.Duration{
		"batch_timeout": c.BatchTimeout, "write_timeout": c.WriteTimeout,
		"retry_backoff_min": c.RetryBackoffMin, "retry_backoff_max": c.RetryBackoffMax, "dedup_ttl": c.DedupTTL,
	} {
		if d < 0 {
			return fmt.Errorf("kafka: %s must not be negative", name)
		}
	}
	if c.RetryBackoffMax > 0 && c.RetryBackoffMin > c.RetryBackoffMax {
		return errors.New("kafka: retry_backoff_min exceeds retry_backoff_max")
	}
	if c.MaxBatch < 0 || c.TopicPartitions < 0 || c.TopicReplicationFactor < 0 {
		return errors.New("kafka: max_batch, topic_partitions and topic_replication_factor must not be negative")
	}
	return nil
}

// Topic returns the topic an event kind is published to.
func (c *Config) Topic(k event.Kind) string {
	if k == event.KindCause {
		return c.RCATopic
	}
	return c.ModelTopic
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism,omitempty"`
	Username  string `yaml:"username,omitempty"`
	Password  string `yaml:"password,omitempty"`
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled,omitempty"`
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}
