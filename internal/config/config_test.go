package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/rca"
	"github.com/anteater-dev/anteater/scorer/multivariate"
	"github.com/anteater-dev/anteater/webhook"
)

const minimal = `
source:
  url: http://127.0.0.1:9090
jobs:
  - name: load
    query: node_load1
`

func TestLoadDefaults(t *testing.T) {
	c, err := Load([]byte(minimal), "")
	require.NoError(t, err)
	require.Equal(t, DefaultInterval, c.Interval)
	require.Equal(t, c.Interval, c.Step, "step defaults to interval")
	require.Equal(t, DefaultLookback, c.Lookback)
	require.Equal(t, DefaultStateDir, c.StateDir)
	require.Equal(t, DefaultSourceRetries, c.Source.Retries)
	require.Len(t, c.Jobs, 1)
	j := c.Jobs[0]
	require.Equal(t, []string{"machine_id"}, j.EntityLabels)
	require.Equal(t, DefaultWindow, j.Window)
	require.Equal(t, "load", j.EntityName)
	require.Equal(t, DefaultEventType, j.EventType)
	require.Equal(t, DefaultMaxSeries, j.MaxSeries)
	require.True(t, j.IsEnabled())
}

func TestLoadFullJob(t *testing.T) {
	c, err := Load([]byte(`
source:
  url: https://prom.example:9090/prefix
  basic_auth: {username: u, password: p}
  retries: 0
interval: 30s
step: 10s
jobs:
  - name: cpu
    query: rate(node_cpu_seconds_total[5m])
    entity_labels: [instance, cpu]
    model: ewma
    params: {alpha: "0.1"}
    direction: up
    min_deviation: 0.5
    debounce: {n: 2, m: 3}
    window: 2m
    entity_name: node
    event_type: app
    keywords: [cpu]
    description: CPU.
    enabled: false
    max_series: 7
`), "")
	require.NoError(t, err)
	require.Equal(t, "u", c.Source.HTTPClientConfig.BasicAuth.Username)
	require.Equal(t, 0, c.Source.Retries, "an explicit 0 is kept")
	require.Equal(t, Duration(10*time.Second), c.Step)
	j := c.Jobs[0]
	require.Equal(t, "ewma", j.Spec.Model)
	require.Equal(t, "0.1", j.Spec.Params["alpha"])
	require.Equal(t, 2, j.Spec.Debounce.N)
	require.False(t, j.IsEnabled())
	require.Equal(t, 7, j.MaxSeries)
	require.Nil(t, j.Multivariate, "no multivariate block, no multivariate model")
}

func TestMultivariateDefaults(t *testing.T) {
	c, err := Load([]byte("source: {url: http://127.0.0.1:9090}\njobs:\n  - name: j\n    query: up\n    multivariate: {}\n"), "")
	require.NoError(t, err)
	m := c.Jobs[0].Multivariate
	require.NotNil(t, m)
	require.Equal(t, Multivariate{
		Model:        multivariate.DefaultModel,
		TrainWindow:  DefaultMultivariateTrainWindow,
		RetrainEvery: DefaultMultivariateRetrainEvery,
		MinRows:      DefaultMultivariateMinRows,
		TopK:         DefaultMultivariateTopK,
		Risk:         multivariate.DefaultRisk,
	}, *m)
	require.Equal(t, multivariate.DefaultRisk, m.Detector().Calibration.Risk)
	require.False(t, m.Detector().FixedThreshold)

	c, err = Load([]byte("source: {url: http://127.0.0.1:9090}\njobs:\n  - name: j\n    query: up\n    multivariate: {risk: 0.01, fixed_threshold: true}\n"), "")
	require.NoError(t, err)
	d := c.Jobs[0].Multivariate.Detector()
	require.Equal(t, 0.01, d.Calibration.Risk)
	require.True(t, d.FixedThreshold)
}

