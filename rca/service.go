package rca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/anteater-dev/anteater/internal/event"
)

// PrometheusAPI is the part of client_golang's v1.API the service uses, so
// tests can put an httptest Prometheus behind v1.NewAPI or a fake here.
// When the value also has v1.API's Metadata method, metric help texts fill
// the events' desc fields.
type PrometheusAPI interface {
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

type metadataAPI interface {
	Metadata(ctx context.Context, metric, limit string) (map[string][]v1.Metadata, error)
}

// EntityState tells whether the entity identified by these labels is
// abnormal now (e.g. from anteater_entity_anomaly_score); known=false when
// it cannot tell, and the engine judges from the entity's series.
type EntityState func(ctx context.Context, labels map[string]string) (abnormal, known bool)

// Service answers the webhook worker's incidents with cause events: it
// reads the candidate series of the anomalous entity and its neighbours
// from Prometheus, ranks them with the engine, and builds gala-anteater's
// cause event. It satisfies webhook.CauseInferer.
type Service struct {
	api    PrometheusAPI
	cfg    Config
	engine *Engine
	logger *slog.Logger
	state  EntityState
	topo   TopologySource
	now    func() time.Time
	bases  [][]*labels.Matcher

	mu    sync.Mutex
	descs map[string]string
}

// ServiceOption adjusts a Service.
type ServiceOption func(*Service)

// WithTopologySource sets where the entity graph comes from; it is needed
// when the config's topology is arangodb (see NewArangoTopology).
func WithTopologySource(src TopologySource) ServiceOption {
	return func(s *Service) { s.topo = src }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) ServiceOption {
	return func(s *Service) { s.now = now }
}

// NewService builds the service. state may be nil.
func NewService(api PrometheusAPI, cfg Config, logger *slog.Logger, state EntityState, opts ...ServiceOption) (*Service, error) {
	if api == nil {
		return nil, errors.New("rca: no Prometheus API")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	eo, err := cfg.EngineOptions()
	if err != nil {
		return nil, err
	}
	engine, err := NewEngine(eo)
	if err != nil {
		return nil, err
	}
	s := &Service{api: api, cfg: cfg, engine: engine, logger: logger, state: state, now: time.Now, descs: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	switch cfg.Topology {
	case TopologyFile:
		if s.topo == nil {
			g, err := LoadGraphFile(cfg.TopologyFile)
			if err != nil {
				return nil, fmt.Errorf("rca: %w", err)
			}
			s.topo = NewStaticTopology(g)
		}
	case TopologyArangoDB:
		if s.topo == nil {
			return nil, errors.New("rca: topology arangodb needs a topology source (NewArangoTopology from the arangodb section)")
		}
	case TopologyLabels, TopologyNone:
		s.topo = nil
	}
	for _, j := range cfg.CandidateJobs {
		s.bases = append(s.bases, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.JobLabel, j)})
	}
	for _, sel := range cfg.CandidateSelectors {
		ms, err := parseSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("rca: candidate selector %q: %w", sel, err)
		}
		s.bases = append(s.bases, ms)
	}
	if len(s.bases) == 0 {
		s.bases = [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")}}
	}
	return s, nil
}

// Infer finds the root causes of an incident. It returns an error
// wrapping ErrNoCandidates when no candidate series were found.
func (s *Service) Infer(ctx context.Context, inc event.Incident) (*event.Cause, error) {
	if inc.Metric == "" {
		return nil, errors.New("rca: incident without metric")
	}
	if inc.Time.IsZero() {
		return nil, errors.New("rca: incident without time")
	}
	start := inc.Time.Add(-s.cfg.WindowBefore)
	end := inc.Time.Add(s.cfg.WindowAfter)
	if now := s.now(); now.Before(end) {
		end = now
	}
	if !end.After(inc.Time) {
		end = inc.Time.Add(s.cfg.Step)
	}
	r := v1.Range{Start: start, End: end, Step: s.cfg.Step}
	log := s.logger.With("metric", inc.Metric, "time", inc.Time)

	f := &fetch{svc: s, r: r, seen: map[string]bool{}}
	kpi, err := s.kpi(ctx, r, inc.Metric, inc.Labels)
	if err != nil {
		log.Warn("KPI series not read; ranking without it", "err", err)
	}

	entity := inc.EntityLabels
	if len(entity) == 0 {
		entity = inc.Labels
	}
	var g *Graph
	if s.topo != nil {
		if g, err = s.topo.Graph(ctx, inc.Time); err != nil {
			log.Warn("topology not read; ranking by series", "err", err)
			g = nil
		}
	}
	// The anomalous entity first, so the bound cuts neighbours, not it.
	if err := f.entity(ctx, entity); err != nil {
		return nil, err
	}
	neighbours := s.neighbours(ctx, f, g, inc, entity)
	for _, n := range neighbours {
		if f.full() {
			break
		}
		if err := f.entity(ctx, n); err != nil {
			return nil, err
		}
	}
	if len(f.series) == 0 {
		return nil, fmt.Errorf("rca: %w for %s%v", ErrNoCandidates, inc.Metric, inc.Labels)
	}
	if s.cfg.Topology == TopologyLabels {
		sets := make([]map[string]string, 0, len(f.series)+1)
		for i := range f.series {
			sets = append(sets, f.series[i].Labels)
		}
		sets = append(sets, inc.Labels)
		g = GraphFromLabels(sets)
	}
	p := Problem{Time: inc.Time, Candidates: f.series, Graph: g}
	if kpi != nil {
		p.KPI = kpi
	} else {
		// Without its samples the KPI still names its entity for paths.
		p.KPI = &Series{Metric: inc.Metric, Labels: inc.Labels}
	}
	if s.state != nil {
		p.State = func(id string) (bool, bool) {
			l := entityLabels(g, id, f.series)
			if len(l) == 0 {
				return false, false
			}
			return s.state(ctx, l)
		}
	}
	res, err := s.engine.Rank(ctx, p)
	if err != nil {
		return nil, err
	}
	log.Debug("ranked causes", "candidates", len(f.series), "entities", len(res.Entities), "top", topMetric(res))
	return s.causeEvent(ctx, inc, p, res), nil
}

func topMetric(res *Result) string {
	if len(res.Causes) == 0 {
		return ""
	}
	return res.Causes[0].Metric
}

// kpi reads the abnormal KPI's series.
func (s *Service) kpi(ctx context.Context, r v1.Range, metric string, l map[string]string) (*Series, error) {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric)}
	for _, k := range slices.Sorted(maps.Keys(l)) {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, k, l[k]))
	}
	series, err := s.queryRange(ctx, selector(ms), r, 1)
	if err != nil {
		return nil, err
	}
	if len(series) == 0 {
		return nil, errors.New("no samples")
	}
	return &series[0], nil
}

