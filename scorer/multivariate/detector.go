package multivariate

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Config selects and parameterises a Detector. The zero value of every
// field means its documented default.
type Config struct {
	// Model is a registered model name, or several joined by "+" for an
	// ensemble whose members are calibrated separately and combined by
	// Combine (default DefaultModel).
	Model string `yaml:"model,omitempty"`
	// Params are model parameters; in an ensemble a key "<model>.<param>"
	// targets one member, a bare key every member that has it.
	Params map[string]string `yaml:"params,omitempty"`
	// Combine is how an ensemble joins its members' calibrated scores:
	// "max" (default: one member sure of an anomaly is enough) or "mean".
	Combine string `yaml:"combine,omitempty"`
	// MinScale floors each dimension's scale in standardisation (default
	// 1e-3 of the data's unit; see Scaler).
	MinScale float64 `yaml:"min_scale,omitempty"`
	// Clip is the knee of the soft clip of standardised values: beyond
	// ±Clip they grow logarithmically (default 10; negative: no clipping).
	Clip float64 `yaml:"clip,omitempty"`
	// Smoothing is the EWMA weight of the newest raw score and
	// contributions, in (0, 1]; 1 is no smoothing (default 0.3). The same
	// smoothing is applied to the calibration scores.
	Smoothing float64 `yaml:"smoothing,omitempty"`
	// Holdout is the share of the most recent training rows kept out of
	// the fit and used only for calibration, whose scores are then
	// out-of-sample like live ones (default 0.2; negative: calibrate on
	// the fitted rows).
	Holdout float64 `yaml:"holdout,omitempty"`
	// Refit refits the models on all training rows after calibrating on
	// the held-out part, keeping the thresholds.
	Refit bool `yaml:"refit,omitempty"`
	// Calibration sets the threshold (score 1.0) from calibration scores.
	Calibration POT `yaml:"calibration,omitempty"`
}

// DefaultModel is the model used when Config.Model is empty: PCA's
// reconstruction error (smoothed, for sustained breaks of the correlation
// between dimensions) and the per-dimension tail model (unsmoothed, for a
// row with a few dimensions far out in their own tails), each calibrated
// on held-out rows and combined by max. On the SMD sample (machines 1-2,
// 2-1, 3-2) it had the best point-adjusted F1 at the label-free threshold
// and the best oracle F1 of the models and ensembles tried, and PCA is 4×
// faster to score than the autoencoder.
const DefaultModel = "pca+tail"

func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Combine == "" {
		c.Combine = "max"
	}
	if c.MinScale <= 0 {
		c.MinScale = 1e-3
	}
	if c.Clip == 0 {
		c.Clip = 10
	}
	if c.Smoothing <= 0 || c.Smoothing > 1 {
		c.Smoothing = 0.3
	}
	if c.Holdout == 0 {
		c.Holdout = 0.2
	}
	c.Calibration = c.Calibration.withDefaults()
	return c
}

// minCalibration is the fewest rows a held-out calibration part may have;
// below it the detector calibrates on the fitted rows.
const minCalibration = 200

// member is one calibrated model of a Detector.
type member struct {
	name    string
	model   Model
	alpha   float64 // EWMA weight of the newest raw score
	tSmooth float64 // smoothed raw score mapped to 1.0

	// Online state.
	ewma float64
}

// Detector is a fitted, calibrated multivariate detector: standardise,
// impute missing values, score with each member model, smooth, divide by
// the member's thresholds, combine, and divide by the ensemble threshold
// so that 1.0 is the alert level. It holds scratch and smoothing state,
// so one goroutine scores at a time.
type Detector struct {
	cfg     Config
	scaler  Scaler
	members []member
	// threshold of the combined member scores.
	threshold float64

	// Online state and scratch.
	ewmaC   []float64
	started bool
	z, c    []float64
	acc     []float64
	missing []bool
}

