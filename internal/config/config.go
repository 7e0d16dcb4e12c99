// Package config loads and validates anteater.yml, accepts gala-anteater's
// gala-anteater.yaml in its place, and coordinates reloads.
//
// Every field has a documented default; Load fills the defaults and
// validates, so a *Config handed to the rest of the program is complete.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/anteater-dev/anteater/exporter/jobs"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/rca"
	"github.com/anteater-dev/anteater/scorer"
	"github.com/anteater-dev/anteater/scorer/multivariate"
	"github.com/anteater-dev/anteater/webhook"
)

// ErrInvalid is wrapped by every validation error, so callers can tell a
// bad file from an unreadable one.
var ErrInvalid = errors.New("invalid configuration")

// Defaults of anteater.yml. They are documented on the fields below.
const (
	DefaultInterval            = Duration(time.Minute)
	DefaultLookback            = Duration(2 * time.Hour)
	DefaultSeriesGrace         = Duration(5 * time.Minute)
	DefaultStateDir            = "data"
	DefaultStateSaveInterval   = Duration(5 * time.Minute)
	DefaultSourceURL           = "http://localhost:9090"
	DefaultSourceTimeout       = Duration(30 * time.Second)
	DefaultSourceConcurrency   = 4
	DefaultSourceRetries       = 3
	DefaultSourceRetryBackoff  = Duration(time.Second)
	DefaultMaxPointsPerRequest = 1_000_000
	// MaxPointsPerSeries is Prometheus' own limit of points per series in
	// one query_range answer; requests are chunked below it.
	MaxPointsPerSeries = 11000
	DefaultWindow      = Duration(5 * time.Minute)
	DefaultMaxSeries   = 10000
	DefaultEntityLabel = "machine_id"
	DefaultEventType   = "sys"
)

// Config is anteater.yml.
type Config struct {
	// Source is the Prometheus HTTP API the series are read from.
	Source SourceConfig `yaml:"source"`
	// Interval between two scoring cycles of a job (default 1m).
	Interval Duration `yaml:"interval"`
	// Step is the query_range resolution, the spacing of the points a
	// model sees (default: equal to interval, one point per series per
	// cycle; set it lower to score finer than the schedule).
	Step Duration `yaml:"step"`
	// Lookback is the history fed to a new series' model before it scores
	// live points, so it starts warm (default 2h).
	Lookback Duration `yaml:"lookback"`
	// SeriesGrace is how long a series may be missing from successful
	// cycles before it leaves /metrics and memory (default 5m). Failed
	// cycles (source down) do not count.
	SeriesGrace Duration `yaml:"series_grace"`
	// StateDir holds the saved model state (default "data", relative to
	// the working directory). It cannot change on reload.
	StateDir string `yaml:"state_dir"`
	// StateSaveInterval is how often model state is saved; it is also
	// saved on shutdown and reload (default 5m).
	StateSaveInterval Duration `yaml:"state_save_interval"`
	// JobFiles are extra files of jobs (a YAML document with a top-level
	// `jobs:` list), relative to this file's directory. The name "default"
	// selects the built-in default jobs (node_exporter and gala-gopher).
	// When neither jobs nor job_files is set, the default jobs are used.
	JobFiles []string `yaml:"job_files"`
	// Jobs are the scoring jobs.
	Jobs []Job `yaml:"jobs"`
	// Kafka is where the webhook publishes events (see internal/kafka).
	Kafka kafka.Config `yaml:"kafka"`
	// ArangoDB is gala-spider's topology store (see rca).
	ArangoDB rca.ArangoConfig `yaml:"arangodb"`
	// Webhook is the Alertmanager receiver (see webhook.Config). Its
	// state_dir defaults to <state_dir>/webhook. It cannot change on
	// reload: a changed section is applied at the next restart.
	Webhook webhook.Config `yaml:"webhook"`
	// RCA is the root-cause analysis the webhook runs for each firing
	// anomaly (see rca.Config); it is rebuilt on reload.
	RCA rca.Config `yaml:"rca"`
}

