package exporter

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/scorer/multivariate"
)

// Label of a contribution's dimension in anteater_multivariate_contribution.
const seriesLabel = "series"

// mvJob scores a job's entities with multivariate models: the series of an
// entity, sorted by their labels, are the dimensions of one row per step.
// A new entity (or one whose set of series changed, which changes the
// dimensions) warms: its rows are kept until at least min_rows are there
// at the end of a cycle, usually at once from the look-back, and the first
// fit runs in the job goroutine. Later fits run in the entity's Trainer
// goroutine every retrain_every of sample time, and scoring never waits
// for them. Models are not saved: on restart they refit from the
// look-back.
//
// All methods but close run on the job goroutine; all are nil-safe, so a
// job without a multivariate block pays nothing.
type mvJob struct {
	cfg    config.Multivariate
	tcfg   multivariate.TrainerConfig
	stepMs int64
	// entityNames are the job's entity labels, sorted.
	entityNames []string
	logger      *slog.Logger
	m           *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	byKey map[string]*mvEntity
	list  []*mvEntity // sorted by key
	// mat is the scratch row matrix of one chunk, row-major.
	mat []float64
	// touched are the entities with samples in the current chunk.
	touched []*mvEntity
}

// mvEntity is one entity's model and its latest result.
type mvEntity struct {
	key  string
	dims []*series
	idx  map[*series]int
	// ids are the dimensions' compact identities (the series label).
	ids []string
	// values are the entity's label values in entityNames order.
	values []string

	tr     *multivariate.Trainer
	cancel context.CancelFunc

	items   []work // the entity's samples in the current chunk
	contrib []float64
	score   float64
	fitted  bool
	lastTs  int64
	// hist holds the rows seen while warming, the oldest first.
	hist      [][]float64
	sinceFail int // rows since the last failed first fit; -1: none failed
	// wantHist asks the next backfill to feed the look-back.
	wantHist bool

	seenFits, seenFails uint64
}

func newMVJob(set *jobSettings, logger *slog.Logger, m *metrics) *mvJob {
	c := *set.cfg.Multivariate
	step := set.step
	ctx, cancel := context.WithCancel(context.Background())
	return &mvJob{
		cfg: c,
		tcfg: multivariate.TrainerConfig{
			Detector: c.Detector(),
			Window:   int(int64(c.TrainWindow) / int64(step)),
			MinRows:  c.MinRows,
			Every:    int(int64(c.RetrainEvery) / int64(step)),
			Logger:   logger,
		},
		stepMs:      set.stepMs,
		entityNames: set.sortedEntity,
		logger:      logger,
		m:           m,
		ctx:         ctx,
		cancel:      cancel,
		byKey:       map[string]*mvEntity{},
	}
}

// close stops every trainer and waits for their goroutines. It may be
// called more than once.
func (mv *mvJob) close() {
	if mv == nil {
		return
	}
	mv.cancel()
	mv.wg.Wait()
}

// sync regroups the series into entities after series came or went. An
// entity whose dimensions changed gets a new model (the old one cannot
// score rows of another width) and warms again.
func (mv *mvJob) sync(order []*series) {
	if mv == nil {
		return
	}
	groups := map[string][]*series{}
	for _, s := range order {
		groups[s.entity] = append(groups[s.entity], s)
	}
	for _, dims := range groups {
		slices.SortFunc(dims, func(a, b *series) int { return compareLabels(a.labels, b.labels) })
	}
	for key, e := range mv.byKey {
		if !slices.Equal(groups[key], e.dims) {
			e.cancel()
			mv.countFits(e)
			delete(mv.byKey, key)
		}
	}
	for key, dims := range groups {
		if mv.byKey[key] != nil {
			continue
		}
		if e := mv.newEntity(key, dims); e != nil {
			mv.byKey[key] = e
		}
	}
	mv.list = mv.list[:0]
	for _, e := range mv.byKey {
		mv.list = append(mv.list, e)
	}
	slices.SortFunc(mv.list, func(a, b *mvEntity) int { return strings.Compare(a.key, b.key) })
}

func (mv *mvJob) newEntity(key string, dims []*series) *mvEntity {
	tr, err := multivariate.NewTrainer(len(dims), mv.tcfg)
	if err != nil {
		// The configuration was validated when it loaded.
		mv.logger.Error("Building multivariate trainer failed", "entity", key, "err", err)
		return nil
	}
	e := &mvEntity{
		key:       key,
		dims:      dims,
		idx:       make(map[*series]int, len(dims)),
		ids:       make([]string, len(dims)),
		values:    make([]string, len(mv.entityNames)),
		tr:        tr,
		contrib:   make([]float64, len(dims)),
		sinceFail: -1,
		wantHist:  true,
	}
	for i, s := range dims {
		e.idx[s] = i
		e.ids[i] = seriesID(s, mv.entityNames)
	}
	for i, n := range mv.entityNames {
		e.values[i] = dims[0].get(n)
	}
	ctx, cancel := context.WithCancel(mv.ctx)
	e.cancel = cancel
	mv.wg.Go(func() { _ = tr.Run(ctx) })
	return e
}

