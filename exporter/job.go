package exporter

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/scorer"
)

// minSeriesPerWorker keeps tiny cycles on one goroutine.
const minSeriesPerWorker = 256

// jobSettings is everything a job's behaviour depends on; a reload restarts
// a job only when its settings changed.
type jobSettings struct {
	cfg                                   config.Job
	interval, step, saveEvery             time.Duration
	stepMs, windowMs, lookbackMs, graceMs int64
	specHash                              uint64
	// sortedEntity are the entity label names sorted, for exposition.
	sortedEntity []string
}

func newJobSettings(c *config.Config, jc config.Job) jobSettings {
	s := jobSettings{
		cfg:          jc,
		interval:     time.Duration(c.Interval),
		step:         time.Duration(c.Step),
		saveEvery:    time.Duration(c.StateSaveInterval),
		stepMs:       time.Duration(c.Step).Milliseconds(),
		windowMs:     time.Duration(jc.Window).Milliseconds(),
		lookbackMs:   time.Duration(c.Lookback).Milliseconds(),
		graceMs:      time.Duration(c.SeriesGrace).Milliseconds(),
		specHash:     jc.SpecHash(),
		sortedEntity: slices.Sorted(slices.Values(jc.EntityLabels)),
	}
	return s
}

// shard selects the series one replica scores.
type shard struct{ total, index uint64 }

func (s shard) owns(m model.Metric) bool {
	return s.total <= 1 || uint64(model.LabelSet(m).Fingerprint())%s.total == s.index
}

type ignoreReason uint8

const (
	ignoredShard ignoreReason = iota
	ignoredLimit
)

type ignored struct {
	seen   int64
	reason ignoreReason
}

// work is one series' samples to score in a cycle.
type work struct {
	s       *series
	samples []model.SamplePair
}

// job runs one configured job: it owns its series, scores them every
// interval and publishes an immutable snapshot after each cycle.
type job struct {
	set      jobSettings
	name     string
	logger   *slog.Logger
	src      *source
	st       *store
	m        *metrics
	shard    shard
	newModel func(scorer.Spec) (scorer.Model, error)
	now      func() time.Time

	// Owned by the run goroutine.
	byFP          map[model.Fingerprint]*series
	collide       map[string]*series
	ignored       map[model.Fingerprint]ignored
	order         []*series
	orderDirty    bool
	lastEnd       int64
	items, bf     []work
	created       []*series
	names         interner // label and metric names of the series
	droppedLogged bool
	lastSave      time.Time
	// mv scores the entities with multivariate models (nil without a
	// multivariate block); mvbf is its backfill scratch.
	mv   *mvJob
	mvbf []work

	snap  atomic.Pointer[jobSnapshot]
	ready atomic.Bool

	cancel context.CancelFunc
	done   chan struct{}
}

func newJob(set jobSettings, e *Exporter, src *source) *job {
	j := &job{
		set:      set,
		name:     set.cfg.Name,
		logger:   e.logger.With("anteater_job", set.cfg.Name),
		src:      src,
		st:       e.st,
		m:        e.m,
		shard:    e.shard,
		newModel: e.newModel,
		now:      time.Now,
		byFP:     map[model.Fingerprint]*series{},
		collide:  map[string]*series{},
		ignored:  map[model.Fingerprint]ignored{},
	}
	if set.cfg.Multivariate != nil {
		j.mv = newMVJob(&j.set, j.logger, e.m)
	}
	e.m.initJob(j.name)
	j.snap.Store(&jobSnapshot{set: &j.set})
	return j
}

func (j *job) start(ctx context.Context) {
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	go j.run(ctx)
}

// stop ends the job and waits until its state is saved.
func (j *job) stop() {
	if j.cancel == nil {
		j.mv.close()
		return
	}
	j.cancel()
	<-j.done
}

func (j *job) run(ctx context.Context) {
	defer close(j.done)
	defer j.mv.close()
	if j.st != nil {
		if h, end, ok := j.st.jobMeta(j.name); ok && h == j.set.specHash {
			j.lastEnd = end
		}
	}
	j.lastSave = time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			j.save()
			return
		case <-timer.C:
		}
		t0 := time.Now()
		err := j.cycle(ctx)
		if ctx.Err() != nil {
			j.save()
			return
		}
		j.m.cycleDuration.WithLabelValues(j.name).Observe(time.Since(t0).Seconds())
		if err != nil {
			j.m.cycles.WithLabelValues(j.name, "failure").Inc()
			j.logger.Warn("Cycle failed", "err", err)
		} else {
			j.m.cycles.WithLabelValues(j.name, "success").Inc()
			j.m.lastCycleOK.WithLabelValues(j.name).SetToCurrentTime()
			j.ready.Store(true)
			j.logger.Debug("Cycle done", "series", len(j.order), "duration", time.Since(t0))
		}
		if time.Since(j.lastSave) >= j.set.saveEvery {
			j.save()
		}
		timer.Reset(max(j.set.interval-time.Since(t0), 0))
	}
}

