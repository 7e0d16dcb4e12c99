package scorer

import "math"

// zFloor is the smallest SPOT threshold for z-score cores: a series
// that sat on one value while SPOT learnt its tail would otherwise get a
// threshold near 0 and score any later move as a huge anomaly. Three
// spreads is the classic rule and below the z of every practical risk.
const zFloor = 3

// maxDev caps deviations so a series that was perfectly flat yields a
// large finite score rather than +Inf when it moves.
const maxDev = 1e9

// scaleFloor is the smallest spread a core divides by: a flat series has
// zero spread, and any change of it is then scored as very large but
// finite. The relative part keeps float noise on large values quiet.
func scaleFloor(level float64) float64 { return 1e-9 + 1e-6*math.Abs(level) }

// ratio is (v-mu)/sd capped to ±maxDev: min(max(z, −maxDev), maxDev),
// whose bits fclamp gives for every z, NaN and zeros included.
func ratio(v, mu, sd float64) float64 { return fclamp((v-mu)/sd, maxDev) }

// fmin, fmax and fclamp are the builtin min and max on floats for the
// hot paths, at one comparison instead of about seven instructions: the
// builtins also propagate a NaN in either operand and put −0 below +0.
// They return the same bits as the builtins when neither operand is NaN
// and the two are not zeros of opposite signs; y (lim) must never be
// NaN, and a NaN x comes out as a NaN. Callers say why their operands
// qualify.
func fmin(x, y float64) float64 {
	if y <= x {
		return y
	}
	return x
}

func fmax(x, y float64) float64 {
	if y >= x {
		return y
	}
	return x
}

// fclamp is min(max(x, −lim), lim) for lim > 0.
func fclamp(x, lim float64) float64 { return fmin(fmax(x, -lim), lim) }

// roughnessAlpha sets the memory of roughness (about 500 samples).
const roughnessAlpha = 1.0 / 256

// roughnessWeight is max(roughnessAlpha, 1/n) without the division once
// the alpha wins.
var roughnessWeight = newWeightOf(roughnessAlpha)

// roughnessShare is the share of the series' typical step that a core's
// spread may not go below.
var roughnessShare = 0.5

// roughness tracks the long-run mean absolute step |x(t) − x(t−1)| of a
// series. A core's spread can collapse to ~0 on a series that sits on one
// value between bursts (disk writes, error counts); the next burst would
// then score in the millions, and scores would no longer compare across
// series. Flooring the spread at a share of the typical step keeps such
// scores in proportion to how the series usually moves.
type roughness struct {
	n          int
	prev, mean float64
}

// update learns v and returns the spread floor before it.
func (r *roughness) update(v float64) float64 {
	floor := roughnessShare * r.mean
	if r.n > 0 {
		a := roughnessWeight.at(r.n)
		r.mean += a * (math.Abs(v-r.prev) - r.mean)
	}
	r.n++
	r.prev = v
	return floor
}

// apply rescales the estimate of v whose spread is below floor. A
// deviation the core capped at ±maxDev (its spread was ~0) has lost its
// size: it is measured again from v against the floor, or every burst on
// a series that sits on one value would rescale from the same cap to the
// same tiny deviation, however large the burst.
//
// Its usual case, a spread at or above the floor, inlines; the rescale
// is rescale.
func (r *roughness) apply(est Estimate, floor, v float64) Estimate {
	if floor > 0 && est.Scale > 0 && est.Scale < floor {
		return rescale(est, floor, v)
	}
	return est
}

// rescale is apply's rescale of an estimate whose spread is below floor.
func rescale(est Estimate, floor, v float64) Estimate {
	if math.Abs(est.Dev) >= maxDev && !math.IsNaN(est.Expected) {
		est.Dev = ratio(v, est.Expected, floor)
	} else {
		est.Dev *= est.Scale / floor
	}
	est.Scale = floor
	return est
}

func (r *roughness) encode(e *enc) {
	e.u64(uint64(r.n))
	e.f64(r.prev)
	e.f64(r.mean)
}

func (r *roughness) decode(d *dec) {
	r.n = int(d.u64())
	r.prev = d.f64()
	r.mean = d.f64()
}
