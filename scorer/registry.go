package scorer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultModel is the model New builds for a Spec without a model name. It
// is the model NAB is scored with: seasonal with period=auto follows a
// daily or weekly cycle when the series has one and its level otherwise,
// and with the default likelihood calibration and hold-off it scores NAB
// best of the models (see internal/eval/nab).
const DefaultModel = "seasonal"

// ErrUnknownModel is returned by New for a model name nobody registered.
var ErrUnknownModel = errors.New("scorer: unknown model")

// ErrBadSpec is wrapped by every error New returns for an invalid Spec or
// model parameter.
var ErrBadSpec = errors.New("scorer: invalid spec")

// ParamDoc documents one model parameter.
type ParamDoc struct {
	Name    string
	Default string
	Help    string
}

// ModelDoc documents a registered model; the CLI and README print it.
type ModelDoc struct {
	// Description says what the model does and what it is good for.
	Description string
	// Warmup says how many samples the model needs before it scores.
	Warmup string
	// State says how large the saved state of one series is.
	State string
	// Params are the model's parameters with their defaults.
	Params []ParamDoc
}

// Core is the raw, uncalibrated part of a model: it predicts each sample
// from what it learnt so far and reports the deviation. New wraps a Core in
// the calibration (SPOT or fixed threshold), direction, minimum deviation,
// debounce, level-shift absorption and input checks shared by all models,
// so a Core only sees finite values with increasing timestamps.
type Core interface {
	// Update scores v at ts against the state learnt so far and then
	// learns from it. It must not allocate.
	Update(ts int64, v float64) Estimate
	// Ready is false while the core warms up.
	Ready() bool
	// Shift moves the learnt level by delta: after a lasting level shift
	// the new level becomes the normal one.
	Shift(delta float64)
	// Reset forgets everything learnt.
	Reset()
	// AppendBinary appends the learnt state; UnmarshalBinary restores it.
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// Estimate is a core's view of one sample.
type Estimate struct {
	// Dev is the signed deviation in the core's own units (a z-score for
	// most cores): positive when the value is above what was expected.
	Dev float64
	// Expected is the predicted value, NaN if the core has none.
	Expected float64
	// Scale converts Dev back into value units (value = Expected +
	// Dev*Scale); NaN when Dev is not linear in the value.
	Scale float64
}

// Factory builds a core from its parameters.
type Factory func(p Params) (Core, error)

type registration struct {
	doc     ModelDoc
	factory Factory
}

var (
	registryMu sync.RWMutex
	registry   = map[string]registration{}
)

// Register adds a model under name. Model files call it from init(); a
// second registration of a name panics, since that is a programming error
// found at start-up and never caused by input.
func Register(name string, doc ModelDoc, factory Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("scorer: model registered twice: " + name)
	}
	registry[name] = registration{doc: doc, factory: factory}
}

// NamedDoc is a registered model's name and documentation.
type NamedDoc struct {
	Name string
	ModelDoc
}

// Models lists the registered models sorted by name.
func Models() []NamedDoc {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]NamedDoc, 0, len(registry))
	for name, r := range registry {
		out = append(out, NamedDoc{Name: name, ModelDoc: r.doc})
	}
	slices.SortFunc(out, func(a, b NamedDoc) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func lookup(name string) (registration, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	r, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		slices.Sort(names)
		return registration{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownModel, name, strings.Join(names, ", "))
	}
	return r, nil
}

