package scorer

import "time"

// Direction selects which deviations count as anomalous.
type Direction string

const (
	// Both reports deviations either way (the default).
	Both Direction = "both"
	// Up reports only values above the expected one.
	Up Direction = "up"
	// Down reports only values below the expected one.
	Down Direction = "down"
)

// Spec describes a complete detector for one series: the model, its
// parameters and the calibration applied to its raw deviation. The zero
// value of every field means "the documented default".
type Spec struct {
	// Model is a registered model name; "" selects DefaultModel.
	Model string `yaml:"model,omitempty"`
	// Params are model parameters by name (see the registry's docs).
	Params map[string]string `yaml:"params,omitempty"`
	// Direction of anomalies to report (default both).
	Direction Direction `yaml:"direction,omitempty"`
	// MinDeviation is the smallest absolute deviation from the expected
	// value that may score above 1 (default 0: no floor).
	MinDeviation float64 `yaml:"min_deviation,omitempty"`
	// Threshold calibrates raw deviation into the score.
	Threshold ThresholdSpec `yaml:"threshold,omitempty"`
	// Debounce: a point is anomalous only when N of the last M scores
	// passed 1 (default 1 of 1).
	Debounce DebounceSpec `yaml:"debounce,omitempty"`
	// LevelShiftAbsorb is how long a lasting level shift keeps alerting
	// before the new level is taken as normal (default 1h; 0 uses the
	// default, a negative value disables absorption).
	LevelShiftAbsorb time.Duration `yaml:"level_shift_absorb,omitempty"`
}

// ThresholdSpec selects how the threshold (score 1.0) is set.
type ThresholdSpec struct {
	// Mode is "auto" (SPOT/DSPOT from the series' own tail, the default)
	// or "fixed".
	Mode string `yaml:"mode,omitempty"`
	// Risk is SPOT's risk level q (default 1e-4).
	Risk float64 `yaml:"risk,omitempty"`
	// Fixed is the raw deviation mapped to score 1 in fixed mode (default:
	// the model's natural threshold where it has one, e.g. nsigma's n).
	Fixed float64 `yaml:"fixed,omitempty"`
	// Init is how many ready samples SPOT sees before it sets its first
	// threshold (default 128); the detector is Warming until then.
	Init int `yaml:"init,omitempty"`
}

// DebounceSpec is an N-of-M debounce.
type DebounceSpec struct {
	N int `yaml:"n,omitempty"`
	M int `yaml:"m,omitempty"`
}
