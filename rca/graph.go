package rca

import (
	"fmt"
	"sort"
)

// Entity is one observed object: a host, pod, container, process, or a
// service in a benchmark.
type Entity struct {
	// ID is unique within a graph.
	ID string `yaml:"id" json:"id"`
	// Type is the kind of entity (host, pod, container, process, ...).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Labels identify the entity among metric labels: a series belongs
	// to the entity when it carries these labels with these values.
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Edge is a dependency: From depends on To (From calls To, runs on To,
// belongs to To, stores in To). Faults propagate from To to From.
type Edge struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Type is the relation (connect, runs_on, belongs_to, ...).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
}

// Graph is a dependency graph between entities. The zero value is empty
// and ready to use; a Graph is not safe for concurrent mutation.
type Graph struct {
	entities map[string]*Entity
	order    []string // insertion order, for deterministic walks
	out, in  map[string][]string
	edges    map[[2]string]string
	index    map[[2]string][]string // (label, value) → entity ids
}

// NewGraph builds a graph; edges between unknown entities add bare ones.
func NewGraph(entities []Entity, edges []Edge) (*Graph, error) {
	g := &Graph{}
	for _, e := range entities {
		if err := g.AddEntity(e); err != nil {
			return nil, err
		}
	}
	for _, e := range edges {
		if err := g.AddEdge(e); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (g *Graph) init() {
	if g.entities == nil {
		g.entities = map[string]*Entity{}
		g.out = map[string][]string{}
		g.in = map[string][]string{}
		g.edges = map[[2]string]string{}
		g.index = map[[2]string][]string{}
	}
}

// AddEntity adds an entity or merges labels into an existing one.
func (g *Graph) AddEntity(e Entity) error {
	if e.ID == "" {
		return fmt.Errorf("entity with empty id (labels %v)", e.Labels)
	}
	g.init()
	cur, ok := g.entities[e.ID]
	if !ok {
		cur = &Entity{ID: e.ID, Type: e.Type, Labels: map[string]string{}}
		g.entities[e.ID] = cur
		g.order = append(g.order, e.ID)
	}
	if cur.Type == "" {
		cur.Type = e.Type
	}
	for k, v := range e.Labels {
		if old, ok := cur.Labels[k]; ok && old == v {
			continue
		}
		cur.Labels[k] = v
		key := [2]string{k, v}
		g.index[key] = append(g.index[key], e.ID)
	}
	return nil
}

// AddEdge adds a dependency; a repeated edge is kept once.
func (g *Graph) AddEdge(e Edge) error {
	if e.From == "" || e.To == "" {
		return fmt.Errorf("edge %q → %q: empty endpoint", e.From, e.To)
	}
	if e.From == e.To {
		return nil
	}
	g.init()
	for _, id := range []string{e.From, e.To} {
		if _, ok := g.entities[id]; !ok {
			if err := g.AddEntity(Entity{ID: id}); err != nil {
				return err
			}
		}
	}
	key := [2]string{e.From, e.To}
	if _, ok := g.edges[key]; ok {
		return nil
	}
	g.edges[key] = e.Type
	g.out[e.From] = append(g.out[e.From], e.To)
	g.in[e.To] = append(g.in[e.To], e.From)
	return nil
}

// Len is the number of entities.
func (g *Graph) Len() int {
	if g == nil {
		return 0
	}
	return len(g.order)
}

// Entity returns an entity by id.
func (g *Graph) Entity(id string) (Entity, bool) {
	if g == nil || g.entities == nil {
		return Entity{}, false
	}
	e, ok := g.entities[id]
	if !ok {
		return Entity{}, false
	}
	return *e, true
}

// Entities lists the entities in insertion order.
func (g *Graph) Entities() []Entity {
	if g == nil {
		return nil
	}
	out := make([]Entity, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, *g.entities[id])
	}
	return out
}

// Edges lists the edges, sorted.
func (g *Graph) Edges() []Edge {
	if g == nil {
		return nil
	}
	out := make([]Edge, 0, len(g.edges))
	for k, t := range g.edges {
		out = append(out, Edge{From: k[0], To: k[1], Type: t})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// Neighbours returns the entities one edge away, in either direction.
func (g *Graph) Neighbours(id string) []string {
	if g == nil || g.entities == nil {
		return nil
	}
	seen := map[string]bool{id: true}
	var out []string
	for _, list := range [][]string{g.out[id], g.in[id]} {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Resolve finds the entity a series with these labels belongs to: among
// the entities none of whose labels conflict with the series' and that
// share at least one, the one sharing the most (the most specific), then
// the one with the fewest labels the series lacks.
func (g *Graph) Resolve(labels map[string]string) (string, bool) {
	if g == nil || g.entities == nil {
		return "", false
	}
	best, bestMissing, bestShared := "", 0, 0
	seen := map[string]bool{}
	for k, v := range labels {
		for _, id := range g.index[[2]string{k, v}] {
			if seen[id] {
				continue
			}
			seen[id] = true
			shared, missing, conflict := 0, 0, false
			for ek, ev := range g.entities[id].Labels {
				sv, ok := labels[ek]
				switch {
				case !ok:
					missing++
				case sv != ev:
					conflict = true
				default:
					shared++
				}
			}
			if conflict || shared == 0 {
				continue
			}
			better := best == "" || shared > bestShared ||
				(shared == bestShared && missing < bestMissing) ||
				(shared == bestShared && missing == bestMissing && id < best)
			if better {
				best, bestMissing, bestShared = id, missing, shared
			}
		}
	}
	return best, best != ""
}

// PropagationPath is the shortest chain of entities along which a fault
// in from reaches to: against the dependency edges (from a dependency to
// its dependents) when such a chain exists, else over edges in either
// direction. It is nil when to cannot be reached.
func (g *Graph) PropagationPath(from, to string) []string {
	if g == nil || g.entities == nil {
		return nil
	}
	if _, ok := g.entities[from]; !ok {
		return nil
	}
	if _, ok := g.entities[to]; !ok {
		return nil
	}
	if p := g.bfs(from, to, false); p != nil {
		return p
	}
	return g.bfs(from, to, true)
}

func (g *Graph) bfs(from, to string, undirected bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for n := to; n != ""; n = prev[n] {
				path = append(path, n)
			}
			for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
				path[i], path[j] = path[j], path[i]
			}
			return path
		}
		next := g.in[cur] // dependents of cur
		if undirected {
			next = append(append([]string(nil), next...), g.out[cur]...)
		}
		for _, n := range next {
			if _, ok := prev[n]; !ok {
				prev[n] = cur
				queue = append(queue, n)
			}
		}
	}
	return nil
}
