// Package rca ranks the root causes of an anomaly from time series and,
// when there is one, a dependency graph between entities.
package rca

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// ArangoConfig is the `arangodb` section of anteater.yml: where gala-spider's
// topology lives. An empty URL disables the ArangoDB topology source.
type ArangoConfig struct {
	// URL of the ArangoDB server, e.g. http://localhost:8529 (default "").
	URL string `yaml:"url,omitempty"`
	// Database is the database name (default spider).
	Database string `yaml:"db_name,omitempty"`
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	// Timeout of one request (default 10s).
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// EdgeCollections are the gala-spider relations read as dependency
	// edges (default connect, belongs_to, runs_on, is_peer, store_in).
	// A collection that does not exist yet is skipped.
	EdgeCollections []string `yaml:"edge_collections,omitempty"`
}

// Defaults of the arangodb section.
const (
	DefaultArangoDatabase = "spider"
	DefaultArangoTimeout  = 10 * time.Second
)

// DefaultEdgeCollections are gala-spider's relation collections.
var DefaultEdgeCollections = []string{"connect", "belongs_to", "runs_on", "is_peer", "store_in"}

// SetDefaults fills the fields left empty.
func (c *ArangoConfig) SetDefaults() {
	if c.Database == "" {
		c.Database = DefaultArangoDatabase
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultArangoTimeout
	}
	if c.EdgeCollections == nil {
		c.EdgeCollections = slices.Clone(DefaultEdgeCollections)
	}
}

// UnmarshalYAML decodes the section over its defaults.
func (c *ArangoConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain ArangoConfig
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.SetDefaults()
	return nil
}

// Validate reports an unusable arangodb section.
func (c *ArangoConfig) Validate() error {
	if c.URL == "" {
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("arangodb url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("arangodb url %q: want http(s)://host:port", c.URL)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("arangodb timeout %s: negative", c.Timeout)
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("arangodb: password without username")
	}
	for _, e := range c.EdgeCollections {
		if e == "" {
			return errors.New("arangodb: empty edge collection name")
		}
	}
	return nil
}

// Topology sources, for Config.Topology.
const (
	// TopologyLabels derives the graph from metric labels (the default).
	TopologyLabels = "labels"
	// TopologyArangoDB reads gala-spider's graph from ArangoDB.
	TopologyArangoDB = "arangodb"
	// TopologyFile reads a static YAML graph (Config.TopologyFile).
	TopologyFile = "file"
	// TopologyNone ranks by series alone.
	TopologyNone = "none"
)

// Config is the `rca` section of anteater.yml. Every field has a default;
// decoding YAML starts from DefaultConfig.
type Config struct {
	// CandidateJobs are Prometheus job label values whose series may be
	// causes (default: none, see CandidateSelectors).
	CandidateJobs []string `yaml:"candidate_jobs,omitempty"`
	// CandidateSelectors are PromQL series selectors of the metrics that
	// may be causes, e.g. {__name__=~"gala_gopher_(proc|container|disk)_.*"}
	// (default: none). With neither jobs nor selectors, every series of
	// the anomalous entity and its neighbours is a candidate.
	CandidateSelectors []string `yaml:"candidate_selectors,omitempty"`
	// WindowBefore is how much history before the anomaly is read
	// (default 30m): the baseline the change is measured against.
	WindowBefore time.Duration `yaml:"window_before,omitempty"`
	// WindowAfter is how much data after the anomaly start is read, at
	// most up to now (default 10m).
	WindowAfter time.Duration `yaml:"window_after,omitempty"`
	// Step is the query_range resolution (default 15s).
	Step time.Duration `yaml:"step,omitempty"`
	// QueryTimeout bounds each Prometheus query (default 30s).
	QueryTimeout time.Duration `yaml:"query_timeout,omitempty"`
	// MaxCandidates bounds the candidate series of one incident
	// (default 500); the anomalous entity's come first.
	MaxCandidates int `yaml:"max_candidates,omitempty"`
	// MaxNeighbours bounds the neighbour entities whose series are read
	// (default 20).
	MaxNeighbours int `yaml:"max_neighbours,omitempty"`
	// MaxCauses is how many ranked causes an event carries (default 5).
	MaxCauses int `yaml:"max_causes,omitempty"`
	// Methods are the ranking methods combined (default robust,
	// correlation, pagerank; also nsigma).
	Methods []string `yaml:"methods,omitempty"`
	// Direction of the changes that count: both, up or down (default
	// both).
	Direction string `yaml:"direction,omitempty"`
	// Topology is the source of the entity graph: labels, arangodb,
	// file or none (default labels).
	Topology string `yaml:"topology,omitempty"`
	// TopologyFile is the static graph read when Topology is file.
	TopologyFile string `yaml:"topology_file,omitempty"`
	// Keywords replace the metric-name rules that classify causes
	// (default DefaultKeywordRules).
	Keywords []KeywordRule `yaml:"keywords,omitempty"`
}

// Defaults of the rca section.
const (
	DefaultWindowBefore  = 30 * time.Minute
	DefaultWindowAfter   = 10 * time.Minute
	DefaultStep          = 15 * time.Second
	DefaultQueryTimeout  = 30 * time.Second
	DefaultMaxCandidates = 500
	DefaultMaxNeighbours = 20
	DefaultMaxCauses     = 5
)

// DefaultConfig returns the rca section's defaults.
func DefaultConfig() Config {
	return Config{
		WindowBefore:  DefaultWindowBefore,
		WindowAfter:   DefaultWindowAfter,
		Step:          DefaultStep,
		QueryTimeout:  DefaultQueryTimeout,
		MaxCandidates: DefaultMaxCandidates,
		MaxNeighbours: DefaultMaxNeighbours,
		MaxCauses:     DefaultMaxCauses,
		Methods:       slices.Clone(DefaultMethods),
		Direction:     "both",
		Topology:      TopologyLabels,
	}
}

// UnmarshalYAML decodes the section over DefaultConfig.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = DefaultConfig()
	type plain Config
	return n.Decode((*plain)(c))
}