func (j *job) save() {
	if j.st == nil {
		return
	}
	j.lastSave = time.Now()
	if err := j.st.save(j.name, j.set.specHash, j.lastEnd, j.order); err != nil {
		j.m.stateSaves.WithLabelValues("failure").Inc()
		j.logger.Error("Saving model state failed", "err", err)
		return
	}
	j.m.stateSaves.WithLabelValues("success").Inc()
}

// cycle fetches the points newer than the last cycle (the look-back on the
// first one), scores them and publishes a snapshot, also when it fails, so
// series without new points show as stale.
func (j *job) cycle(ctx context.Context) error {
	defer j.publish()
	nowMs := j.now().UnixMilli()
	stepMs := j.set.stepMs
	end := nowMs / stepMs * stepMs
	lbStart := (end - j.set.lookbackMs) / stepMs * stepMs
	start := lbStart
	if j.lastEnd > 0 {
		start = max(j.lastEnd+stepMs, lbStart)
		if len(j.order) == 0 {
			// Resumed from saved state: fetch at least the last step so
			// the series are known (points already scored are skipped).
			start = min(start, end)
		}
	}
	for _, s := range j.order {
		s.got = false
	}
	if start > end {
		return nil
	}
	err := j.src.fetch(ctx, j.set.cfg.Query, start, end, j.set.step, len(j.order),
		func(chunkStart, chunkEnd int64, mat model.Matrix) error {
			j.items, j.created = j.items[:0], j.created[:0]
			for i := range mat {
				s := j.resolve(mat[i].Metric, nowMs)
				if s == nil {
					continue
				}
				s.lastSeen = nowMs
				j.items = append(j.items, work{s, mat[i].Values})
			}
			j.restoreCreated()
			if len(j.created) > 0 {
				j.mv.sync(j.order)
			}
			if start > lbStart {
				j.backfill(ctx, lbStart, start-stepMs)
			}
			for _, s := range j.created {
				s.fresh = false
			}
			j.score(j.items)
			j.mv.feed(j.items, chunkStart, chunkEnd, false)
			clear(j.items)
			return nil
		})
	if err != nil {
		return err
	}
	j.lastEnd = end
	before := len(j.order)
	j.prune(nowMs)
	if len(j.order) != before {
		j.mv.sync(j.order)
	}
	j.mv.finish(ctx)
	j.m.seriesTracked.WithLabelValues(j.name).Set(float64(len(j.order)))
	return nil
}

// resolve finds or admits the series of m; nil when it belongs to another
// shard or the job is full.
func (j *job) resolve(m model.Metric, nowMs int64) *series {
	fp := m.FastFingerprint()
	if s := j.byFP[fp]; s != nil {
		if s.matches(m, j.name) {
			return s
		}
		key := m.String()
		if s := j.collide[key]; s != nil {
			return s
		}
		return j.admit(m, fp, key, nowMs)
	}
	if ig, ok := j.ignored[fp]; ok {
		ig.seen = nowMs
		j.ignored[fp] = ig
		if ig.reason == ignoredShard || len(j.order) >= j.set.cfg.MaxSeries {
			return nil
		}
		delete(j.ignored, fp)
	}
	return j.admit(m, fp, "", nowMs)
}

// lookup finds an existing series without admitting new ones.
func (j *job) lookup(m model.Metric) *series {
	s := j.byFP[m.FastFingerprint()]
	if s == nil || s.matches(m, j.name) {
		return s
	}
	return j.collide[m.String()]
}

func (j *job) admit(m model.Metric, fp model.Fingerprint, collideKey string, nowMs int64) *series {
	if !j.shard.owns(m) {
		j.ignored[fp] = ignored{seen: nowMs, reason: ignoredShard}
		return nil
	}
	if len(j.order) >= j.set.cfg.MaxSeries {
		j.ignored[fp] = ignored{seen: nowMs, reason: ignoredLimit}
		j.m.seriesDropped.WithLabelValues(j.name, "limit").Inc()
		if !j.droppedLogged {
			j.droppedLogged = true
			j.logger.Warn("Job reached max_series, dropping new series (logged once)", "max_series", j.set.cfg.MaxSeries, "first_dropped", m.String())
		}
		return nil
	}
	mod, err := j.newModel(j.set.cfg.Spec)
	if err != nil {
		// The spec was validated when the configuration loaded.
		j.logger.Error("Building model failed", "err", err)
		return nil
	}
	s := newSeries(m, j.name, j.set.cfg.EntityLabels, &j.names)
	s.model = mod
	s.win = newWindow(j.set.windowMs, j.set.stepMs)
	s.fresh = true
	if collideKey != "" {
		j.collide[collideKey] = s
	} else {
		j.byFP[fp] = s
	}
	j.order = append(j.order, s)
	j.orderDirty = true
	j.created = append(j.created, s)
	return s
}