// SourceConfig is the `source` section.
type SourceConfig struct {
	// URL of the Prometheus HTTP API (Prometheus, Thanos, Mimir,
	// VictoriaMetrics), e.g. http://localhost:9090 (default that).
	URL string `yaml:"url"`
	// Timeout of one request (default 30s).
	Timeout Duration `yaml:"timeout"`
	// MaxConcurrency bounds the requests in flight over all jobs
	// (default 4).
	MaxConcurrency int `yaml:"max_concurrency"`
	// Retries of a failed request (server error, timeout, network) with
	// exponential back-off; 0 disables retries (default 3).
	Retries int `yaml:"retries"`
	// RetryBackoff is the first back-off; it doubles on each retry up to
	// 30s (default 1s).
	RetryBackoff Duration `yaml:"retry_backoff"`
	// MaxPointsPerRequest bounds the points (series x steps) one
	// query_range request may return; long ranges are split into chunks,
	// never more than 11000 steps each (default 1000000).
	MaxPointsPerRequest int `yaml:"max_points_per_request"`
	// HTTPClientConfig: basic_auth, authorization (bearer), oauth2,
	// tls_config, proxy_url, ... as in Prometheus' own configuration.
	HTTPClientConfig promconfig.HTTPClientConfig `yaml:",inline"`
}

// Job is one scoring job: a PromQL query whose result series are scored.
type Job struct {
	// Name identifies the job; it is the `anteater_job` label (required,
	// unique).
	Name string `yaml:"name"`
	// Query is a PromQL expression returning an instant vector: a selector
	// or an expression such as rate(...) (required).
	Query string `yaml:"query"`
	// EntityLabels group series into entities (default [machine_id]).
	EntityLabels []string `yaml:"entity_labels"`
	// Spec is the model and its calibration: model, params, direction,
	// min_deviation, threshold, debounce, level_shift_absorb (see
	// scorer.Spec; zero values mean the scorer's defaults).
	Spec scorer.Spec `yaml:",inline"`
	// Window is the observation window of anteater_anomaly_ratio (default
	// 5m; at most 1024 points are kept per series).
	Window Duration `yaml:"window"`
	// EntityName is gala-anteater's entity name in events (default: the
	// job name).
	EntityName string `yaml:"entity_name"`
	// EventType is gala-anteater's event_type, e.g. sys or app (default
	// sys).
	EventType string `yaml:"event_type"`
	// Keywords describe the kind of fault for root-cause events (default
	// none).
	Keywords []string `yaml:"keywords"`
	// Description is a human sentence about the metric (default "").
	Description string `yaml:"description"`
	// Enabled turns the job on or off (default true).
	Enabled *bool `yaml:"enabled"`
	// MaxSeries caps the series this job scores; further series are
	// dropped and counted (default 10000).
	MaxSeries int `yaml:"max_series"`
	// Multivariate, when set, also scores each entity's series together
	// with a multivariate model (see Multivariate).
	Multivariate *Multivariate `yaml:"multivariate"`
}

// Defaults of a job's multivariate block.
const (
	DefaultMultivariateTrainWindow  = Duration(24 * time.Hour)
	DefaultMultivariateRetrainEvery = Duration(24 * time.Hour)
	DefaultMultivariateMinRows      = 200
	DefaultMultivariateTopK         = 5
)

