package rca

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// TopologySource provides the entity dependency graph at a time.
type TopologySource interface {
	Graph(ctx context.Context, at time.Time) (*Graph, error)
}

// StaticTopology is a fixed graph, e.g. read from a file.
type StaticTopology struct{ graph *Graph }

// NewStaticTopology wraps a graph.
func NewStaticTopology(g *Graph) *StaticTopology { return &StaticTopology{graph: g} }

// Graph returns the fixed graph whatever the time.
func (s *StaticTopology) Graph(context.Context, time.Time) (*Graph, error) { return s.graph, nil }

// graphFile is the static topology file: entities with identity labels,
// and dependency edges between their ids.
//
//	entities:
//	  - id: frontend
//	    type: pod
//	    labels: {pod: default/frontend}
//	edges:
//	  - {from: frontend, to: backend, type: connect}
type graphFile struct {
	Entities []Entity `yaml:"entities"`
	Edges    []Edge   `yaml:"edges"`
}

// LoadGraphFile reads a static topology file. Every edge must join
// declared entities, so a typo is an error rather than a stray node.
func LoadGraphFile(path string) (*Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology file: %w", err)
	}
	var f graphFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("topology file %s: %w", path, err)
	}
	declared := map[string]bool{}
	for i, e := range f.Entities {
		if e.ID == "" {
			return nil, fmt.Errorf("topology file %s: entity %d: empty id", path, i)
		}
		if declared[e.ID] {
			return nil, fmt.Errorf("topology file %s: entity %q declared twice", path, e.ID)
		}
		declared[e.ID] = true
	}
	for i, e := range f.Edges {
		for _, id := range []string{e.From, e.To} {
			if !declared[id] {
				return nil, fmt.Errorf("topology file %s: edge %d: unknown entity %q", path, i, id)
			}
		}
	}
	g, err := NewGraph(f.Entities, f.Edges)
	if err != nil {
		return nil, fmt.Errorf("topology file %s: %w", path, err)
	}
	return g, nil
}

// Label-derived topology: gala-gopher (and most exporters on Kubernetes)
// label every series with where it was measured, so the hierarchy of
// entities can be read off the labels: a process (machine_id, tgid) runs in
// a container (container_id), which belongs to a pod (pod_id), which runs
// on a host (machine_id). TCP and L7 series name both ends of a
// connection (client_ip, server_ip): where a series says which end it was
// measured at (l4_role, l7_role or role), that end's address belongs to the
// series' pod (else host), and the connection becomes a call edge from the
// client's entity to the server's.

// Label names the derivation reads.
const (
	LabelMachineID   = "machine_id"
	LabelPodID       = "pod_id"
	LabelPod         = "pod"
	LabelContainerID = "container_id"
	LabelTGID        = "tgid"
	LabelClientIP    = "client_ip"
	LabelServerIP    = "server_ip"
)

// Entity types of the label-derived graph.
const (
	TypeHost      = "host"
	TypePod       = "pod"
	TypeContainer = "container"
	TypeProcess   = "process"
)

// labelEntities are the entities a series' labels name, most specific
// first.
func labelEntities(l map[string]string) []Entity {
	var out []Entity
	if m, t := l[LabelMachineID], l[LabelTGID]; m != "" && t != "" {
		out = append(out, Entity{ID: "process/" + m + "/" + t, Type: TypeProcess, Labels: map[string]string{LabelMachineID: m, LabelTGID: t}})
	}
	if c := l[LabelContainerID]; c != "" {
		out = append(out, Entity{ID: "container/" + c, Type: TypeContainer, Labels: map[string]string{LabelContainerID: c}})
	}
	if p := l[LabelPodID]; p != "" {
		labels := map[string]string{LabelPodID: p}
		if name := l[LabelPod]; name != "" {
			labels[LabelPod] = name
		}
		out = append(out, Entity{ID: "pod/" + p, Type: TypePod, Labels: labels})
	} else if name := l[LabelPod]; name != "" {
		out = append(out, Entity{ID: "pod/" + name, Type: TypePod, Labels: map[string]string{LabelPod: name}})
	}
	if m := l[LabelMachineID]; m != "" {
		out = append(out, Entity{ID: "host/" + m, Type: TypeHost, Labels: map[string]string{LabelMachineID: m}})
	}
	return out
}

// endpointEntity is the entity that owns the addresses a series reports:
// its pod, else its host, else its most specific entity.
func endpointEntity(ents []Entity) string {
	for _, t := range []string{TypePod, TypeHost} {
		for _, e := range ents {
			if e.Type == t {
				return e.ID
			}
		}
	}
	if len(ents) > 0 {
		return ents[0].ID
	}
	return ""
}

// role tells which end of a connection a series was measured at.
func role(l map[string]string) (server, client bool) {
	for _, k := range []string{"l7_role", "l4_role", "role"} {
		v := strings.ToLower(l[k])
		switch {
		case strings.Contains(v, "server"):
			return true, false
		case strings.Contains(v, "client"):
			return false, true
		}
	}
	return false, false
}

// GraphFromLabels derives the entity graph from the labels of series.
func GraphFromLabels(labelSets []map[string]string) *Graph {
	g := &Graph{}
	owner := map[string]string{} // IP → entity id
	for _, l := range labelSets {
		ents := labelEntities(l)
		for i, e := range ents {
			_ = g.AddEntity(e) // ids are never empty here
			if i > 0 {
				// Each entity depends on the next, more general one.
				_ = g.AddEdge(Edge{From: ents[i-1].ID, To: e.ID, Type: hierarchyEdge(ents[i-1].Type, e.Type)})
			}
		}
		server, client := role(l)
		ep := endpointEntity(ents)
		switch {
		case ep == "":
		case server && l[LabelServerIP] != "":
			owner[l[LabelServerIP]] = ep
		case client && l[LabelClientIP] != "":
			owner[l[LabelClientIP]] = ep
		}
	}
	for _, l := range labelSets {
		c, s := owner[l[LabelClientIP]], owner[l[LabelServerIP]]
		if c != "" && s != "" && c != s {
			_ = g.AddEdge(Edge{From: c, To: s, Type: "connect"})
		}
	}
	return g
}

func hierarchyEdge(from, to string) string {
	if to == TypeHost {
		return "runs_on"
	}
	return "belongs_to"
}
