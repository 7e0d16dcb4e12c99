package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/anteater-dev/anteater/rca"
)

// galaSections are gala-anteater.yaml's top-level keys; anteater.yml's keys
// are lower case, so one of these marks a gala-anteater file.
var galaSections = []string{"Global", "Arangodb", "Kafka", "Prometheus", "Aom", "Schedule", "Suppression"}

func isGala(root *yaml.Node) bool {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return false
	}
	m := root.Content[0]
	for i := 0; i < len(m.Content); i += 2 {
		for _, s := range galaSections {
			if m.Content[i].Value == s {
				return true
			}
		}
	}
	return false
}

// galaFile is the part of gala-anteater.yaml anteater maps. Numbers are
// read as strings because the shipped file quotes them ("9092") and users
// may not. Sections anteater has no use for (Aom, Suppression) are ignored.
type galaFile struct {
	Global struct {
		DataSource string `yaml:"data_source"`
	} `yaml:"Global"`
	Arangodb struct {
		URL    string `yaml:"url"`
		DBName string `yaml:"db_name"`
	} `yaml:"Arangodb"`
	Kafka struct {
		Server     string `yaml:"server"`
		Port       string `yaml:"port"`
		ModelTopic string `yaml:"model_topic"`
		RCATopic   string `yaml:"rca_topic"`
		MetaTopic  string `yaml:"meta_topic"`
		GroupID    string `yaml:"group_id"`
		AuthType   string `yaml:"auth_type"`
		Username   string `yaml:"username"`
		Password   string `yaml:"password"`
	} `yaml:"Kafka"`
	Prometheus struct {
		Server string `yaml:"server"`
		Port   string `yaml:"port"`
		Steps  string `yaml:"steps"`
	} `yaml:"Prometheus"`
	Schedule struct {
		Duration string `yaml:"duration"`
	} `yaml:"Schedule"`
}

// loadGala maps a gala-anteater.yaml onto anteater's configuration with the
// default jobs:
//
//	Prometheus.server/port  → source.url (http://server:port)
//	Prometheus.steps        → step (seconds)
//	Schedule.duration       → interval (minutes)
//	Kafka.server/port       → kafka.brokers
//	Kafka.*_topic, group_id → kafka.*_topic, group_id
//	Kafka.auth_type         → kafka.sasl (sasl_plaintext → PLAIN)
//	Arangodb.url/db_name    → arangodb.url/db_name
func loadGala(b []byte) (*Config, error) {
	var g galaFile
	if err := yaml.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%w: gala-anteater.yaml: %w", ErrInvalid, err)
	}
	c := Default()
	if ds := strings.TrimSpace(g.Global.DataSource); ds != "" && ds != "prometheus" {
		return nil, invalid("Global.data_source", "%q is not supported, only prometheus", ds)
	}

	p := g.Prometheus
	if p.Server != "" {
		host := strings.TrimSpace(p.Server)
		scheme := "http"
		if i := strings.Index(host, "://"); i >= 0 {
			scheme, host = host[:i], host[i+3:]
		}
		if p.Port != "" {
			if _, err := strconv.ParseUint(strings.TrimSpace(p.Port), 10, 16); err != nil {
				return nil, invalid("Prometheus.port", "%q is not a port number", p.Port)
			}
			host = net.JoinHostPort(host, strings.TrimSpace(p.Port))
		}
		c.Source.URL = scheme + "://" + host
	}
	if s := strings.TrimSpace(g.Schedule.Duration); s != "" {
		d, ok := positiveDuration(s, time.Minute)
		if !ok {
			return nil, invalid("Schedule.duration", "%q is not a positive number of minutes", s)
		}
		c.Interval = Duration(d)
	}
	if s := strings.TrimSpace(p.Steps); s != "" {
		d, ok := positiveDuration(s, time.Second)
		if !ok {
			return nil, invalid("Prometheus.steps", "%q is not a positive number of seconds", s)
		}
		c.Step = Duration(d)
	}

	k := g.Kafka
	if k.Server != "" {
		addr := strings.TrimSpace(k.Server)
		if k.Port != "" {
			if _, err := strconv.ParseUint(strings.TrimSpace(k.Port), 10, 16); err != nil {
				return nil, invalid("Kafka.port", "%q is not a port number", k.Port)
			}
			addr = net.JoinHostPort(addr, strings.TrimSpace(k.Port))
		}
		c.Kafka.Brokers = []string{addr}
	}
	// Keys missing from the file keep anteater's (gala-anteater's) defaults.
	c.Kafka.ModelTopic = firstNonEmpty(k.ModelTopic, c.Kafka.ModelTopic)
	c.Kafka.RCATopic = firstNonEmpty(k.RCATopic, c.Kafka.RCATopic)
	c.Kafka.MetaTopic = firstNonEmpty(k.MetaTopic, c.Kafka.MetaTopic)
	c.Kafka.GroupID = firstNonEmpty(k.GroupID, c.Kafka.GroupID)
	c.Kafka = c.Kafka.WithDefaults()
	switch strings.ToLower(strings.TrimSpace(k.AuthType)) {
	case "", "plaintext":
	case "sasl_plaintext":
		c.Kafka.SASL.Mechanism = "PLAIN"
		c.Kafka.SASL.Username = k.Username
		c.Kafka.SASL.Password = k.Password
	default:
		return nil, invalid("Kafka.auth_type", "%q is not one of \"\", plaintext, sasl_plaintext", k.AuthType)
	}

	c.ArangoDB.URL = strings.TrimSpace(g.Arangodb.URL)
	c.ArangoDB.Database = firstNonEmpty(g.Arangodb.DBName, c.ArangoDB.Database)
	c.ArangoDB.SetDefaults()
	if c.ArangoDB.URL != "" {
		// gala-anteater reads its topology from gala-spider's ArangoDB
		// whenever one is configured; keep doing so after the switch.
		c.RCA.Topology = rca.TopologyArangoDB
	}

	if err := c.resolveJobs(""); err != nil {
		return nil, err
	}
	if err := c.complete(); err != nil {
		return nil, fmt.Errorf("gala-anteater.yaml: %w", err)
	}
	return c, nil
}

// positiveDuration reads s as a number of units. NaN, infinities, values
// past time.Duration's range and values rounding to 0 are refused: they
// would otherwise turn into a negative duration or a zero step (which
// defaults to the interval) instead of an error naming the field.
func positiveDuration(s string, unit time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	ns := f * float64(unit)
	if !(ns >= 1 && ns < math.MaxInt64) { // also false for NaN
		return 0, false
	}
	return time.Duration(ns), true
}

func firstNonEmpty(a, b string) string {
	if a = strings.TrimSpace(a); a != "" {
		return a
	}
	return b
}
