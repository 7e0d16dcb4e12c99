package rca

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"time"
)

// Method names, for Options.Methods and the rca config's methods.
const (
	// MethodRobust is BARO's robust change score (median and IQR).
	MethodRobust = "robust"
	// MethodNSigma is the n-sigma change score (mean and deviation).
	MethodNSigma = "nsigma"
	// MethodCorrelation is Luo et al.'s event–curve correlation.
	MethodCorrelation = "correlation"
	// MethodPageRank is the personalized PageRank over the entity graph.
	MethodPageRank = "pagerank"
)

// Methods lists the known methods.
var Methods = []string{MethodRobust, MethodNSigma, MethodCorrelation, MethodPageRank}

// DefaultMethods are combined when none are configured.
var DefaultMethods = []string{MethodRobust, MethodCorrelation, MethodPageRank}

// ErrNoCandidates is returned when a problem has no series to rank.
var ErrNoCandidates = errors.New("rca: no candidate series")

// Options configure an Engine. The zero value uses the defaults.
type Options struct {
	// Methods to combine (default DefaultMethods). Each method's scores
	// are scaled to [0, 1] by its largest score, then averaged.
	Methods []string
	// Direction of the changes counted by the change scores (default
	// Both).
	Direction Direction
	// Before and After bound the windows around the anomaly time;
	// zero takes every sample on that side.
	Before, After time.Duration
	// MaxCauses bounds the ranked causes returned (default 10).
	MaxCauses int
	// AbnormalScore is the robust change score from which an entity
	// counts as abnormal on a path when no state function is given
	// (default 3 inter-quartile ranges).
	AbnormalScore float64
	// Correlation tunes the event–curve correlation.
	Correlation CorrelationOptions
	// Walk tunes the graph ranking.
	Walk WalkOptions
	// Keywords classify cause metrics (default DefaultKeywordRules).
	Keywords []KeywordRule
}

// Engine ranks root causes. It is safe for concurrent use.
type Engine struct {
	opts       Options
	classifier *Classifier
}

// NewEngine checks options and builds an engine.
func NewEngine(opts Options) (*Engine, error) {
	if len(opts.Methods) == 0 {
		opts.Methods = DefaultMethods
	}
	seen := map[string]bool{}
	for _, m := range opts.Methods {
		if !slices.Contains(Methods, m) {
			return nil, fmt.Errorf("rca: unknown method %q (known: %v)", m, Methods)
		}
		if seen[m] {
			return nil, fmt.Errorf("rca: method %q listed twice", m)
		}
		seen[m] = true
	}
	if opts.Before < 0 || opts.After < 0 {
		return nil, fmt.Errorf("rca: negative window (before %s, after %s)", opts.Before, opts.After)
	}
	if opts.MaxCauses <= 0 {
		opts.MaxCauses = 10
	}
	if opts.AbnormalScore <= 0 {
		opts.AbnormalScore = 3
	}
	c, err := NewClassifier(opts.Keywords)
	if err != nil {
		return nil, fmt.Errorf("rca: %w", err)
	}
	opts.Correlation.defaults()
	opts.Walk.defaults()
	return &Engine{opts: opts, classifier: c}, nil
}

// Problem is one incident to explain.
type Problem struct {
	// KPI is the abnormal series (optional: without it, causes are
	// ranked by their own change and the event time alone).
	KPI *Series
	// Time is when the anomaly started.
	Time time.Time
	// Candidates are the series that may explain it. A candidate equal
	// to the KPI (same metric and labels) is skipped.
	Candidates []Series
	// Graph is the dependency graph between entities (optional).
	Graph *Graph
	// State tells whether an entity is abnormal now, for the path
	// (optional; known=false falls back on the entity's change score).
	State func(entity string) (abnormal, known bool)
}

// PathNode is one entity on a propagation path.
type PathNode struct {
	Entity   string
	Labels   map[string]string
	Abnormal bool
}

// Cause is one ranked candidate.
type Cause struct {
	// Index of the series in Problem.Candidates.
	Index  int
	Metric string
	Labels map[string]string
	Entity string
	// Score is the combined score in [0, 1].
	Score float64
	// Methods holds each method's score scaled to [0, 1].
	Methods map[string]float64
	// Change is the robust change score (in IQRs of the window before).
	Change float64
	// Relation to the anomaly, when the correlation method ran.
	Relation Relation
	// Keyword classifies the metric ("" when none applies).
	Keyword string
	// Path is the propagation path from the cause's entity to the KPI's
	// (just the cause's entity when no chain is known).
	Path []PathNode
}