// NewDetector builds an unfitted detector, checking the configuration.
func NewDetector(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if cfg.Combine != "max" && cfg.Combine != "mean" {
		return nil, fmt.Errorf("multivariate: combine %q is neither max nor mean", cfg.Combine)
	}
	if cfg.Holdout >= 0.9 {
		return nil, fmt.Errorf("multivariate: holdout %v leaves too little to fit", cfg.Holdout)
	}
	d := &Detector{cfg: cfg}
	for name := range strings.SplitSeq(cfg.Model, "+") {
		name = strings.TrimSpace(name)
		m, err := New(name, memberParams(cfg, name))
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{name: name, model: m, alpha: memberSmoothing(cfg, m)})
	}
	return d, nil
}

// SelfSmoothing is implemented by models whose raw score should be
// smoothed with their own EWMA weight rather than Config.Smoothing.
type SelfSmoothing interface {
	// ScoreSmoothing is the EWMA weight in (0, 1], or 0 for the detector's.
	ScoreSmoothing() float64
}

func memberSmoothing(cfg Config, m Model) float64 {
	if s, ok := m.(SelfSmoothing); ok {
		if a := s.ScoreSmoothing(); a > 0 && a <= 1 {
			return a
		}
	}
	return cfg.Smoothing
}

// memberParams picks the parameters meant for one member.
func memberParams(cfg Config, name string) map[string]string {
	_, known, _ := Describe(name)
	has := map[string]bool{}
	for _, p := range known {
		has[p.Name] = true
	}
	out := map[string]string{}
	single := !strings.Contains(cfg.Model, "+")
	for k, v := range cfg.Params {
		if rest, ok := strings.CutPrefix(k, name+"."); ok {
			out[rest] = v
		} else if !strings.Contains(k, ".") && (single || has[k]) {
			out[k] = v
		}
	}
	return out
}

// Config returns the configuration with defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Dims is the number of dimensions, 0 before Fit.
func (d *Detector) Dims() int { return d.scaler.Dims() }

// Thresholds returns each member's raw threshold of the smoothed score,
// for diagnostics.
func (d *Detector) Thresholds() map[string]float64 {
	out := map[string]float64{}
	for _, m := range d.members {
		out[m.name] = m.tSmooth
	}
	return out
}

// Fit trains the detector on X (rows in time order, as the smoothing of
// the calibration scores assumes) and calibrates its threshold on the
// held-out most recent rows (see Config.Holdout). Rows must all have the
// same length; non-finite values are treated as missing.
func (d *Detector) Fit(ctx context.Context, X [][]float64) error {
	if len(X) < 10 {
		return fmt.Errorf("multivariate: need at least 10 training rows, have %d", len(X))
	}
	dims := len(X[0])
	if dims == 0 {
		return fmt.Errorf("multivariate: rows have no values")
	}
	for i, r := range X {
		if len(r) != dims {
			return fmt.Errorf("multivariate: row %d has %d values, want %d", i, len(r), dims)
		}
	}
	fitRows, calRows := X, X
	if h := d.cfg.Holdout; h > 0 {
		split := len(X) - int(h*float64(len(X)))
		if len(X)-split >= minCalibration && split >= 10 {
			fitRows, calRows = X[:split], X[split:]
		}
	}
	if err := d.fitModels(ctx, fitRows); err != nil {
		return err
	}
	if err := d.calibrate(ctx, calRows); err != nil {
		return err
	}
	if d.cfg.Refit && len(fitRows) < len(X) {
		if err := d.fitModels(ctx, X); err != nil {
			return err
		}
	}
	d.alloc()
	d.Reset()
	return nil
}

// standardise fits nothing: it transforms X with the fitted scaler.
func (d *Detector) standardise(X [][]float64) [][]float64 {
	dims := d.scaler.Dims()
	Z := make([][]float64, len(X))
	flat := make([]float64, len(X)*dims)
	for i, r := range X {
		Z[i] = flat[i*dims : (i+1)*dims : (i+1)*dims]
		d.scaler.Transform(r, Z[i], nil)
	}
	return Z
}

