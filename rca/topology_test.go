package rca

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestGraphFromLabels(t *testing.T) {
	// gala-gopher-style label sets: a process in a container in a pod on
	// host m1 calling a server pod on m2 over L7, and a bare host metric.
	client := map[string]string{"machine_id": "m1", "tgid": "100", "container_id": "c1", "pod_id": "p1", "pod": "default/web",
		"l7_role": "client", "client_ip": "10.0.0.1", "server_ip": "10.0.0.2", "protocol": "http"}
	server := map[string]string{"machine_id": "m2", "tgid": "200", "container_id": "c2", "pod_id": "p2", "pod": "default/api",
		"l4_role": "tcp_server", "client_ip": "10.0.0.1", "server_ip": "10.0.0.2"}
	host := map[string]string{"machine_id": "m3", "job": "node"}
	unknownPeer := map[string]string{"machine_id": "m3", "tgid": "300", "role": "0", "client_ip": "10.0.0.3", "server_ip": "10.0.0.9"}
	g := GraphFromLabels([]map[string]string{client, server, host, unknownPeer})

	require.Equal(t, []Edge{
		{From: "container/c1", To: "pod/p1", Type: "belongs_to"},
		{From: "container/c2", To: "pod/p2", Type: "belongs_to"},
		{From: "pod/p1", To: "host/m1", Type: "runs_on"},
		{From: "pod/p1", To: "pod/p2", Type: "connect"},
		{From: "pod/p2", To: "host/m2", Type: "runs_on"},
		{From: "process/m1/100", To: "container/c1", Type: "belongs_to"},
		{From: "process/m2/200", To: "container/c2", Type: "belongs_to"},
		{From: "process/m3/300", To: "host/m3", Type: "runs_on"},
	}, g.Edges())
	e, ok := g.Entity("pod/p1")
	require.True(t, ok)
	require.Equal(t, TypePod, e.Type)
	require.Equal(t, map[string]string{"pod_id": "p1", "pod": "default/web"}, e.Labels)

	id, ok := g.Resolve(map[string]string{"container_id": "c2", "job": "cadvisor"})
	require.True(t, ok)
	require.Equal(t, "container/c2", id)
	id, ok = g.Resolve(host)
	require.True(t, ok)
	require.Equal(t, "host/m3", id)
	_, ok = g.Resolve(map[string]string{"machine_id": "m9"})
	require.False(t, ok)

	// A fault in the server's container reaches the client's process.
	require.Equal(t, []string{"container/c2", "pod/p2", "pod/p1", "container/c1", "process/m1/100"},
		g.PropagationPath("container/c2", "process/m1/100"))
	// Against the dependencies when no forward chain exists.
	require.Equal(t, []string{"host/m1", "pod/p1", "pod/p2"}, g.PropagationPath("host/m1", "pod/p2")[:3])
	require.Nil(t, g.PropagationPath("host/m1", "host/m3"))
	require.ElementsMatch(t, []string{"pod/p2", "container/c1", "host/m1"}, g.Neighbours("pod/p1"))
}

func TestLoadGraphFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	good := write("good.yml", `
entities:
  - id: frontend
    type: pod
    labels: {pod: default/frontend}
  - id: backend
    labels: {pod: default/backend}
edges:
  - {from: frontend, to: backend, type: connect}
`)
	g, err := LoadGraphFile(good)
	require.NoError(t, err)
	require.Equal(t, []Edge{{From: "frontend", To: "backend", Type: "connect"}}, g.Edges())
	got, err := NewStaticTopology(g).Graph(context.Background(), time.Now())
	require.NoError(t, err)
	require.Same(t, g, got)

	for name, body := range map[string]string{
		"typo.yml":    "entities: [{id: a}]\nedges: [{from: a, to: b}]\n",
		"twice.yml":   "entities: [{id: a}, {id: a}]\n",
		"noid.yml":    "entities: [{type: pod}]\n",
		"unknown.yml": "entities: [{id: a, colour: red}]\n",
		"broken.yml":  "entities: [\n",
	} {
		_, err := LoadGraphFile(write(name, body))
		require.Error(t, err, name)
		require.ErrorContains(t, err, name)
	}
	_, err = LoadGraphFile(filepath.Join(dir, "missing.yml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestConfig(t *testing.T) {
	var c struct {
		RCA    Config       `yaml:"rca"`
		Arango ArangoConfig `yaml:"arangodb"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(`
rca:
  methods: [robust, pagerank]
  window_before: 1h
  candidate_selectors: ['{__name__=~"gala_gopher_.*"}']
arangodb:
  url: http://localhost:8529
`), &c))
	require.NoError(t, c.RCA.Validate())
	require.Equal(t, []string{MethodRobust, MethodPageRank}, c.RCA.Methods)
	require.Equal(t, time.Hour, c.RCA.WindowBefore)
	require.Equal(t, DefaultWindowAfter, c.RCA.WindowAfter, "unset fields keep their defaults")
	require.Equal(t, DefaultMaxCandidates, c.RCA.MaxCandidates)
	require.Equal(t, TopologyLabels, c.RCA.Topology)
	require.NoError(t, c.Arango.Validate())
	require.Equal(t, DefaultArangoDatabase, c.Arango.Database)
	require.Equal(t, DefaultArangoTimeout, c.Arango.Timeout)
	require.Equal(t, DefaultEdgeCollections, c.Arango.EdgeCollections)
	opts, err := c.RCA.EngineOptions()
	require.NoError(t, err)
	require.Equal(t, time.Hour, opts.Before)

	d := DefaultConfig()
	require.NoError(t, d.Validate())
	for name, mutate := range map[string]func(*Config){
		"window_before":          func(c *Config) { c.WindowBefore = 0 },
		"over 11000 points":      func(c *Config) { c.Step = time.Millisecond },
		"max_candidates":         func(c *Config) { c.MaxCandidates = 0 },
		"max_causes":             func(c *Config) { c.MaxCauses = -1 },
		`unknown "magic"`:        func(c *Config) { c.Methods = []string{"magic"} },
		"methods: empty":         func(c *Config) { c.Methods = nil },
		`direction "sideways"`:   func(c *Config) { c.Direction = "sideways" },
		"topology_file is empty": func(c *Config) { c.Topology = TopologyFile },
		`topology "spider"`:      func(c *Config) { c.Topology = "spider" },
		"candidate_selectors":    func(c *Config) { c.CandidateSelectors = []string{"{job="} },
		"candidate_jobs":         func(c *Config) { c.CandidateJobs = []string{""} },
		"rca keywords":           func(c *Config) { c.Keywords = []KeywordRule{{Keyword: "x", Pattern: "["}} },
	} {
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		require.ErrorContains(t, err, name)
	}
	for name, a := range map[string]ArangoConfig{
		"want http(s)":          {URL: "ftp://x"},
		"password without user": {URL: "http://x:8529", Password: "p"},
		"negative":              {URL: "http://x:8529", Timeout: -time.Second},
	} {
		require.ErrorContains(t, a.Validate(), name)
	}
	require.NoError(t, (&ArangoConfig{}).Validate(), "an empty url disables the source")
}