// New builds the full detector that Spec describes: the model's core and
// the calibration around it. Errors name the bad field or parameter.
func New(spec Spec) (Model, error) {
	name := spec.Model
	if name == "" {
		name = DefaultModel
	}
	core, err := newCore(name, spec.Params)
	if err != nil {
		return nil, err
	}
	cfg, err := resolve(spec, core)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	if c, ok := core.(configurer); ok {
		risk, init := spec.Threshold.Risk, spec.Threshold.Init
		if risk == 0 {
			risk = DefaultRisk
		}
		if init == 0 {
			init = DefaultThresholdInit
		}
		if !(risk > 0 && risk < 0.5) || init < 8 || init > 1<<20 {
			return nil, fmt.Errorf("%w: model %q: threshold.risk %g must be in (0, 0.5) and threshold.init %d in [8, %d]",
				ErrBadSpec, name, spec.Threshold.Risk, spec.Threshold.Init, 1<<20)
		}
		c.configure(risk, init)
	}
	return newDetector(name, core, cfg), nil
}

// configurer is implemented by cores that calibrate internally (the
// ensemble): they get the spec's SPOT risk and initial length.
type configurer interface{ configure(risk float64, init int) }

// newCore builds a registered core, refusing parameters it does not know.
func newCore(name string, params map[string]string) (Core, error) {
	r, err := lookup(name)
	if err != nil {
		return nil, err
	}
	for k := range params {
		if !slices.ContainsFunc(r.doc.Params, func(p ParamDoc) bool { return p.Name == k }) {
			known := make([]string, len(r.doc.Params))
			for i, p := range r.doc.Params {
				known[i] = p.Name
			}
			return nil, fmt.Errorf("%w: model %q has no parameter %q (known: %s)", ErrBadSpec, name, k, strings.Join(known, ", "))
		}
	}
	core, err := r.factory(Params{model: name, doc: r.doc.Params, values: params})
	if err != nil {
		return nil, err
	}
	return core, nil
}

// Params gives a factory its parameters, parsed, with the documented
// defaults filled in. Parse errors name the model and the parameter.
type Params struct {
	model  string
	doc    []ParamDoc
	values map[string]string
}

func (p Params) raw(name string) string {
	if v, ok := p.values[name]; ok {
		return strings.TrimSpace(v)
	}
	for _, d := range p.doc {
		if d.Name == name {
			return d.Default
		}
	}
	return ""
}

func (p Params) errorf(name, value, format string, args ...any) error {
	return fmt.Errorf("%w: model %q: parameter %s=%q: %s", ErrBadSpec, p.model, name, value, fmt.Sprintf(format, args...))
}

// String returns a parameter as text.
func (p Params) String(name string) string { return p.raw(name) }

// Float parses a finite float in [lo, hi].
func (p Params) Float(name string, lo, hi float64) (float64, error) {
	s := p.raw(name)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.errorf(name, s, "not a finite number")
	}
	if v < lo || v > hi {
		return 0, p.errorf(name, s, "must be in [%g, %g]", lo, hi)
	}
	return v, nil
}

// Int parses an integer in [lo, hi].
func (p Params) Int(name string, lo, hi int) (int, error) {
	s := p.raw(name)
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, p.errorf(name, s, "not an integer")
	}
	if v < lo || v > hi {
		return 0, p.errorf(name, s, "must be in [%d, %d]", lo, hi)
	}
	return v, nil
}

// Bool parses true or false (strconv.ParseBool's spellings).
func (p Params) Bool(name string) (bool, error) {
	s := p.raw(name)
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, p.errorf(name, s, "not true or false")
	}
	return v, nil
}

// Duration parses a Prometheus-style or Go duration ("1d", "168h", "30m")
// in [lo, hi].
func (p Params) Duration(name string, lo, hi time.Duration) (time.Duration, error) {
	s := p.raw(name)
	v, err := parseDuration(s)
	if err != nil {
		return 0, p.errorf(name, s, "not a duration")
	}
	if v < lo || v > hi {
		return 0, p.errorf(name, s, "must be in [%s, %s]", lo, hi)
	}
	return v, nil
}

// parseDuration accepts Go durations plus the d and w units of Prometheus.
func parseDuration(s string) (time.Duration, error) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseFloat(s[:n-1], 64)
		if err != nil {
			return 0, err
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		return time.Duration(v * float64(unit)), nil
	}
	return time.ParseDuration(s)
}
