package kafka_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/anteater-dev/anteater/internal/kafka"
)

func TestConfigYAMLDefaults(t *testing.T) {
	var c kafka.Config
	require.NoError(t, yaml.Unmarshal([]byte("brokers: [\"k1:9092\"]\ncompression: zstd\n"), &c))
	require.Equal(t, []string{"k1:9092"}, c.Brokers)
	require.Equal(t, "gala_anteater_hybrid_model", c.ModelTopic)
	require.Equal(t, "gala_cause_inference", c.RCATopic)
	require.Equal(t, 10*time.Millisecond, c.BatchTimeout)
	require.Equal(t, "zstd", c.Compression)
	require.Equal(t, kafka.DefaultConfig.Brokers, []string{"127.0.0.1:9092"}, "defaults are not shared")
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		yml  string
		err  string
	}{
		{"bad compression", "compression: brotli", "unsupported compression"},
		{"bad sasl", "sasl: {mechanism: GSSAPI, username: u}", "unsupported sasl"},
		{"sasl without user", "sasl: {mechanism: PLAIN}", "username"},
		{"broker without port", "brokers: [kafka]", "host:port"},
		{"cert without key", "tls: {enabled: true, cert_file: c.pem}", "go together"},
		{"negative timeout", "batch_timeout: -1s", "negative"},
		{"backoff order", "retry_backoff_min: 1m\nretry_backoff_max: 1s", "exceeds"},
		{"scram ok", "sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c kafka.Config
			err := yaml.Unmarshal([]byte(tc.yml), &c)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestDevBrokerLoopbackOnly(t *testing.T) {
	_, err := kafka.StartDevBroker("0.0.0.0:0", 1)
	require.ErrorContains(t, err, "loopback")
	b, err := kafka.StartDevBroker("127.0.0.1:0", 1, "t")
	require.NoError(t, err)
	require.Contains(t, b.Addr(), "127.0.0.1:")
	b.Close()
}