// neighbours lists the identity labels of the entities next to the
// anomalous one: graph neighbours, or for label topology, the peers of
// its connections.
func (s *Service) neighbours(ctx context.Context, f *fetch, g *Graph, inc event.Incident, entity map[string]string) []map[string]string {
	var out []map[string]string
	if g != nil {
		id, ok := g.Resolve(inc.Labels)
		if !ok {
			id, ok = g.Resolve(entity)
		}
		if ok {
			for _, n := range g.Neighbours(id) {
				if e, _ := g.Entity(n); len(e.Labels) > 0 {
					out = append(out, e.Labels)
				}
			}
		}
	} else if s.cfg.Topology == TopologyLabels {
		out = s.peers(ctx, f, entity)
	}
	if len(out) > s.cfg.MaxNeighbours {
		out = out[:s.cfg.MaxNeighbours]
	}
	return out
}

// peers finds the entities at the other end of the anomalous entity's
// connections: for each peer address, a series measured there names the
// peer's entity labels (the same keys as the anomalous entity's).
func (s *Service) peers(ctx context.Context, f *fetch, entity map[string]string) []map[string]string {
	own := map[string]bool{}
	var addrs []string
	for i := range f.series {
		l := f.series[i].Labels
		server, client := role(l)
		if server {
			own[l[LabelServerIP]] = true
		}
		if client {
			own[l[LabelClientIP]] = true
		}
	}
	seenAddr := map[string]bool{}
	for i := range f.series {
		l := f.series[i].Labels
		for _, k := range []string{LabelClientIP, LabelServerIP} {
			if a := l[k]; a != "" && !own[a] && !seenAddr[a] {
				seenAddr[a] = true
				addrs = append(addrs, a)
			}
		}
	}
	keys := slices.Sorted(maps.Keys(entity))
	seen := map[string]bool{}
	var out []map[string]string
	for _, a := range addrs {
		if len(out) >= s.cfg.MaxNeighbours {
			break
		}
		for _, k := range []string{LabelServerIP, LabelClientIP} {
			for _, base := range s.bases {
				ms := append(slices.Clone(base), labels.MustNewMatcher(labels.MatchEqual, k, a))
				series, err := s.queryRange(ctx, selector(ms), f.r, 50)
				if err != nil {
					s.logger.Debug("peer lookup failed", "addr", a, "err", err)
					continue
				}
				for _, sr := range series {
					server, client := role(sr.Labels)
					if (k == LabelServerIP && !server) || (k == LabelClientIP && !client) {
						continue // measured at our end
					}
					peer := map[string]string{}
					for _, key := range keys {
						if v := sr.Labels[key]; v != "" {
							peer[key] = v
						}
					}
					id := seriesID("", peer)
					if len(peer) == 0 || maps.Equal(peer, entity) || seen[id] {
						continue
					}
					seen[id] = true
					out = append(out, peer)
				}
			}
		}
	}
	return out
}