// Multivariate configures a job's per-entity multivariate models: each
// entity's series, sorted by their labels, are the dimensions of one row
// per step.
type Multivariate struct {
	// Model is a multivariate model or "+"-joined ensemble (default
	// multivariate.DefaultModel).
	Model string `yaml:"model"`
	// Params are the model's parameters.
	Params map[string]string `yaml:"params"`
	// TrainWindow is the look-back of rows a fit uses (default 24h).
	TrainWindow Duration `yaml:"train_window"`
	// RetrainEvery refits after this much sample time (default 24h).
	RetrainEvery Duration `yaml:"retrain_every"`
	// MinRows is how many rows the first fit needs (default 200, at
	// least 10).
	MinRows int `yaml:"min_rows"`
	// TopK is how many of the largest contributions are exposed per
	// entity (default 5).
	TopK int `yaml:"top_k"`
	// Risk is the probability that a normal row scores above 1.0, from
	// which the threshold is calibrated (default
	// multivariate.DefaultRisk, 1e-3).
	Risk float64 `yaml:"risk"`
	// FixedThreshold keeps the threshold calibrated at each fit instead of
	// following the tail of the live scores between fits.
	FixedThreshold bool `yaml:"fixed_threshold"`
}

// checkParams refuses parameters no member of the model has: an
// ensemble ignores bare keys its members do not know, which would hide a
// typo.
func (m *Multivariate) checkParams() error {
	has := map[string]bool{}
	for spec := range strings.SplitSeq(m.Model, "+") {
		spec = strings.TrimSpace(spec)
		name, _, _ := strings.Cut(spec, "@")
		_, ps, err := multivariate.Describe(name)
		if err != nil {
			return err
		}
		for _, p := range ps {
			has[p.Name], has[name+"."+p.Name], has[spec+"."+p.Name] = true, true, true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Params)) {
		if !has[k] {
			return fmt.Errorf("no member of %s has parameter %q", m.Model, k)
		}
	}
	return nil
}

// Detector returns the detector configuration of the block.
func (m *Multivariate) Detector() multivariate.Config {
	return multivariate.Config{
		Model:          m.Model,
		Params:         m.Params,
		FixedThreshold: m.FixedThreshold,
		Calibration:    multivariate.POT{Risk: m.Risk},
	}
}

// IsEnabled reports whether the job runs.
func (j *Job) IsEnabled() bool { return j.Enabled == nil || *j.Enabled }

// SpecHash identifies the job's model configuration: saved state is only
// restored into a model built from the same spec.
func (j *Job) SpecHash() uint64 {
	b, err := yaml.Marshal(j.Spec)
	if err != nil {
		// Spec is plain data; Marshal cannot fail on it. A constant keeps
		// the behaviour defined anyway.
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// Duration is a duration in Prometheus notation (30s, 5m, 2h, 1d).
type Duration model.Duration

// UnmarshalYAML parses the duration; the error carries the line, which
// Load turns into the field's name.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a valid duration: %w", n.Line, s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Prometheus notation.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d Duration) String() string { return model.Duration(d).String() }

// Default returns a Config with every default set and no jobs.
func Default() *Config {
	return &Config{
		Source: SourceConfig{
			URL:                 DefaultSourceURL,
			Timeout:             DefaultSourceTimeout,
			MaxConcurrency:      DefaultSourceConcurrency,
			Retries:             DefaultSourceRetries,
			RetryBackoff:        DefaultSourceRetryBackoff,
			MaxPointsPerRequest: DefaultMaxPointsPerRequest,
			HTTPClientConfig:    promconfig.DefaultHTTPClientConfig,
		},
		Interval:          DefaultInterval,
		Lookback:          DefaultLookback,
		SeriesGrace:       DefaultSeriesGrace,
		StateDir:          DefaultStateDir,
		StateSaveInterval: DefaultStateSaveInterval,
		// The sections' own UnmarshalYAML fill their defaults only when
		// the section is present; these cover a file without them and a
		// mapped gala-anteater.yaml.
		Webhook: webhook.DefaultConfig,
		RCA:     rca.DefaultConfig(),
	}
}

// LoadFile reads anteater.yml (or a gala-anteater.yaml) from path.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Load(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load parses a configuration; dir resolves relative job_files. A
// gala-anteater.yaml (top-level sections Global, Prometheus, Kafka, ...)
// is recognised and mapped.
func Load(b []byte, dir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if isGala(&root) {
		return loadGala(b)
	}
	c := Default()
	if len(root.Content) > 0 {
		m := root.Content[0]
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: top level must be a mapping", ErrInvalid)
		}
		if err := strictDecode(m, c); err != nil {
			return nil, err
		}
		// rca.Config decodes itself through a yaml.Node, which loses the
		// strict decoder's check of unknown fields: check them here.
		if n := sectionNode(m, "rca"); n != nil {
			if err := strictDecode(n, &rcaFields{}); err != nil {
				return nil, fmt.Errorf("rca: %w", err)
			}
		}
		// Without its own state_dir the webhook keeps its queue next to
		// the models' state.
		if n := sectionNode(m, "webhook"); n == nil || sectionNode(n, "state_dir") == nil {
			c.Webhook.StateDir = ""
		}
	}
	if err := c.resolveJobs(dir); err != nil {
		return nil, err
	}
	if err := c.complete(); err != nil {
		return nil, err
	}
	return c, nil
}

// strictDecode decodes a node refusing unknown fields; the node is
// re-encoded because yaml.v3 only checks fields through a Decoder.
func strictDecode(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %s%w", ErrInvalid, fieldAt(n, err), err)
	}
	return nil
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// fieldAt names the field a decoding error points at ("jobs[0].window: "),
// found from the error's line number; "" when it cannot tell.
func fieldAt(root *yaml.Node, err error) string {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	if p := pathAt(root, line, ""); p != "" {
		return p + ": "
	}
	return ""
}

func pathAt(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			if k.Line == line && (v.Kind == yaml.ScalarNode || v.Line == line && v.Kind != yaml.MappingNode) {
				return p
			}
			if r := pathAt(v, line, p); r != "" {
				return r
			}
			if k.Line == line {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if r := pathAt(v, line, fmt.Sprintf("%s[%d]", prefix, i)); r != "" {
				return r
			}
		}
	case yaml.ScalarNode:
		if n.Line == line {
			return prefix
		}
	}
	return ""
}