// EntityScore is an entity's score: the best score of its series.
type EntityScore struct {
	Entity string
	Score  float64
}

// Result is the ranking of one problem.
type Result struct {
	// Causes, best first, at most Options.MaxCauses.
	Causes []Cause
	// Entities, best first: every entity with a candidate series.
	Entities []EntityScore
	// KPIEntity is the entity of the KPI ("" when unknown).
	KPIEntity string
}

// candidate is a series prepared for scoring: its windows around the
// anomaly and its robust statistics.
type candidate struct {
	idx           int
	series        *Series
	entity        string
	times         []int64   // windowed
	values        []float64 // windowed
	split         int       // index in values of the first sample after
	median, scale float64
	change        float64
}

func (c *candidate) before() []float64 { return c.values[:c.split] }
func (c *candidate) after() []float64  { return c.values[c.split:] }

// Rank scores every candidate and returns the ranked causes.
func (e *Engine) Rank(ctx context.Context, p Problem) (*Result, error) {
	if p.Time.IsZero() {
		return nil, errors.New("rca: problem without anomaly time")
	}
	if p.KPI != nil {
		if err := p.KPI.validate(); err != nil {
			return nil, fmt.Errorf("rca: kpi: %w", err)
		}
	}
	t := p.Time.UnixMilli()
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if e.opts.Before > 0 {
		lo = t - e.opts.Before.Milliseconds()
	}
	if e.opts.After > 0 {
		hi = t + e.opts.After.Milliseconds()
	}
	kpiID := ""
	res := &Result{}
	if p.KPI != nil {
		kpiID = p.KPI.ID()
		res.KPIEntity = entityOf(p.Graph, p.KPI)
	}
	cands := make([]candidate, 0, len(p.Candidates))
	longest := 0
	for i := range p.Candidates {
		s := &p.Candidates[i]
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("rca: candidate %d: %w", i, err)
		}
		if kpiID != "" && s.ID() == kpiID {
			continue
		}
		a, b := split(s.Times, lo), len(s.Times)
		if hi < math.MaxInt64 {
			b = split(s.Times, hi+1)
		}
		c := candidate{idx: i, series: s, entity: entityOf(p.Graph, s), times: s.Times[a:b], values: s.Values[a:b]}
		c.split = split(c.times, t)
		longest = max(longest, len(c.values))
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, ErrNoCandidates
	}
	// Robust statistics feed the change scores, the graph walk and the
	// entity states, so they are computed once.
	scratch := make([]float64, 0, longest)
	for i := range cands {
		c := &cands[i]
		c.median, c.scale = robustCentre(c.before(), c.after(), scratch)
		if !math.IsNaN(c.median) && len(c.after()) > 0 {
			c.change = maxDeviation(c.after(), c.median, c.scale, e.opts.Direction)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	scores := make(map[string][]float64, len(e.opts.Methods))
	relations := make([]Relation, len(cands))
	for _, m := range e.opts.Methods {
		raw := make([]float64, len(cands))
		switch m {
		case MethodRobust:
			for i := range cands {
				raw[i] = cands[i].change
			}
		case MethodNSigma:
			for i := range cands {
				raw[i] = nSigmaScore(cands[i].before(), cands[i].after(), e.opts.Direction)
			}
		case MethodCorrelation:
			corr := newCorrelator(e.opts.Correlation)
			for i := range cands {
				if i%64 == 0 {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
				}
				c := &cands[i]
				ec := corr.correlate(c.values, c.split, c.scale, hashKey(c.series))
				relations[i] = ec.Relation
				raw[i] = ec.Score(e.opts.Correlation.FollowWeight)
			}
		case MethodPageRank:
			raw = e.pageRank(p, res.KPIEntity, cands)
		}
		normalise(raw)
		scores[m] = raw
	}
	combined := make([]float64, len(cands))
	for _, m := range e.opts.Methods {
		for i, v := range scores[m] {
			combined[i] += v / float64(len(e.opts.Methods))
		}
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if combined[x] != combined[y] {
			return combined[x] > combined[y]
		}
		return cands[x].change > cands[y].change
	})
	res.Entities = entityScores(cands, combined, order)
	states := e.entityStates(p, cands)
	for _, i := range order[:min(len(order), e.opts.MaxCauses)] {
		c := &cands[i]
		methods := make(map[string]float64, len(scores))
		for m, s := range scores {
			methods[m] = s[i]
		}
		res.Causes = append(res.Causes, Cause{
			Index:    c.idx,
			Metric:   c.series.Metric,
			Labels:   c.series.Labels,
			Entity:   c.entity,
			Score:    combined[i],
			Methods:  methods,
			Change:   c.change,
			Relation: relations[i],
			Keyword:  e.classifier.Classify(c.series.Metric),
			Path:     path(p.Graph, c, res.KPIEntity, states),
		})
	}
	return res, nil
}