func (j *job) restoreCreated() {
	if j.st == nil || len(j.created) == 0 {
		return
	}
	n, err := j.st.restore(j.name, j.set.specHash, j.created)
	if err != nil {
		j.logger.Warn("Some saved model state could not be restored; those series start fresh", "err", err)
	}
	if n == 0 {
		return
	}
	j.m.stateRestored.Add(float64(n))
	for _, s := range j.created {
		if s.lastTs > 0 {
			s.fresh = false
		}
	}
}

// backfill feeds the series created in this chunk, which have no history,
// their points in [from, to] before they score live points (cold start).
func (j *job) backfill(ctx context.Context, from, to int64) {
	n := 0
	for _, s := range j.created {
		if s.fresh {
			n++
		}
	}
	if n == 0 && !j.mv.needsHistory() || from > to {
		return
	}
	defer j.mv.historyDone()
	err := j.src.fetch(ctx, j.set.cfg.Query, from, to, j.set.step, len(j.order),
		func(chunkStart, chunkEnd int64, mat model.Matrix) error {
			j.bf = j.bf[:0]
			for i := range mat {
				if s := j.lookup(mat[i].Metric); s != nil && s.fresh {
					j.bf = append(j.bf, work{s, mat[i].Values})
				}
			}
			j.score(j.bf)
			clear(j.bf)
			j.mvbf = j.mv.history(j, mat, j.mvbf[:0])
			j.mv.feed(j.mvbf, chunkStart, chunkEnd, true)
			clear(j.mvbf)
			return nil
		})
	if err != nil {
		j.m.modelRetrains.WithLabelValues("failure").Add(float64(n))
		j.logger.Warn("Fetching history of new series failed; they start cold", "series", n, "err", err)
		return
	}
	j.m.modelRetrains.WithLabelValues("success").Add(float64(n))
}

// score feeds every series its samples, the series split over GOMAXPROCS
// workers so that each series is owned by one worker.
func (j *job) score(items []work) {
	w := min(runtime.GOMAXPROCS(0), (len(items)+minSeriesPerWorker-1)/minSeriesPerWorker)
	windowMs := j.set.windowMs
	if w <= 1 {
		for _, it := range items {
			it.s.feed(it.samples, windowMs)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(items) + w - 1) / w
	for lo := 0; lo < len(items); lo += per {
		part := items[lo:min(lo+per, len(items))]
		wg.Go(func() {
			for _, it := range part {
				it.s.feed(it.samples, windowMs)
			}
		})
	}
	wg.Wait()
}

// prune forgets series missing from successful cycles for longer than the
// grace period, and ignored series no longer returned.
func (j *job) prune(nowMs int64) {
	limit := nowMs - j.set.graceMs
	kept := j.order[:0]
	for _, s := range j.order {
		if s.lastSeen >= limit {
			kept = append(kept, s)
			continue
		}
		if j.byFP[s.fast] == s {
			delete(j.byFP, s.fast)
		} else {
			for k, c := range j.collide {
				if c == s {
					delete(j.collide, k)
				}
			}
		}
	}
	clear(j.order[len(kept):])
	j.order = kept
	for fp, ig := range j.ignored {
		if ig.seen < limit {
			delete(j.ignored, fp)
		}
	}
}

// publish builds the job's snapshot from its series.
func (j *job) publish() {
	if j.orderDirty {
		slices.SortFunc(j.order, func(a, b *series) int { return compareLabels(a.labels, b.labels) })
		j.orderDirty = false
	}
	snap := &jobSnapshot{set: &j.set, series: make([]seriesValue, len(j.order))}
	ent := make(map[string]int)
	for i, s := range j.order {
		v := &snap.series[i]
		v.s = s
		v.ts = s.lastTs
		v.stale = !s.got
		v.warming = s.model.Status() == scorer.Warming
		v.observed = int32(s.win.n)
		v.anomalous = int32(s.win.anomalous)
		v.expected, v.lower, v.upper = nan, nan, nan
		if s.hasLast {
			v.score = s.last.Score
			v.expected, v.lower, v.upper = s.last.Expected, s.last.Lower, s.last.Upper
		}
		k, ok := ent[s.entity]
		if !ok {
			k = len(snap.entities)
			ent[s.entity] = k
			snap.entities = append(snap.entities, entityValue{s: s, score: v.score})
		} else if v.score > snap.entities[k].score {
			snap.entities[k].score = v.score
		}
	}
	snap.mv = j.mv.snapshot()
	j.snap.Store(snap)
}