// rcaFields has rca.Config's fields without its UnmarshalYAML, so a
// strict decoder sees unknown keys of the rca section.
type rcaFields rca.Config

// sectionNode returns the value of key in mapping m, nil when absent.
func sectionNode(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// jobsFile is the layout of a job file.
type jobsFile struct {
	Jobs []Job `yaml:"jobs"`
}

// DefaultJobs returns the built-in jobs (node_exporter and gala-gopher).
func DefaultJobs() ([]Job, error) {
	return parseJobs(jobs.Default, "default jobs")
}

func parseJobs(b []byte, name string) ([]Job, error) {
	var f jobsFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	return f.Jobs, nil
}

func (c *Config) resolveJobs(dir string) error {
	files := c.JobFiles
	if len(files) == 0 && len(c.Jobs) == 0 {
		files = []string{"default"}
	}
	for i, f := range files {
		var (
			js  []Job
			err error
		)
		if f == "default" {
			js, err = DefaultJobs()
		} else {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			var b []byte
			if b, err = os.ReadFile(p); err != nil {
				return fmt.Errorf("%w: job_files[%d]: %w", ErrInvalid, i, err)
			}
			js, err = parseJobs(b, fmt.Sprintf("job_files[%d] (%s)", i, f))
		}
		if err != nil {
			return err
		}
		c.Jobs = append(c.Jobs, js...)
	}
	return nil
}

// promqlParser validates job queries with the default PromQL functions.
var promqlParser = parser.NewParser(parser.Options{})

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// complete fills the derived defaults and validates everything.
func (c *Config) complete() error {
	if c.Step == 0 {
		c.Step = c.Interval
	}
	if c.Webhook.StateDir == "" {
		c.Webhook.StateDir = filepath.Join(c.StateDir, "webhook")
	}
	if c.Kafka.OutboxDir == "" {
		c.Kafka.OutboxDir = filepath.Join(c.StateDir, "outbox")
	}
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if len(j.EntityLabels) == 0 {
			j.EntityLabels = []string{DefaultEntityLabel}
		}
		if j.Window == 0 {
			j.Window = DefaultWindow
		}
		if j.EntityName == "" {
			j.EntityName = j.Name
		}
		if j.EventType == "" {
			j.EventType = DefaultEventType
		}
		if j.MaxSeries == 0 {
			j.MaxSeries = DefaultMaxSeries
		}
		if m := j.Multivariate; m != nil {
			if m.Model == "" {
				m.Model = multivariate.DefaultModel
			}
			if m.Risk == 0 {
				m.Risk = multivariate.DefaultRisk
			}
			if m.TrainWindow == 0 {
				m.TrainWindow = DefaultMultivariateTrainWindow
			}
			if m.RetrainEvery == 0 {
				m.RetrainEvery = DefaultMultivariateRetrainEvery
			}
			if m.MinRows == 0 {
				m.MinRows = DefaultMultivariateMinRows
			}
			if m.TopK == 0 {
				m.TopK = DefaultMultivariateTopK
			}
		}
	}
	return c.Validate()
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// Validate checks a completed Config; errors name the offending field.
func (c *Config) Validate() error {
	s := &c.Source
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		return invalid("source.url", "required")
	case err != nil:
		return invalid("source.url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return invalid("source.url", "%q is not an http(s) URL with a host", s.URL)
	}
	if err := s.HTTPClientConfig.Validate(); err != nil {
		return invalid("source", "%v", err)
	}
	switch {
	case s.Timeout <= 0:
		return invalid("source.timeout", "must be positive")
	case s.MaxConcurrency < 1:
		return invalid("source.max_concurrency", "must be at least 1")
	case s.Retries < 0:
		return invalid("source.retries", "must not be negative")
	case s.RetryBackoff < 0:
		return invalid("source.retry_backoff", "must not be negative")
	case s.Retries > 0 && s.RetryBackoff == 0:
		// Retrying at once would hit a struggling Prometheus with every
		// series' query again in the same instant.
		return invalid("source.retry_backoff", "must be positive when source.retries > 0")
	case s.MaxPointsPerRequest < 1:
		return invalid("source.max_points_per_request", "must be at least 1")
	case c.Interval <= 0:
		return invalid("interval", "must be positive")
	case c.Step <= 0:
		return invalid("step", "must be positive")
	case c.Step > c.Interval:
		return invalid("step", "%s exceeds interval %s: cycles would see no new point", c.Step, c.Interval)
	case time.Duration(c.Step)%time.Millisecond != 0:
		return invalid("step", "must be a whole number of milliseconds")
	case c.Lookback < c.Step:
		return invalid("lookback", "%s is shorter than step %s", c.Lookback, c.Step)
	case c.SeriesGrace < 0:
		return invalid("series_grace", "must not be negative")
	case c.StateDir == "":
		return invalid("state_dir", "required")
	case c.StateSaveInterval <= 0:
		return invalid("state_save_interval", "must be positive")
	}
	if err := c.validateSections(); err != nil {
		return err
	}
	names := map[string]int{}
	for i := range c.Jobs {
		if err := c.Jobs[i].validate(c, i); err != nil {
			return err
		}
		if prev, dup := names[c.Jobs[i].Name]; dup {
			return invalid(fmt.Sprintf("jobs[%d](%s).name", i, c.Jobs[i].Name), "already used by jobs[%d]", prev)
		}
		names[c.Jobs[i].Name] = i
	}
	return nil
}

// validateSections checks the kafka, arangodb, webhook and rca sections
// with their own rules, and what ties them together.
func (c *Config) validateSections() error {
	// The sections' errors name their section already.
	k := c.Kafka.WithDefaults()
	if err := k.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := c.ArangoDB.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := c.Webhook.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := c.RCA.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.RCA.Topology == rca.TopologyArangoDB && c.ArangoDB.URL == "" {
		return invalid("rca.topology", "arangodb needs arangodb.url")
	}
	return nil
}

func (j *Job) validate(c *Config, i int) error {
	f := func(name string) string {
		if j.Name == "" {
			return fmt.Sprintf("jobs[%d].%s", i, name)
		}
		return fmt.Sprintf("jobs[%d](%s).%s", i, j.Name, name)
	}
	if j.Name == "" {
		return invalid(f("name"), "required")
	}
	if j.Query == "" {
		return invalid(f("query"), "required")
	}
	expr, err := promqlParser.ParseExpr(j.Query)
	if err != nil {
		return invalid(f("query"), "%v", err)
	}
	if expr.Type() != parser.ValueTypeVector {
		return invalid(f("query"), "returns a %s, want an instant vector", expr.Type())
	}
	for k, l := range j.EntityLabels {
		if !labelNameRE.MatchString(l) {
			return invalid(f(fmt.Sprintf("entity_labels[%d]", k)), "%q is not a label name", l)
		}
	}
	switch j.Spec.Direction {
	case "", scorer.Both, scorer.Up, scorer.Down:
	default:
		return invalid(f("direction"), "%q is not one of both, up, down", j.Spec.Direction)
	}
	if j.Spec.MinDeviation < 0 {
		return invalid(f("min_deviation"), "must not be negative")
	}
	d := j.Spec.Debounce
	if d.N < 0 || d.M < 0 || d.N > d.M && d.M != 0 {
		return invalid(f("debounce"), "n=%d of m=%d: want 0 <= n <= m", d.N, d.M)
	}
	switch j.Spec.Threshold.Mode {
	case "", "auto", "fixed":
	default:
		return invalid(f("threshold.mode"), "%q is not auto or fixed", j.Spec.Threshold.Mode)
	}
	if _, err := scorer.New(j.Spec); err != nil {
		return invalid(f("model"), "%v", err)
	}
	if j.Window < c.Step {
		return invalid(f("window"), "%s is shorter than step %s", j.Window, c.Step)
	}
	if j.MaxSeries < 0 {
		return invalid(f("max_series"), "must not be negative")
	}
	if j.EventType == "" {
		return invalid(f("event_type"), "required")
	}
	if j.Multivariate != nil {
		return j.Multivariate.validate(c, j, f)
	}
	return nil
}

func (m *Multivariate) validate(c *Config, j *Job, f func(string) string) error {
	for k, l := range j.EntityLabels {
		switch l {
		case "anteater_job", "metric", "series":
			return invalid(f(fmt.Sprintf("entity_labels[%d]", k)), "%q is a label of the multivariate metrics", l)
		}
	}
	if _, err := multivariate.NewDetector(m.Detector()); err != nil {
		return invalid(f("multivariate.model"), "%v", err)
	}
	if err := m.checkParams(); err != nil {
		return invalid(f("multivariate.params"), "%v", err)
	}
	rows := int64(m.TrainWindow) / int64(c.Step)
	switch {
	case m.MinRows < 10:
		return invalid(f("multivariate.min_rows"), "%d is below 10", m.MinRows)
	case m.TrainWindow <= 0:
		return invalid(f("multivariate.train_window"), "must be positive")
	case rows < int64(m.MinRows):
		return invalid(f("multivariate.train_window"), "%s holds %d steps of %s, fewer than min_rows %d", m.TrainWindow, rows, c.Step, m.MinRows)
	case rows > 1_000_000:
		return invalid(f("multivariate.train_window"), "%s holds %d steps of %s, more than 1000000", m.TrainWindow, rows, c.Step)
	case m.RetrainEvery < c.Step:
		return invalid(f("multivariate.retrain_every"), "%s is shorter than step %s", m.RetrainEvery, c.Step)
	case m.TopK < 0:
		return invalid(f("multivariate.top_k"), "must not be negative")
	case !(m.Risk > 0 && m.Risk < 0.5):
		return invalid(f("multivariate.risk"), "%v is not in (0, 0.5)", m.Risk)
	}
	return nil
}