// Classify returns the keyword of a metric name with the engine's rules.
func (e *Engine) Classify(metric string) string { return e.classifier.Classify(metric) }

// entityOf is the series' entity: given, resolved in the graph, or the
// series itself.
func entityOf(g *Graph, s *Series) string {
	if s.Entity != "" {
		return s.Entity
	}
	if id, ok := g.Resolve(s.Labels); ok {
		return id
	}
	return s.ID()
}

func hashKey(s *Series) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.ID()))
	return h.Sum64()
}

// normalise scales non-negative scores to [0, 1] by their maximum.
func normalise(x []float64) {
	top := 0.0
	for i, v := range x {
		if math.IsNaN(v) || v < 0 {
			x[i] = 0
			continue
		}
		if math.IsInf(v, 1) {
			x[i] = math.MaxFloat64
		}
		top = math.Max(top, x[i])
	}
	if top <= 0 {
		return
	}
	for i := range x {
		x[i] /= top
	}
}

func entityScores(cands []candidate, combined []float64, order []int) []EntityScore {
	var out []EntityScore
	seen := map[string]bool{}
	for _, i := range order {
		id := cands[i].entity
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, EntityScore{Entity: id, Score: combined[i]})
	}
	return out
}

// entityStates marks entities abnormal by the state function or, failing
// it, by their largest change score.
func (e *Engine) entityStates(p Problem, cands []candidate) func(string) bool {
	change := map[string]float64{}
	for i := range cands {
		c := &cands[i]
		change[c.entity] = math.Max(change[c.entity], c.change)
	}
	return func(id string) bool {
		if p.State != nil {
			if abnormal, known := p.State(id); known {
				return abnormal
			}
		}
		return change[id] >= e.opts.AbnormalScore
	}
}

func path(g *Graph, c *candidate, kpiEntity string, abnormal func(string) bool) []PathNode {
	ids := []string{c.entity}
	if kpiEntity != "" && kpiEntity != c.entity {
		if p := g.PropagationPath(c.entity, kpiEntity); p != nil {
			ids = p
		}
	}
	out := make([]PathNode, 0, len(ids))
	for _, id := range ids {
		n := PathNode{Entity: id, Abnormal: abnormal(id)}
		if ent, ok := g.Entity(id); ok {
			n.Labels = ent.Labels
		} else if id == c.entity {
			n.Labels = c.series.Labels
		}
		out = append(out, n)
	}
	return out
}

// pageRank scores series by the walk's rank of their entity, and within
// an entity by their own change.
func (e *Engine) pageRank(p Problem, kpiEntity string, cands []candidate) []float64 {
	pos := map[string]int{}
	var ids []string
	add := func(id string) int {
		if i, ok := pos[id]; ok {
			return i
		}
		pos[id] = len(ids)
		ids = append(ids, id)
		return len(ids) - 1
	}
	if p.Graph != nil {
		for _, id := range p.Graph.order {
			add(id)
		}
	}
	anomaly := make([]float64, 0, len(cands))
	corr := make([]float64, 0, len(cands))
	entityMax := map[string]float64{}
	for i := range cands {
		c := &cands[i]
		j := add(c.entity)
		for len(anomaly) <= j {
			anomaly = append(anomaly, 0)
			corr = append(corr, 0)
		}
		anomaly[j] = math.Max(anomaly[j], c.change)
		entityMax[c.entity] = math.Max(entityMax[c.entity], c.change)
		if p.KPI != nil {
			r := math.Abs(pearson(p.KPI.Times, p.KPI.Values, c.times, c.values))
			corr[j] = math.Max(corr[j], r)
		}
	}
	for len(anomaly) < len(ids) {
		anomaly = append(anomaly, 0)
		corr = append(corr, 0)
	}
	normalise(anomaly)
	rank := walk(p.Graph, ids, anomaly, corr, p.KPI != nil, e.opts.Walk)
	out := make([]float64, len(cands))
	for i := range cands {
		c := &cands[i]
		within := 1.0
		if m := entityMax[c.entity]; m > 0 {
			within = c.change / m
		}
		out[i] = rank[pos[c.entity]] * (0.5 + 0.5*within)
	}
	return out
}
