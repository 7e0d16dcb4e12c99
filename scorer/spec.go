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
	// HoldOff is the refractory period of an anomaly episode (default 4h,
	// Alertmanager's default repeat_interval; 0 uses the default, a
	// negative value disables it): after a sample starts an episode
	// (Result.Onset), anomalous samples within HoldOff of it belong to the
	// same episode and start no new one. The model keeps learning and
	// Result.Score and Result.Anomalous are unchanged; only Onset and
	// Held carry the episode.
	HoldOff time.Duration `yaml:"hold_off,omitempty"`
}

// ThresholdSpec selects how the threshold (score 1.0) is set.
type ThresholdSpec struct {
	// Mode is "likelihood" (the anomaly likelihood of the recent average
	// deviation under its long-run distribution, the default), "auto"
	// (SPOT/DSPOT on each deviation, from the series' own tail) or
	// "fixed". Models with a natural threshold (nsigma, ensemble) default
	// to fixed.
	Mode string `yaml:"mode,omitempty"`
	// Risk is the tail probability that scores 1.0 (default 1e-4): SPOT's
	// risk level q in auto mode, the likelihood's tail in likelihood
	// mode, where the score is log(tail)/log(risk).
	Risk float64 `yaml:"risk,omitempty"`
	// Fixed is the raw deviation mapped to score 1 in fixed mode (default:
	// the model's natural threshold where it has one, e.g. nsigma's n).
	Fixed float64 `yaml:"fixed,omitempty"`
	// GuardRisk is the risk of likelihood mode's single-sample guard, a
	// SPOT threshold on each deviation (default Risk/10). The guard
	// tests every sample on its own while the likelihood's average moves
	// slowly, so at the same risk it would raise most of the false
	// alarms; a tenth of it still passes a lone 12σ spike.
	GuardRisk float64 `yaml:"guard_risk,omitempty"`
	// Init is how many ready samples SPOT or the likelihood learn before
	// they score (default 128); the detector is Warming until then.
	Init int `yaml:"init,omitempty"`
	// Window is how many recent deviations the likelihood averages
	// (default 10, at most 64).
	Window int `yaml:"window,omitempty"`
	// Memory is how many samples the likelihood's long-run distribution
	// remembers (default 2000, exponential).
	Memory int `yaml:"memory,omitempty"`
	// Cap bounds each deviation before the likelihood averages it, in the
	// core's units (default 8: z-scores for most models).
	Cap float64 `yaml:"cap,omitempty"`
	// Tail is the likelihood's model of the average's distribution:
	// TailGaussian (the default, HTM's) or TailSkewed.
	Tail string `yaml:"tail,omitempty"`
}

// Likelihood tails (ThresholdSpec.Tail).
const (
	// TailGaussian treats the average of the recent capped deviations
	// as Gaussian, as HTM does. The average of |z| is skewed to the
	// right, so on clean Gaussian residuals the tail at the default
	// risk is about five times the risk: chance alerts.
	TailGaussian = "gaussian"
	// TailSkewed corrects the Gaussian for the skewness of a mean of
	// `window` half-normal |z| (Cornish–Fisher, first order): within 10%
	// of the exact tail from 1e-2 to 1e-5, so the risk is the rate of
	// chance alerts it says. On clean seasonal data it starts a quarter
	// of the Gaussian tail's chance episodes or fewer; it also scores
	// lasting bursts on series that are spiky anyway lower (NAB local
	// 65.83 against 68.32, one marginal window lost). At risk 5e-4 with
	// guard_risk 1e-5 it matches the Gaussian tail's sensitivity (NAB
	// local 68.56) and its chance episodes (about 4/5 of them).
	TailSkewed = "skewed"
)

// DebounceSpec is an N-of-M debounce.
type DebounceSpec struct {
	N int `yaml:"n,omitempty"`
	M int `yaml:"m,omitempty"`
}
