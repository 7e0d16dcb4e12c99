// Package scorer holds the online anomaly models that turn one series (or
// one entity's series) into an anomaly score. It does no I/O: the exporter
// and `anteater eval` feed it samples and read back results.
//
// The score convention is vmanomaly's: 0 is perfectly normal and 1.0 is the
// alert threshold, so anything above 1 is anomalous.
//
// # Models and calibration
//
// Models register themselves by name (Register, from each model file's
// init); New builds one from a Spec and Models lists them with their
// documented parameters. A model is a Core, which turns each sample into a
// raw signed deviation with an expected value and a spread, wrapped in the
// calibration shared by all models: the deviation is made directional
// (Spec.Direction) and turned into a score with 1.0 at the threshold. By
// default (threshold mode "likelihood") the score is the anomaly
// likelihood of the average of the last 10 capped deviations under its
// long-run distribution, log(tail)/log(risk), or a single deviation over
// SPOT's threshold at a tenth of that risk (Threshold.GuardRisk),
// whichever is larger; mode "auto" is
// SPOT alone, "fixed" a fixed divisor. The score is capped below 1 when
// the absolute deviation is under Spec.MinDeviation, debounced N of M into
// Result.Anomalous, and a level shift that lasts Spec.LevelShiftAbsorb is
// absorbed into the model's level.
//
// # Episodes
//
// Anomalous samples group into episodes: Result.Onset marks the first
// anomalous sample that is not within Spec.HoldOff (default 4h) of the
// previous onset, and Result.Held the samples inside that hold-off. This
// is the unit the product notifies on; Score and Anomalous are unaffected,
// so /metrics still shows every deviation.
//
// # Input handling
//
//   - NaN and ±Inf values are skipped: Result.Skipped is true, the score is
//     0 and the model's state is unchanged.
//   - A timestamp equal to or before the last accepted one (a duplicate or
//     an out-of-order sample) is skipped the same way.
//   - A gap, a jump of more than GapSteps times the smoothed sampling step,
//     is accepted: the model continues from its state (the seasonal model
//     takes its bucket from the timestamp, so its phase survives), while
//     the debounce window and an anomalous run being timed for level-shift
//     absorption restart, since neither should span missing data.
//   - A series that sat on one value has zero spread; spreads are floored
//     at half the series' typical step and SPOT thresholds at 3 spreads,
//     so its next move scores high but finite.
//
// Observe never panics and does not allocate. Every model saves its full
// state with MarshalBinary (a versioned little-endian encoding) and
// restores it with UnmarshalBinary; a restored model continues exactly as
// the saved one would have.
package scorer

import "encoding"

// Status tells whether a model has seen enough data to score.
type Status uint8

const (
	// Warming models return score 0 until they have seen enough samples.
	Warming Status = iota
	// Ready models return calibrated scores.
	Ready
)

func (s Status) String() string {
	switch s {
	case Warming:
		return "warming"
	case Ready:
		return "ready"
	}
	return "unknown"
}

// Result is what a model says about one observed sample.
type Result struct {
	// Score is the calibrated anomaly score: 0 normal, 1.0 the threshold.
	// It is 0 while the model is warming and for samples that were skipped
	// (NaN, ±Inf, duplicate or out-of-order timestamps).
	Score float64
	// Raw is the model's uncalibrated deviation.
	Raw float64
	// Expected is the model's expected value for the sample, NaN if the
	// model has no notion of one.
	Expected float64
	// Lower and Upper bound the values that would score below 1; NaN when
	// unknown.
	Lower, Upper float64
	// Anomalous is true when the score passed 1 after debounce.
	Anomalous bool
	// Onset is true when the sample starts a new anomaly episode: it is
	// Anomalous and no episode started within Spec.HoldOff before it.
	// This is the product's notification unit, as Alertmanager notifies
	// once when an alert starts firing.
	Onset bool
	// Held is true when the sample falls within the hold-off of an
	// episode that started earlier: anomalous or not, it starts none.
	Held bool
	// Skipped is true when the sample was not used (see Observe).
	Skipped bool
	// Status is the model's status after this sample.
	Status Status
}

// Model scores one series online. Implementations are not safe for
// concurrent use: one goroutine owns a series' model at a time.
type Model interface {
	// Observe feeds one sample, ts in Unix milliseconds, and returns its
	// result. It never panics and never allocates on the hot path.
	Observe(ts int64, v float64) Result
	// Status reports whether the model is warming or ready.
	Status() Status
	// Reset forgets everything the model has learned.
	Reset()
	// MarshalBinary saves the full state; UnmarshalBinary restores it so
	// that the restored model behaves byte-for-byte like the saved one.
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}
