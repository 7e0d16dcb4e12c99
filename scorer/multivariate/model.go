// Package multivariate holds the models that score all metrics of one
// entity (one machine: D dimensions) together. A model is trained on a
// window of rows and then scores rows online, saying how much each
// dimension contributed to a row's score; the contributions feed
// gala-anteater's recommend_metrics and SMD's interpretation labels.
//
// The raw models (PCA, autoencoder, isolation forest) work on standardised,
// finite rows. Detector wraps one with robust standardisation, imputation
// of missing values, score smoothing and a label-free calibration so that
// its score follows the project convention: 0 normal, 1.0 the threshold.
// A member may see the row's first differences instead of (model@diff) or
// beside (model@both) its levels, and attribution-only members
// (Config.Explain) shape the contributions without touching the score.
// Trainer refits a Detector in the background and swaps it atomically.
package multivariate

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Model is a multivariate anomaly model. Fit and Score must not run
// concurrently on one value; Score reuses scratch owned by the model, so
// one goroutine scores at a time.
type Model interface {
	// Fit trains on X, one row per time step, all rows of length Dims (or
	// setting Dims on first fit). It honours ctx cancellation.
	Fit(ctx context.Context, X [][]float64) error
	// Score returns the raw anomaly score of row (higher is more anomalous)
	// and, when contrib is not nil, writes each dimension's non-negative
	// share of it into contrib (len Dims). It does not allocate.
	Score(row, contrib []float64) float64
	// Dims is the number of dimensions, 0 before the first Fit.
	Dims() int
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// ErrNotFitted is returned when a model is used before Fit.
var ErrNotFitted = errors.New("multivariate: model not fitted")

// ErrUnknownModel is returned by New for a name nobody registered.
var ErrUnknownModel = errors.New("multivariate: unknown model")

// Param documents one model parameter.
type Param struct {
	Name, Default, Help string
}

// Factory builds an unfitted model from parameters; keys it does not know
// are an error.
type Factory func(p Params) (Model, error)

type registration struct {
	help    string
	params  []Param
	factory Factory
}

var (
	registryMu sync.RWMutex
	registry   = map[string]registration{}
)

// Register adds a model under name. It panics on a duplicate name: that is
// a programming error caught at init.
func Register(name, help string, params []Param, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("multivariate: duplicate model " + name)
	}
	registry[name] = registration{help: help, params: params, factory: f}
}

// Names lists the registered models, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// Describe returns a model's help and parameters.
func Describe(name string) (string, []Param, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	r, ok := registry[name]
	if !ok {
		return "", nil, fmt.Errorf("%w %q (have %s)", ErrUnknownModel, name, strings.Join(slices.Sorted(maps.Keys(registry)), ", "))
	}
	return r.help, r.params, nil
}

// New builds the named model. Parameters missing from params take their
// documented defaults; unknown ones are an error.
func New(name string, params map[string]string) (Model, error) {
	registryMu.RLock()
	r, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownModel, name, strings.Join(Names(), ", "))
	}
	p := Params{values: map[string]string{}}
	known := map[string]bool{}
	for _, d := range r.params {
		p.values[d.Name] = d.Default
		known[d.Name] = true
	}
	for k, v := range params {
		if !known[k] {
			return nil, fmt.Errorf("multivariate: model %s has no parameter %q", name, k)
		}
		p.values[k] = v
	}
	m, err := r.factory(p)
	if err != nil {
		return nil, fmt.Errorf("multivariate: model %s: %w", name, err)
	}
	return m, nil
}

// Params gives typed access to parameter strings.
type Params struct{ values map[string]string }

// Float parses a float parameter.
func (p Params) Float(name string) (float64, error) {
	v, err := strconv.ParseFloat(p.values[name], 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %w", name, err)
	}
	return v, nil
}

// Int parses an integer parameter.
func (p Params) Int(name string) (int, error) {
	v, err := strconv.Atoi(p.values[name])
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %w", name, err)
	}
	return v, nil
}

// Ints parses a comma-separated list of integers.
func (p Params) Ints(name string) ([]int, error) {
	s := strings.TrimSpace(p.values[name])
	if s == "" {
		return nil, nil
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// sortedCopy returns v sorted, for quantiles.
func sortedCopy(v []float64) []float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s
}

// quantile of sorted s by linear interpolation.
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}
