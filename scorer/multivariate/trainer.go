package multivariate

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// TrainerConfig configures a Trainer. Zero values take the documented
// defaults.
type TrainerConfig struct {
	Detector Config
	// Window is the number of most recent rows kept for training (default
	// 20160: two weeks of minutes).
	Window int
	// MinRows is how many rows must be seen before the first fit (default
	// 1440).
	MinRows int
	// Every retrains after this many new rows (0: not by row count).
	Every int
	// Interval retrains on this period (0: not by time).
	Interval time.Duration
	// KeepAnomalous also keeps rows that scored ≥ 1 in the window; by
	// default they are left out so that an incident does not become the
	// next model's idea of normal.
	KeepAnomalous bool
	Logger        *slog.Logger
}

// Trainer owns the detector of one entity: the scoring goroutine calls
// Observe for every row, and Run (in its own goroutine) refits a new
// detector on a copy of the recent window and swaps it in atomically, so
// scoring never waits for training. A swap carries the smoothing state
// over. At most one fit runs at a time; a fit that is due while another
// runs is dropped and taken at the next schedule.
type Trainer struct {
	cfg  TrainerConfig
	dims int

	cur   atomic.Pointer[Detector]
	due   atomic.Bool
	busy  atomic.Bool
	fits  atomic.Uint64
	fails atomic.Uint64
	jobs  chan []float64 // window copies, row-major, to the fitter
	spare chan []float64 // buffers returned by the fitter for reuse

	// Owned by the scoring goroutine.
	ring     []float64
	head, n  int
	sinceFit int
	last     *Detector
}

// NewTrainer checks the configuration and builds a Trainer for rows of
// dims values.
func NewTrainer(dims int, cfg TrainerConfig) (*Trainer, error) {
	if dims < 1 {
		return nil, fmt.Errorf("multivariate: trainer needs dims >= 1, have %d", dims)
	}
	if cfg.Window == 0 {
		cfg.Window = 20160
	}
	if cfg.MinRows == 0 {
		cfg.MinRows = 1440
	}
	if cfg.Window < 10 || cfg.MinRows < 10 || cfg.MinRows > cfg.Window || cfg.Every < 0 || cfg.Interval < 0 {
		return nil, fmt.Errorf("multivariate: trainer needs 10 <= min_rows <= window, every >= 0, interval >= 0")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := NewDetector(cfg.Detector); err != nil {
		return nil, err
	}
	return &Trainer{
		cfg:   cfg,
		dims:  dims,
		jobs:  make(chan []float64, 1),
		spare: make(chan []float64, 2),
		ring:  make([]float64, cfg.Window*dims),
	}, nil
}

// Install makes d the current detector (e.g. one restored from disk). It
// is safe to call from any goroutine.
func (t *Trainer) Install(d *Detector) error {
	if d.Dims() != t.dims {
		return fmt.Errorf("multivariate: detector has %d dims, trainer %d", d.Dims(), t.dims)
	}
	t.cur.Store(d)
	return nil
}

// Current returns the detector in use (nil before the first fit), e.g.
// to save it. Do not score with it: the scoring goroutine owns it.
func (t *Trainer) Current() *Detector { return t.cur.Load() }

// Fits and Failures count finished fits.
func (t *Trainer) Fits() uint64     { return t.fits.Load() }
func (t *Trainer) Failures() uint64 { return t.fails.Load() }

// Retrain asks for a fit at the next observed row.
func (t *Trainer) Retrain() { t.due.Store(true) }

// Observe scores row with the current detector (score 0 and ready false
// before the first fit), writes the contributions into contrib when not
// nil, and adds the row to the training window. Only one goroutine may
// call Observe. It does not block on training and does not allocate
// except when it hands the first two window copies to the fitter.
func (t *Trainer) Observe(row, contrib []float64) (score float64, ready bool) {
	if len(row) != t.dims {
		clear(contrib)
		return 0, false
	}
	if d := t.cur.Load(); d != nil {
		if d != t.last {
			d.Continue(t.last)
			t.last = d
		}
		score, ready = d.Score(row, contrib), true
	} else {
		clear(contrib)
	}
	if !ready || score < 1 || t.cfg.KeepAnomalous {
		copy(t.ring[t.head*t.dims:], row)
		t.head = (t.head + 1) % t.cfg.Window
		t.n = min(t.n+1, t.cfg.Window)
	}
	t.sinceFit++
	wanted := (t.cfg.Every > 0 && t.sinceFit >= t.cfg.Every) || t.due.Load() || (!ready && t.sinceFit >= t.cfg.MinRows)
	if wanted && t.n >= t.cfg.MinRows && !t.busy.Load() {
		t.handOff()
	}
	return score, ready
}

// handOff copies the window, oldest first, and queues it for the fitter.
func (t *Trainer) handOff() {
	var buf []float64
	select {
	case buf = <-t.spare:
	default:
	}
	need := t.n * t.dims
	if cap(buf) < need {
		buf = make([]float64, need, len(t.ring))
	}
	buf = buf[:need]
	start := (t.head - t.n + t.cfg.Window) % t.cfg.Window
	k := copy(buf, t.ring[start*t.dims:min(len(t.ring), (start+t.n)*t.dims)])
	copy(buf[k:], t.ring[:need-k])
	// Busy before the fitter can take the copy: it clears busy when its
	// fit ends, which may be before a store after the send.
	t.busy.Store(true)
	select {
	case t.jobs <- buf:
		t.due.Store(false)
		t.sinceFit = 0
	default: // a copy is still queued: try again later
		t.busy.Store(false)
	}
}

// Run fits queued windows until ctx is done. It returns nil on
// cancellation.
func (t *Trainer) Run(ctx context.Context) error {
	var tick <-chan time.Time
	if t.cfg.Interval > 0 {
		tk := time.NewTicker(t.cfg.Interval)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			t.due.Store(true)
		case buf := <-t.jobs:
			t.fit(ctx, buf)
		}
	}
}

func (t *Trainer) fit(ctx context.Context, buf []float64) {
	defer func() {
		select {
		case t.spare <- buf:
		default:
		}
		t.busy.Store(false)
	}()
	rows := make([][]float64, len(buf)/t.dims)
	for i := range rows {
		rows[i] = buf[i*t.dims : (i+1)*t.dims : (i+1)*t.dims]
	}
	start := time.Now()
	d, err := NewDetector(t.cfg.Detector)
	if err == nil {
		err = d.Fit(ctx, rows)
	}
	if err != nil {
		if ctx.Err() == nil {
			t.fails.Add(1)
			t.cfg.Logger.Warn("multivariate fit failed", "rows", len(rows), "err", err)
		}
		return
	}
	t.cur.Store(d)
	t.fits.Add(1)
	t.cfg.Logger.Debug("multivariate model refitted", "rows", len(rows), "duration", time.Since(start))
}