// Validate reports an unusable rca section.
func (c *Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"window_before": c.WindowBefore, "window_after": c.WindowAfter,
		"step": c.Step, "query_timeout": c.QueryTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("rca %s: %s must be positive", name, d))
		}
	}
	if c.Step > 0 && (c.WindowBefore+c.WindowAfter)/c.Step > 11000 {
		errs = append(errs, fmt.Errorf("rca step %s: over 11000 points in the window (Prometheus' limit)", c.Step))
	}
	if c.MaxCandidates <= 0 {
		errs = append(errs, fmt.Errorf("rca max_candidates %d: must be positive", c.MaxCandidates))
	}
	if c.MaxNeighbours < 0 {
		errs = append(errs, fmt.Errorf("rca max_neighbours %d: negative", c.MaxNeighbours))
	}
	if c.MaxCauses <= 0 {
		errs = append(errs, fmt.Errorf("rca max_causes %d: must be positive", c.MaxCauses))
	}
	if len(c.Methods) == 0 {
		errs = append(errs, errors.New("rca methods: empty"))
	}
	for _, m := range c.Methods {
		if !slices.Contains(Methods, m) {
			errs = append(errs, fmt.Errorf("rca methods: unknown %q (known: %s)", m, strings.Join(Methods, ", ")))
		}
	}
	if _, err := ParseDirection(c.Direction); err != nil {
		errs = append(errs, err)
	}
	switch c.Topology {
	case TopologyLabels, TopologyArangoDB, TopologyNone:
	case TopologyFile:
		if c.TopologyFile == "" {
			errs = append(errs, errors.New("rca topology file: topology_file is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("rca topology %q: want labels, arangodb, file or none", c.Topology))
	}
	for _, j := range c.CandidateJobs {
		if j == "" {
			errs = append(errs, errors.New("rca candidate_jobs: empty job name"))
		}
	}
	for _, s := range c.CandidateSelectors {
		if _, err := parseSelector(s); err != nil {
			errs = append(errs, fmt.Errorf("rca candidate_selectors %q: %w", s, err))
		}
	}
	if _, err := NewClassifier(c.keywordRules()); err != nil {
		errs = append(errs, fmt.Errorf("rca keywords: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Config) keywordRules() []KeywordRule {
	if len(c.Keywords) == 0 {
		return nil
	}
	return c.Keywords
}

// ParseDirection reads both, up or down ("" is both).
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "", "both":
		return Both, nil
	case "up":
		return Up, nil
	case "down":
		return Down, nil
	}
	return Both, fmt.Errorf("rca direction %q: want both, up or down", s)
}

// EngineOptions are the engine options the section describes.
func (c *Config) EngineOptions() (Options, error) {
	dir, err := ParseDirection(c.Direction)
	if err != nil {
		return Options{}, err
	}
	return Options{
		Methods:   slices.Clone(c.Methods),
		Direction: dir,
		Before:    c.WindowBefore,
		After:     c.WindowAfter,
		MaxCauses: c.MaxCauses,
		Keywords:  c.keywordRules(),
	}, nil
}

// parseSelector parses a PromQL series selector into its matchers.
func parseSelector(s string) ([]*labels.Matcher, error) {
	return parser.NewParser(parser.Options{}).ParseMetricSelector(s)
}