// fetch gathers candidate series within the bound.
type fetch struct {
	svc    *Service
	r      v1.Range
	series []Series
	seen   map[string]bool
}

func (f *fetch) full() bool { return len(f.series) >= f.svc.cfg.MaxCandidates }

// entity reads the candidate series of one entity from every base
// selector.
func (f *fetch) entity(ctx context.Context, ent map[string]string) error {
	if len(ent) == 0 {
		return nil
	}
	for _, base := range f.svc.bases {
		if f.full() {
			return nil
		}
		ms := slices.Clone(base)
		for _, k := range slices.Sorted(maps.Keys(ent)) {
			ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, k, ent[k]))
		}
		series, err := f.svc.queryRange(ctx, selector(ms), f.r, f.svc.cfg.MaxCandidates-len(f.series))
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			f.svc.logger.Warn("candidate query failed", "entity", ent, "err", err)
			continue
		}
		for _, sr := range series {
			id := sr.ID()
			if f.seen[id] || f.full() {
				continue
			}
			f.seen[id] = true
			f.series = append(f.series, sr)
		}
	}
	return nil
}

// selector renders matchers as a PromQL series selector.
func selector(ms []*labels.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// queryRange runs one range query and converts the matrix.
func (s *Service) queryRange(ctx context.Context, q string, r v1.Range, limit int) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var opts []v1.Option
	if limit > 0 {
		opts = append(opts, v1.WithLimit(uint64(limit)))
	}
	val, warnings, _, err := s.api.QueryRange(ctx, q, r, opts...)
	if err != nil {
		return nil, fmt.Errorf("query_range %s: %w", q, err)
	}
	if len(warnings) > 0 {
		s.logger.Debug("query_range warnings", "query", q, "warnings", warnings)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query_range %s: got %s, want matrix", q, val.Type())
	}
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		if len(ss.Values) == 0 {
			continue
		}
		l := make(map[string]string, len(ss.Metric))
		for k, v := range ss.Metric {
			if k != model.MetricNameLabel {
				l[string(k)] = string(v)
			}
		}
		sr := Series{Metric: string(ss.Metric[model.MetricNameLabel]), Labels: l,
			Times: make([]int64, len(ss.Values)), Values: make([]float64, len(ss.Values))}
		for i, p := range ss.Values {
			sr.Times[i] = int64(p.Timestamp)
			sr.Values[i] = float64(p.Value)
		}
		out = append(out, sr)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// entityLabels are an entity's identity labels: from the graph, or from
// its series when the entity is a bare series.
func entityLabels(g *Graph, id string, series []Series) map[string]string {
	if e, ok := g.Entity(id); ok && len(e.Labels) > 0 {
		return e.Labels
	}
	for i := range series {
		if series[i].Entity == id || series[i].ID() == id {
			return series[i].Labels
		}
	}
	return nil
}

// Event fields gala-anteater uses.
const (
	causeSeverityText   = "WARN"
	causeSeverityNumber = 13
	causeBody           = "A cause inferring event for an abnormal event"
	// causeSuffix follows each top-N metric id: "<metric_id>异常"
	// ("<metric_id> abnormal").
	causeSuffix = "异常"
)

// Labels copied onto path nodes next to the entity's identity, as in
// gala-anteater's events.
var pathExtraLabels = []string{"instance", "job"}

func (s *Service) causeEvent(ctx context.Context, inc event.Incident, p Problem, res *Result) *event.Cause {
	now := s.now()
	eventID := ""
	entityID := ""
	if inc.Anomaly != nil {
		eventID = inc.Anomaly.Attributes.EventID
		entityID = inc.Anomaly.Attributes.EntityID
	}
	if eventID == "" {
		eventID = strconv.FormatInt(inc.Time.UnixMilli(), 10) + "_" + res.KPIEntity
	}
	kpiLabels := inc.Labels
	if kpiLabels == nil {
		kpiLabels = map[string]string{}
	}
	desc := s.describe(ctx, inc.Metric)
	ev := &event.Cause{
		Timestamp:  now.UnixMilli(),
		EventID:    eventID,
		Attributes: event.CauseAttributes{EventID: eventID, EventSource: event.SourceRootCause},
		Resource: event.CauseResource{
			AbnormalKPI: event.KPI{
				MetricID:     inc.Metric,
				EntityID:     entityID,
				MetricLabels: kpiLabels,
				Desc:         desc,
				Score:        inc.Score,
			},
			CauseMetrics: []event.CauseMetric{},
		},
		Desc:           desc,
		Keywords:       []*string{},
		SeverityText:   causeSeverityText,
		SeverityNumber: causeSeverityNumber,
		Body:           causeBody,
	}
	seenKeyword := map[string]bool{}
	for i, c := range res.Causes {
		id := metricID(c)
		var kw *string
		if c.Keyword != "" {
			k := c.Keyword
			kw = &k
		}
		if !seenKeyword[c.Keyword] {
			seenKeyword[c.Keyword] = true
			ev.Keywords = append(ev.Keywords, kw)
		}
		cm := event.CauseMetric{
			MetricID:     id,
			EntityID:     c.Entity,
			MetricLabels: c.Labels,
			Desc:         s.describe(ctx, c.Metric),
			Keyword:      kw,
			Score:        c.Score,
			Path:         make([]event.PathNode, 0, len(c.Path)),
		}
		if cm.MetricLabels == nil {
			cm.MetricLabels = map[string]string{}
		}
		for _, n := range c.Path {
			node := event.PathNode{}
			maps.Copy(node, n.Labels)
			if rep := representative(p, n.Entity, c); rep != nil {
				for _, k := range pathExtraLabels {
					if v, ok := rep[k]; ok {
						node[k] = v
					}
				}
			}
			node["pod_state"] = "normal"
			if n.Abnormal {
				node["pod_state"] = "abnormal"
			}
			cm.Path = append(cm.Path, node)
		}
		ev.Resource.CauseMetrics = append(ev.Resource.CauseMetrics, cm)
		switch i {
		case 0:
			ev.Top1 = id + causeSuffix
		case 1:
			ev.Top2 = id + causeSuffix
		case 2:
			ev.Top3 = id + causeSuffix
		}
	}
	return ev
}

// metricID names a cause as gala-anteater does: metric@pod_id, else
// metric@entity for entities of a topology, else the metric alone.
func metricID(c Cause) string {
	if p := c.Labels[LabelPodID]; p != "" {
		return c.Metric + "@" + p
	}
	if c.Entity != "" && c.Entity != seriesID(c.Metric, c.Labels) {
		return c.Metric + "@" + c.Entity
	}
	return c.Metric
}

// representative are the labels of one series of an entity: the cause's
// own for its entity, the KPI's for the KPI's, else any candidate's.
func representative(p Problem, entity string, c Cause) map[string]string {
	if entity == c.Entity {
		return c.Labels
	}
	if p.KPI != nil && entityOf(p.Graph, p.KPI) == entity {
		return p.KPI.Labels
	}
	for i := range p.Candidates {
		if entityOf(p.Graph, &p.Candidates[i]) == entity {
			return p.Candidates[i].Labels
		}
	}
	return nil
}

// describe returns a metric's help text when the API serves metadata.
func (s *Service) describe(ctx context.Context, metric string) string {
	md, ok := s.api.(metadataAPI)
	if !ok || metric == "" {
		return ""
	}
	s.mu.Lock()
	d, cached := s.descs[metric]
	s.mu.Unlock()
	if cached {
		return d
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	m, err := md.Metadata(qctx, metric, "1")
	if err != nil {
		s.logger.Debug("metadata not read", "metric", metric, "err", err)
		return ""
	}
	for _, e := range m[metric] {
		if e.Help != "" {
			d = e.Help
			break
		}
	}
	s.mu.Lock()
	if len(s.descs) > 10000 {
		clear(s.descs)
	}
	s.descs[metric] = d
	s.mu.Unlock()
	return d
}