func (d *Detector) fitModels(ctx context.Context, X [][]float64) error {
	d.scaler = Scaler{MinScale: d.cfg.MinScale, Clip: max(d.cfg.Clip, 0)}
	if err := d.scaler.Fit(X); err != nil {
		return err
	}
	Z := d.standardise(X)
	for i := range d.members {
		m := &d.members[i]
		if err := m.model.Fit(ctx, Z); err != nil {
			return fmt.Errorf("multivariate: fit %s: %w", m.name, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// calibrate scores X in order with the fitted models and sets every
// threshold so that the online Score of the same rows would be exactly
// these calibrated values.
func (d *Detector) calibrate(ctx context.Context, X [][]float64) error {
	Z := d.standardise(X)
	n := len(Z)
	sm := make([]float64, n)
	comb := make([]float64, n)
	for i := range d.members {
		m := &d.members[i]
		a := m.alpha
		var s float64
		for t, z := range Z {
			r := m.model.Score(z, nil)
			if math.IsNaN(r) || math.IsInf(r, 0) {
				r = 0
			}
			if t == 0 {
				s = r
			} else {
				s = a*r + (1-a)*s
			}
			sm[t] = s
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m.tSmooth = d.cfg.Calibration.Threshold(sm)
		for t, v := range sm {
			v /= m.tSmooth
			switch {
			case i == 0:
				comb[t] = v
			case d.cfg.Combine == "max":
				comb[t] = math.Max(comb[t], v)
			default:
				comb[t] += v
			}
		}
	}
	if d.cfg.Combine == "mean" {
		for t := range comb {
			comb[t] /= float64(len(d.members))
		}
	}
	d.threshold = d.cfg.Calibration.Threshold(comb)
	return nil
}

func (d *Detector) alloc() {
	n := d.scaler.Dims()
	d.z = make([]float64, n)
	d.c = make([]float64, n)
	d.acc = make([]float64, n)
	d.ewmaC = make([]float64, n)
	d.missing = make([]bool, n)
}

// Reset forgets the smoothing state (not the fit).
func (d *Detector) Reset() {
	d.started = false
	clear(d.ewmaC)
	for i := range d.members {
		d.members[i].ewma = 0
	}
}

// Continue carries the smoothing state of prev (a detector being replaced)
// over into d, so a model swap does not restart the smoothed score. The
// smoothed member scores are carried in calibrated units, as the raw
// scales of two fits differ.
func (d *Detector) Continue(prev *Detector) {
	if prev == nil || !prev.started || prev.Dims() != d.Dims() || len(prev.members) != len(d.members) {
		return
	}
	d.started = true
	copy(d.ewmaC, prev.ewmaC)
	for i := range d.members {
		p := &prev.members[i]
		d.members[i].ewma = p.ewma / p.tSmooth * d.members[i].tSmooth
	}
}

// Score scores one row and returns its calibrated score (1.0 = threshold).
// When contrib is not nil (len Dims), it receives each dimension's share of
// the score, summing to the score; missing (non-finite) values are imputed
// with the training median and get contribution 0. A row of the wrong
// length scores 0 with zero contributions. Score does not allocate.
func (d *Detector) Score(row, contrib []float64) float64 {
	n := d.scaler.Dims()
	if n == 0 || len(row) != n {
		clear(contrib)
		return 0
	}
	d.scaler.Transform(row, d.z, d.missing)
	a := d.cfg.Smoothing
	first := !d.started
	d.started = true
	var total float64
	clear(d.acc)
	for i := range d.members {
		m := &d.members[i]
		r := m.model.Score(d.z, d.c)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			// Cannot happen for finite clipped input; stay quiet if it does.
			r = 0
			clear(d.c)
		}
		if first {
			m.ewma = r
		} else {
			m.ewma = m.alpha*r + (1-m.alpha)*m.ewma
		}
		v := m.ewma / m.tSmooth
		switch {
		case i == 0:
			total = v
		case d.cfg.Combine == "max":
			total = math.Max(total, v)
		default:
			total += v
		}
		// Each member adds its contributions as shares of its calibrated
		// score, so members of different raw scales weigh alike.
		var cs float64
		for j, c := range d.c {
			if d.missing[j] {
				d.c[j] = 0
				continue
			}
			cs += c
		}
		if cs > 0 {
			f := v / cs
			for j, c := range d.c {
				d.acc[j] += c * f
			}
		}
	}
	if d.cfg.Combine == "mean" {
		total /= float64(len(d.members))
	}
	total /= d.threshold
	var sum float64
	for j, c := range d.acc {
		if first {
			d.ewmaC[j] = c
		} else {
			d.ewmaC[j] = a*c + (1-a)*d.ewmaC[j]
		}
		sum += d.ewmaC[j]
	}
	if contrib != nil {
		// Scale to sum to the score: only the ranking of the smoothed
		// contributions is meaningful.
		f := 0.0
		if sum > 0 {
			f = total / sum
		}
		for j, c := range d.ewmaC {
			contrib[j] = c * f
		}
	}
	return total
}

// MarshalBinary saves the configuration and the fit (not the smoothing
// state, which a restarted scorer rebuilds within a few rows).
func (d *Detector) MarshalBinary() ([]byte, error) {
	var e encoder
	e.str("detector/2")
	e.str(d.cfg.Model)
	keys := slices.Sorted(maps.Keys(d.cfg.Params))
	e.int(len(keys))
	for _, k := range keys {
		e.str(k)
		e.str(d.cfg.Params[k])
	}
	e.str(d.cfg.Combine)
	e.f64(d.cfg.MinScale)
	e.f64(d.cfg.Clip)
	e.f64(d.cfg.Smoothing)
	e.int(b2i(d.cfg.Refit))
	e.f64(d.cfg.Holdout)
	e.f64(d.cfg.Calibration.InitQuantile)
	e.f64(d.cfg.Calibration.Risk)
	e.f64(d.cfg.Calibration.Margin)
	d.scaler.encode(&e)
	e.f64(d.threshold)
	e.int(len(d.members))
	for _, m := range d.members {
		b, err := m.model.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("multivariate: marshal %s: %w", m.name, err)
		}
		e.str(m.name)
		e.f64(m.tSmooth)
		e.bytes(b)
	}
	return e.b, nil
}

// UnmarshalBinary restores a detector saved by MarshalBinary. On error d is
// unchanged.
func (d *Detector) UnmarshalBinary(b []byte) error {
	dec := decoder{b: b}
	dec.tag("detector/2")
	var cfg Config
	cfg.Model = dec.str()
	np := dec.length(16)
	if np > 0 {
		cfg.Params = make(map[string]string, np)
	}
	for range np {
		k := dec.str()
		cfg.Params[k] = dec.str()
	}
	cfg.Combine = dec.str()
	cfg.MinScale, cfg.Clip, cfg.Smoothing = dec.f64(), dec.f64(), dec.f64()
	refit := dec.int()
	cfg.Holdout = dec.f64()
	cfg.Calibration = POT{InitQuantile: dec.f64(), Risk: dec.f64(), Margin: dec.f64()}
	if dec.err != nil {
		return dec.err
	}
	if refit != 0 && refit != 1 {
		return fmt.Errorf("%w: refit flag %d", ErrCorrupt, refit)
	}
	cfg.Refit = refit == 1
	n, err := NewDetector(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	n.scaler.decode(&dec)
	n.threshold = dec.f64()
	if nm := dec.length(24); dec.err == nil && nm != len(n.members) {
		return fmt.Errorf("%w: %d members, config has %d", ErrCorrupt, nm, len(n.members))
	}
	for i := range n.members {
		m := &n.members[i]
		if name := dec.str(); dec.err == nil && name != m.name {
			return fmt.Errorf("%w: member %q, config has %q", ErrCorrupt, name, m.name)
		}
		m.tSmooth = dec.f64()
		blob := dec.bytes()
		if dec.err != nil {
			return dec.err
		}
		if err := m.model.UnmarshalBinary(blob); err != nil {
			return fmt.Errorf("multivariate: unmarshal %s: %w", m.name, err)
		}
		m.alpha = memberSmoothing(cfg, m.model)
		if m.model.Dims() != n.scaler.Dims() {
			return fmt.Errorf("%w: %s has %d dims, scaler %d", ErrCorrupt, m.name, m.model.Dims(), n.scaler.Dims())
		}
		if !positive(m.tSmooth) {
			return fmt.Errorf("%w: %s threshold %v", ErrCorrupt, m.name, m.tSmooth)
		}
	}
	if err := dec.finish(); err != nil {
		return err
	}
	if !positive(n.threshold) {
		return fmt.Errorf("%w: threshold %v", ErrCorrupt, n.threshold)
	}
	n.alloc()
	*d = *n
	return nil
}

// positive reports whether v is finite and > 0.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 1) }