func TestValidationErrorsNameTheField(t *testing.T) {
	job := func(extra string) string {
		return "source: {url: http://127.0.0.1:9090}\njobs:\n  - name: j\n    query: up\n" + extra
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top-level field", "sourc: {}\n", "field sourc not found"},
		{"unknown job field", job("    querry: x\n"), "field querry not found"},
		{"unknown source field", "source: {url: http://x:1, retry: 2}\n", "field retry not found"},
		{"no url", "source: {url: ''}\n", "source.url: required"},
		{"url without scheme", "source: {url: 'localhost:9090'}\n", "source.url"},
		{"bad timeout", "source: {url: http://x:1, timeout: 0s}\n", "source.timeout"},
		{"bad concurrency", "source: {url: http://x:1, max_concurrency: 0}\n", "source.max_concurrency"},
		{"retries without back-off", "source: {url: http://x:1, retries: 2, retry_backoff: 0s}\n", "source.retry_backoff"},
		{"negative retries", "source: {url: http://x:1, retries: -1}\n", "source.retries"},
		{"two auths", "source: {url: http://x:1, basic_auth: {username: a}, authorization: {credentials: b}}\n", "source:"},
		{"interval", "interval: 0s\njobs: [{name: j, query: up}]\n", "interval: must be positive"},
		{"step over interval", "interval: 1m\nstep: 2m\njobs: [{name: j, query: up}]\n", "step:"},
		{"lookback", "interval: 1m\nlookback: 30s\njobs: [{name: j, query: up}]\n", "lookback:"},
		{"bad duration", "interval: 1x\n", "interval: line 1"},
		{"bad job duration", job("    window: soon\n"), "jobs[0].window: line"},
		{"type error", "source:\n  url: http://x:1\n  retries: abc\n", "source.retries: "},
		{"state dir", "state_dir: ''\njobs: [{name: j, query: up}]\n", "state_dir: required"},
		{"job without name", "jobs: [{query: up}]\n", "jobs[0].name: required"},
		{"job without query", "jobs: [{name: j}]\n", "jobs[0](j).query: required"},
		{"bad promql", "jobs: [{name: j, query: 'rate(up[5m]'}]\n", "jobs[0](j).query"},
		{"range vector query", "jobs: [{name: j, query: 'up[5m]'}]\n", "want an instant vector"},
		{"duplicate job", "jobs: [{name: j, query: up}, {name: j, query: up}]\n", "jobs[1](j).name"},
		{"entity label", job("    entity_labels: [machine-id]\n"), "jobs[0](j).entity_labels[0]"},
		{"direction", job("    direction: sideways\n"), "jobs[0](j).direction"},
		{"min deviation", job("    min_deviation: -1\n"), "jobs[0](j).min_deviation"},
		{"debounce", job("    debounce: {n: 3, m: 2}\n"), "jobs[0](j).debounce"},
		{"threshold mode", job("    threshold: {mode: magic}\n"), "jobs[0](j).threshold.mode"},
		{"unknown model", job("    model: nosuchmodel\n"), "jobs[0](j).model"},
		{"unknown param", job("    model: ewma\n    params: {beta: '1'}\n"), "jobs[0](j).model"},
		{"window", job("    window: 1s\n"), "jobs[0](j).window"},
		{"max series", job("    max_series: -1\n"), "jobs[0](j).max_series"},
		{"multivariate unknown field", job("    multivariate: {modle: pca}\n"), "jobs[0].multivariate.modle"},
		{"multivariate model", job("    multivariate: {model: nosuch}\n"), "jobs[0](j).multivariate.model"},
		{"multivariate param", job("    multivariate: {params: {nosuch: '1'}}\n"), "jobs[0](j).multivariate.params"},
		{"multivariate model param", job("    multivariate: {model: pca, params: {nosuch: '1'}}\n"), "jobs[0](j).multivariate.model"},
		{"multivariate min rows", job("    multivariate: {min_rows: 5}\n"), "jobs[0](j).multivariate.min_rows"},
		{"multivariate risk", job("    multivariate: {risk: 0.7}\n"), "jobs[0](j).multivariate.risk"},
		{"multivariate negative risk", job("    multivariate: {risk: -0.001}\n"), "jobs[0](j).multivariate.risk"},
		{"multivariate window", job("    multivariate: {train_window: 1h}\n"), "jobs[0](j).multivariate.train_window"},
		{"multivariate retrain", job("    multivariate: {retrain_every: 1s}\n"), "jobs[0](j).multivariate.retrain_every"},
		{"multivariate top k", job("    multivariate: {top_k: -1}\n"), "jobs[0](j).multivariate.top_k"},
		{"multivariate entity label", job("    entity_labels: [series]\n    multivariate: {}\n"), "jobs[0](j).entity_labels[0]"},
		{"missing job file", "job_files: [nosuch.yml]\n", "job_files[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), t.TempDir())
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestWebhookAndRCASections(t *testing.T) {
	t.Run("absent sections take the defaults", func(t *testing.T) {
		c, err := Load([]byte(minimal), "")
		require.NoError(t, err)
		want := webhook.DefaultConfig
		want.StateDir = filepath.Join(DefaultStateDir, "webhook")
		require.Equal(t, want, c.Webhook)
		require.Equal(t, rca.DefaultConfig(), c.RCA)
		require.Equal(t, filepath.Join(DefaultStateDir, "outbox"), c.Kafka.OutboxDir)
	})
	t.Run("state dirs follow state_dir", func(t *testing.T) {
		c, err := Load([]byte(minimal+"state_dir: /var/lib/anteater\nwebhook: {path: /am}\n"), "")
		require.NoError(t, err)
		require.Equal(t, "/var/lib/anteater/webhook", c.Webhook.StateDir)
		require.Equal(t, "/var/lib/anteater/outbox", c.Kafka.OutboxDir)
		require.Equal(t, "/am", c.Webhook.Path)
		require.Equal(t, webhook.DefaultConfig.QueueSize, c.Webhook.QueueSize, "absent fields keep their defaults")
	})
	t.Run("explicit values are kept", func(t *testing.T) {
		c, err := Load([]byte(minimal+`
state_dir: /srv/a
webhook: {state_dir: /srv/queue, rca_timeout: 5s, auth: {bearer_token: t}}
kafka: {outbox_dir: /srv/outbox}
rca: {step: 5s, window_before: 10m, max_causes: 3, candidate_selectors: ['{__name__=~"node_.*"}']}
`), "")
		require.NoError(t, err)
		require.Equal(t, "/srv/queue", c.Webhook.StateDir)
		require.Equal(t, 5*time.Second, c.Webhook.RCATimeout)
		require.Equal(t, "t", c.Webhook.Auth.BearerToken)
		require.Equal(t, "/srv/outbox", c.Kafka.OutboxDir)
		require.Equal(t, 5*time.Second, c.RCA.Step)
		require.Equal(t, 10*time.Minute, c.RCA.WindowBefore)
		require.Equal(t, 3, c.RCA.MaxCauses)
		require.Equal(t, rca.DefaultWindowAfter, c.RCA.WindowAfter, "absent fields keep their defaults")
		require.Equal(t, []string{`{__name__=~"node_.*"}`}, c.RCA.CandidateSelectors)
	})
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown webhook field", "webhook: {listen: x}\n", "field listen not found"},
		{"unknown rca field", "rca: {depth: 3}\n", "field depth not found"},
		{"bad webhook path", "webhook: {path: am}\n", "must start with /"},
		{"bad rca method", "rca: {methods: [magic]}\n", `unknown "magic"`},
		{"bad rca selector", "rca: {candidate_selectors: ['{']}\n", "candidate_selectors"},
		{"arangodb topology without url", "rca: {topology: arangodb}\n", "rca.topology: arangodb needs arangodb.url"},
		{"bad kafka broker", "kafka: {brokers: [nohost]}\n", "not host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(minimal+tc.yaml), "")
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDefaultJobs(t *testing.T) {
	c, err := Load([]byte("source: {url: http://127.0.0.1:9090}\n"), "")
	require.NoError(t, err)
	names := map[string]bool{}
	for _, j := range c.Jobs {
		names[j.Name] = true
	}
	for _, want := range []string{"node_cpu_usage", "node_memory_usage", "node_load1", "node_disk_read_latency",
		"node_disk_write_throughput", "node_network_errors", "node_network_drops", "gala_sli_rtt", "gala_tcp_notack",
		"gala_block_latency", "gala_proc_wchar_bytes"} {
		require.True(t, names[want], "default job %s missing", want)
	}
}

func TestJobFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.yml"), []byte("jobs:\n  - {name: x, query: up}\n"), 0o600))
	c, err := Load([]byte("job_files: [extra.yml, default]\njobs: [{name: y, query: up}]\n"), dir)
	require.NoError(t, err)
	require.Equal(t, "y", c.Jobs[0].Name)
	require.Equal(t, "x", c.Jobs[1].Name)
	require.Greater(t, len(c.Jobs), 10)
}

func TestGalaAnteaterMapping(t *testing.T) {
	c, err := LoadFile("testdata/gala-anteater.yaml")
	require.NoError(t, err)
	require.Equal(t, "http://localhost:9090", c.Source.URL)
	require.Equal(t, Duration(5*time.Second), c.Step)
	require.Equal(t, Duration(time.Minute), c.Interval)
	require.Equal(t, []string{"192.168.122.100:9092"}, c.Kafka.Brokers)
	require.Equal(t, "gala_anteater_hybrid_model", c.Kafka.ModelTopic)
	require.Equal(t, "gala_cause_inference", c.Kafka.RCATopic)
	require.Equal(t, "gala_gopher_metadata", c.Kafka.MetaTopic)
	require.Equal(t, "gala_anteater_kafka", c.Kafka.GroupID)
	require.Empty(t, c.Kafka.SASL.Mechanism)
	require.Equal(t, "http://localhost:8529", c.ArangoDB.URL)
	require.Equal(t, "spider", c.ArangoDB.Database)
	def, err := DefaultJobs()
	require.NoError(t, err)
	require.Len(t, c.Jobs, len(def), "default jobs applied")
	wantRCA := rca.DefaultConfig()
	wantRCA.Topology = rca.TopologyArangoDB // gala-spider's graph, as gala-anteater reads it
	require.Equal(t, wantRCA, c.RCA, "rca defaults")
	require.Equal(t, webhook.DefaultConfig, c.Webhook, "webhook defaults")

	// A file that names only the servers keeps gala-anteater's defaults
	// for everything it leaves out.
	c, err = Load([]byte("Global:\n  data_source: prometheus\nKafka:\n  server: 127.0.0.1\n  port: \"9092\"\nPrometheus:\n  server: localhost\n  port: \"9090\"\n"), "")
	require.NoError(t, err)
	require.Equal(t, "gala_anteater_hybrid_model", c.Kafka.ModelTopic)
	require.Equal(t, "gala_cause_inference", c.Kafka.RCATopic)
	require.Equal(t, "gala_anteater_kafka", c.Kafka.GroupID)
	require.Equal(t, "spider", c.ArangoDB.Database)
	require.Empty(t, c.ArangoDB.URL)
	require.Equal(t, rca.TopologyLabels, c.RCA.Topology, "no ArangoDB: topology from labels")

	b, err := os.ReadFile("testdata/gala-anteater.yaml")
	require.NoError(t, err)
	sasl := strings.Replace(string(b), `auth_type: ""`, `auth_type: "sasl_plaintext"`, 1)
	sasl = strings.Replace(sasl, `username: ""`, `username: "alice"`, 1)
	sasl = strings.Replace(sasl, `password: ""`, `password: "s3cret"`, 1)
	c, err = Load([]byte(sasl), "")
	require.NoError(t, err)
	require.Equal(t, "PLAIN", c.Kafka.SASL.Mechanism)
	require.Equal(t, "alice", c.Kafka.SASL.Username)
	require.Equal(t, "s3cret", c.Kafka.SASL.Password)

	for _, tc := range []struct{ from, to, want string }{
		{`auth_type: ""`, `auth_type: "kerberos"`, "Kafka.auth_type"},
		{`data_source: "prometheus"`, `data_source: "aom"`, "Global.data_source"},
		{`steps: "5"`, `steps: "five"`, "Prometheus.steps"},
		{`duration: 1`, `duration: -2`, "Schedule.duration"},
		{`port: "9090"`, `port: "http"`, "Prometheus.port"},
		{`steps: "5"`, `steps: "120"`, "step:"},
		// Values that parse as positive floats but make no positive duration.
		{`duration: 1`, `duration: NaN`, "Schedule.duration"},
		{`duration: 1`, `duration: 1e300`, "Schedule.duration"},
		{`steps: "5"`, `steps: "Inf"`, "Prometheus.steps"},
		{`steps: "5"`, `steps: "1e-12"`, "Prometheus.steps"},
	} {
		_, err := Load([]byte(strings.Replace(string(b), tc.from, tc.to, 1)), "")
		require.ErrorIs(t, err, ErrInvalid, tc.to)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestExporterTestdataExample(t *testing.T) {
	b, err := os.ReadFile("../../exporter/testdata/anteater.yml")
	require.NoError(t, err)
	c, err := Load(b, "../../exporter/testdata")
	require.NoError(t, err)
	require.NotEmpty(t, c.Jobs)
}

func TestCoordinatorKeepsRunningConfigOnBadReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anteater.yml")
	require.NoError(t, os.WriteFile(path, []byte(minimal), 0o600))
	reg := prometheus.NewRegistry()
	c := NewCoordinator(path, reg, promslog.NewNopLogger())
	var applied []*Config
	c.Subscribe(func(cfg *Config) error { applied = append(applied, cfg); return nil })
	require.NoError(t, c.Reload())
	first := c.Config()
	require.NotNil(t, first)
	require.Equal(t, 1.0, testutil.ToFloat64(c.success))

	require.NoError(t, os.WriteFile(path, []byte("jobs: [{name: j, query: 'rate('}]\n"), 0o600))
	require.ErrorContains(t, c.Reload(), "jobs[0](j).query")
	require.Same(t, first, c.Config(), "running configuration kept")
	require.Len(t, applied, 1, "subscribers not called with a bad file")
	require.Equal(t, 0.0, testutil.ToFloat64(c.success))
	require.Greater(t, testutil.ToFloat64(c.successTime), 0.0)
}
