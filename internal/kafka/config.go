// Package kafka publishes anteater's events to Kafka through a durable
// local outbox, and runs an embedded development broker.
package kafka

import "time"

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