// seriesID is a dimension's compact identity: its metric and its labels
// that are not entity labels, e.g. node_disk_io_time{device=sda,instance=h:9100}.
func seriesID(s *series, entityNames []string) string {
	var b strings.Builder
	b.WriteString(s.metric)
	n := 0
	for _, l := range s.labels {
		if l.name == jobLabel || l.name == metricLabel || slices.Contains(entityNames, l.name) {
			continue
		}
		if n == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteByte('=')
		b.WriteString(l.value)
		n++
	}
	if n > 0 {
		b.WriteByte('}')
	}
	return b.String()
}

// needsHistory reports whether an entity waits for the look-back.
func (mv *mvJob) needsHistory() bool {
	if mv == nil {
		return false
	}
	for _, e := range mv.list {
		if e.wantHist {
			return true
		}
	}
	return false
}

// feed aligns the chunk's samples, on the step grid of [from, to], into
// one row per entity and step (a missing value is NaN, which the models
// treat as missing) and scores the rows newer than the entity's last.
// history marks a backfill: only entities waiting for their look-back
// take it.
func (mv *mvJob) feed(items []work, from, to int64, history bool) {
	if mv == nil || to < from {
		return
	}
	mv.touched = mv.touched[:0]
	for _, it := range items {
		e := mv.byKey[it.s.entity]
		if e == nil || history && !e.wantHist {
			continue
		}
		if len(e.items) == 0 {
			mv.touched = append(mv.touched, e)
		}
		e.items = append(e.items, it)
	}
	rows := int((to-from)/mv.stepMs) + 1
	for _, e := range mv.touched {
		if to > e.lastTs {
			mv.feedEntity(e, from, rows)
		}
		clear(e.items)
		e.items = e.items[:0]
	}
}

// historyDone marks the look-back as fed (or failed: the entities then
// warm from live rows).
func (mv *mvJob) historyDone() {
	if mv == nil {
		return
	}
	for _, e := range mv.list {
		e.wantHist = false
	}
}

func (mv *mvJob) feedEntity(e *mvEntity, from int64, rows int) {
	d := len(e.dims)
	need := rows * d
	if cap(mv.mat) < need {
		mv.mat = make([]float64, need)
	}
	mat := mv.mat[:need]
	for i := range mat {
		mat[i] = nan
	}
	for _, it := range e.items {
		k, ok := e.idx[it.s]
		if !ok {
			continue
		}
		for _, sp := range it.samples {
			off := int64(sp.Timestamp) - from
			if off < 0 || off%mv.stepMs != 0 {
				continue
			}
			if r := int(off / mv.stepMs); r < rows {
				mat[r*d+k] = float64(sp.Value)
			}
		}
	}
	for r := range rows {
		ts := from + int64(r)*mv.stepMs
		if ts <= e.lastTs {
			continue
		}
		row := mat[r*d : (r+1)*d : (r+1)*d]
		if allNaN(row) {
			continue
		}
		e.lastTs = ts
		mv.observe(e, row)
	}
}

func allNaN(row []float64) bool {
	for _, v := range row {
		if !math.IsNaN(v) {
			return false
		}
	}
	return true
}

// observe scores a row, or keeps it while the entity warms. Scoring does
// not allocate.
func (mv *mvJob) observe(e *mvEntity, row []float64) {
	if e.fitted {
		e.score, _ = e.tr.Observe(row, e.contrib)
		return
	}
	if w := mv.tcfg.Window; len(e.hist) >= w {
		// Keep the newest window rows; compact now and then so that the
		// backing array stays bounded.
		e.hist = e.hist[len(e.hist)-w+1:]
		if cap(e.hist) > 4*w {
			e.hist = slices.Clone(e.hist)
		}
	}
	e.hist = append(e.hist, slices.Clone(row))
	if e.sinceFail >= 0 {
		e.sinceFail++
	}
}

// finish fits the warming entities that have min_rows rows: the first fit
// of each runs here, synchronously, so that the look-back of a new entity
// scores in the same cycle.
func (mv *mvJob) finish(ctx context.Context) {
	if mv == nil {
		return
	}
	for _, e := range mv.list {
		if e.fitted || len(e.hist) < mv.cfg.MinRows || (e.sinceFail >= 0 && e.sinceFail < mv.cfg.MinRows) {
			continue
		}
		d, err := multivariate.NewDetector(mv.tcfg.Detector)
		if err == nil {
			err = d.Fit(ctx, e.hist)
		}
		if err == nil {
			err = e.tr.Install(d)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.sinceFail = 0
			mv.m.modelRetrains.WithLabelValues("failure").Inc()
			mv.logger.Warn("Multivariate fit failed; the entity keeps warming", "entity", e.key, "rows", len(e.hist), "err", err)
			continue
		}
		mv.m.modelRetrains.WithLabelValues("success").Inc()
		e.fitted = true
		// Score the training rows: they fill the trainer's window and
		// the detector's smoothing, and the last one is the current score.
		// Fewer than retrain_every of them, or the trainer would refit on
		// the window just fitted.
		replay := e.hist
		if ev := mv.tcfg.Every; ev > 0 && len(replay) >= ev {
			replay = replay[len(replay)-ev+1:]
		}
		for _, row := range replay {
			e.score, _ = e.tr.Observe(row, e.contrib)
		}
		e.hist = nil
	}
}

