package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/scorer"
)

// ErrStopped is returned by ApplyConfig after Run returned.
var ErrStopped = errors.New("exporter stopped")

// Options configure an Exporter.
type Options struct {
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Registerer receives the self-metrics (default: none registered).
	Registerer prometheus.Registerer
	// ShardTotal and ShardIndex select the series this replica scores:
	// those whose label hash modulo ShardTotal is ShardIndex (default 1
	// and 0: all series).
	ShardTotal, ShardIndex int
	// NewModel builds a series' model (default scorer.New).
	NewModel func(scorer.Spec) (scorer.Model, error)
}

// Exporter scores the series of the configured jobs and serves the scores
// (Gather, Lookup, EntityScores) from per-job atomic snapshots.
type Exporter struct {
	logger   *slog.Logger
	m        *metrics
	shard    shard
	newModel func(scorer.Spec) (scorer.Model, error)

	mu       sync.Mutex
	cfg      *config.Config
	src      *source
	st       *store
	stateDir string
	byName   map[string]*job
	runCtx   context.Context
	running  bool
	stopped  bool

	jobs atomic.Pointer[jobSet]
}

// jobSet is the list of running jobs readers see.
type jobSet struct {
	list   []*job
	byName map[string]*job
}

// New returns an Exporter; ApplyConfig gives it jobs and Run runs them.
func New(o Options) (*Exporter, error) {
	if o.ShardTotal == 0 {
		o.ShardTotal = 1
	}
	if o.ShardTotal < 1 || o.ShardIndex < 0 || o.ShardIndex >= o.ShardTotal {
		return nil, fmt.Errorf("shard index %d out of [0, %d)", o.ShardIndex, o.ShardTotal)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.NewModel == nil {
		o.NewModel = scorer.New
	}
	e := &Exporter{
		logger:   o.Logger,
		m:        newMetrics(o.Registerer),
		shard:    shard{total: uint64(o.ShardTotal), index: uint64(o.ShardIndex)},
		newModel: o.NewModel,
		byName:   map[string]*job{},
	}
	e.jobs.Store(&jobSet{byName: map[string]*job{}})
	return e, nil
}

// ApplyConfig switches to cfg (already loaded and validated). Jobs whose
// settings did not change keep running with their series; changed jobs are
// stopped (saving their state) and started again, restoring the state
// saved under the same model spec. The state directory cannot change.
func (e *Exporter) ApplyConfig(cfg *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrStopped
	}
	if e.st == nil {
		st, err := openStore(cfg.StateDir)
		if err != nil {
			return err
		}
		e.st, e.stateDir = st, cfg.StateDir
	} else if cfg.StateDir != e.stateDir {
		return fmt.Errorf("state_dir cannot change on reload (running with %q, got %q): restart instead", e.stateDir, cfg.StateDir)
	}
	srcChanged := e.cfg == nil || !reflect.DeepEqual(e.cfg.Source, cfg.Source)
	src := e.src
	if srcChanged {
		s, err := newSource(cfg.Source, e.m)
		if err != nil {
			return err
		}
		src = s
	}

	next := &jobSet{byName: map[string]*job{}}
	var started, stopped []string
	var toStart []*job
	for _, jc := range cfg.Jobs {
		if !jc.IsEnabled() {
			continue
		}
		set := newJobSettings(cfg, jc)
		if old := e.byName[jc.Name]; old != nil && !srcChanged && reflect.DeepEqual(old.set, set) {
			next.list = append(next.list, old)
			next.byName[jc.Name] = old
			continue
		}
		j := newJob(set, e, src)
		next.list = append(next.list, j)
		next.byName[jc.Name] = j
		toStart = append(toStart, j)
	}
	for name, old := range e.byName {
		if next.byName[name] != old {
			old.stop()
			stopped = append(stopped, name)
			if next.byName[name] == nil {
				e.m.forgetJob(name)
			}
		}
	}
	for _, j := range toStart {
		e.m.initJob(j.name)
		if e.running {
			j.start(e.runCtx)
		}
		started = append(started, j.name)
	}
	keep := map[string]bool{}
	for _, jc := range cfg.Jobs {
		keep[jc.Name] = true
	}
	if err := e.st.dropJobs(keep); err != nil {
		e.logger.Warn("Deleting the state of removed jobs failed", "err", err)
	}
	if srcChanged && e.src != nil {
		e.src.close()
	}
	e.cfg, e.src, e.byName = cfg, src, next.byName
	e.jobs.Store(next)
	e.logger.Info("Configuration applied", "jobs", len(next.list), "started", strings.Join(started, ","), "stopped", strings.Join(stopped, ","))
	return nil
}

// Run runs the jobs until ctx ends, then stops them, saves their state and
// closes the state store.
func (e *Exporter) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped || e.running {
		e.mu.Unlock()
		return errors.New("exporter: Run called twice")
	}
	e.runCtx, e.running = ctx, true
	for _, j := range e.jobs.Load().list {
		j.start(ctx)
	}
	e.mu.Unlock()

	<-ctx.Done()

	e.mu.Lock()
	defer e.mu.Unlock()
	for _, j := range e.jobs.Load().list {
		j.stop()
	}
	e.running, e.stopped = false, true
	if e.src != nil {
		e.src.close()
	}
	if e.st != nil {
		if err := e.st.close(); err != nil {
			return fmt.Errorf("close state: %w", err)
		}
	}
	return nil
}

// Ready reports whether every job completed its first cycle; when not, the
// reason names the jobs still waiting.
func (e *Exporter) Ready() (bool, string) {
	var waiting []string
	for _, j := range e.jobs.Load().list {
		if !j.ready.Load() {
			waiting = append(waiting, j.name)
		}
	}
	if len(waiting) > 0 {
		return false, fmt.Sprintf("first cycle not completed for %d job(s): %s", len(waiting), strings.Join(waiting, ", "))
	}
	return true, ""
}