// countFits counts the entity's background fits finished since the last
// count.
func (mv *mvJob) countFits(e *mvEntity) {
	f, x := e.tr.Fits(), e.tr.Failures()
	mv.m.modelRetrains.WithLabelValues("success").Add(float64(f - e.seenFits))
	mv.m.modelRetrains.WithLabelValues("failure").Add(float64(x - e.seenFails))
	e.seenFits, e.seenFails = f, x
}

// mvValue is an entity's published multivariate state.
type mvValue struct {
	values  []string // entity label values, in sortedEntity order
	score   float64
	warming bool
	top     []mvContribution
}

// mvContribution is one of the largest contributions of a row.
type mvContribution struct {
	metric, id string
	value      float64
}

// snapshot returns the entities' current state with their top_k
// contributions, and counts the background fits finished since the last.
func (mv *mvJob) snapshot() []mvValue {
	if mv == nil {
		return nil
	}
	out := make([]mvValue, len(mv.list))
	for i, e := range mv.list {
		mv.countFits(e)

		v := &out[i]
		v.values, v.warming = e.values, !e.fitted
		if !e.fitted {
			continue
		}
		v.score = e.score
		idx := make([]int, 0, len(e.dims))
		for k, c := range e.contrib {
			if !math.IsNaN(c) && !math.IsInf(c, 0) {
				idx = append(idx, k)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(e.contrib[b], e.contrib[a]) })
		idx = idx[:min(len(idx), mv.cfg.TopK)]
		v.top = make([]mvContribution, len(idx))
		for k, d := range idx {
			v.top[k] = mvContribution{metric: e.dims[d].metric, id: e.ids[d], value: e.contrib[d]}
		}
	}
	return out
}

// mvFamilies builds the multivariate families of the snapshots. Label
// pairs are built per scrape: entities and top_k are few next to series.
func mvFamilies(snaps []*jobSnapshot) []*dto.MetricFamily {
	nEnt, nTop := 0, 0
	for _, s := range snaps {
		nEnt += len(s.mv)
		for i := range s.mv {
			nTop += len(s.mv[i].top)
		}
	}
	if nEnt == 0 {
		return nil
	}
	score := newFamily("anteater_multivariate_score", "Latest calibrated score of an entity's multivariate model; 1 is the threshold.", nEnt)
	warm := newFamily("anteater_multivariate_warming", "1 while an entity's multivariate model waits for min_rows rows.", nEnt)
	contrib := newFamily("anteater_multivariate_contribution", "Share of the latest multivariate score contributed by one of an entity's top_k dimensions.", nTop)
	for _, s := range snaps {
		names := s.set.sortedEntity
		for i := range s.mv {
			v := &s.mv[i]
			base := make([]*dto.LabelPair, 0, len(names)+3)
			base = append(base, &dto.LabelPair{Name: &jobLabelName, Value: &s.set.cfg.Name})
			for k := range names {
				base = append(base, &dto.LabelPair{Name: &names[k], Value: &v.values[k]})
			}
			sortPairs(base)
			ent := base[:len(base):len(base)]
			score.add(ent, v.score)
			warm.add(ent, b2f(v.warming))
			for k := range v.top {
				c := &v.top[k]
				lp := append(ent, &dto.LabelPair{Name: &metricLabelName, Value: &c.metric}, &dto.LabelPair{Name: &seriesLabelName, Value: &c.id})
				sortPairs(lp)
				contrib.add(lp, c.value)
			}
		}
	}
	out := make([]*dto.MetricFamily, 0, 3)
	for _, f := range []*family{contrib, score, warm} {
		if len(f.mf.Metric) > 0 {
			out = append(out, f.mf)
		}
	}
	return out
}

var (
	metricLabelName = metricLabel
	seriesLabelName = seriesLabel
)

func sortPairs(lp []*dto.LabelPair) {
	slices.SortFunc(lp, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
}

// mvHistory collects, for a backfill chunk, every series of mat whose
// entity waits for its look-back.
func (mv *mvJob) history(j *job, mat model.Matrix, buf []work) []work {
	if mv == nil {
		return buf
	}
	for i := range mat {
		if s := j.lookup(mat[i].Metric); s != nil {
			if e := mv.byKey[s.entity]; e != nil && e.wantHist {
				buf = append(buf, work{s, mat[i].Values})
			}
		}
	}
	return buf
}
