package scorer

import (
	"fmt"
	"math"
	"strings"
)

func init() {
	Register("ensemble", ModelDoc{
		Description: "Runs several cores side by side, calibrates each one's deviation with its " +
			"own SPOT at the spec's risk, and scores the largest calibrated deviation (1.0 when any member " +
			"reaches its threshold). Members that watch different time scales catch different anomalies: " +
			"a fast robust one reacts at the first points of a change, a slower one catches drifts.",
		Warmup: "the fastest member's warm-up plus threshold.init samples (default 16 + 128).",
		State:  "the sum of the members' states (≈ 2 KiB with the default members).",
		Params: []ParamDoc{
			{Name: "members", Default: "mad,ewma,sr", Help: "comma-separated model names, each with its default parameters"},
		},
	}, newEnsemble)
}

type member struct {
	name string
	core Core
	spot spot
	sp   spotParams
}

type ensemble struct {
	members []member
	rough   roughness
}

func newEnsemble(p Params) (Core, error) {
	list := p.String("members")
	var e ensemble
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "ensemble" {
			return nil, p.errorf("members", list, "an ensemble cannot contain itself")
		}
		core, err := newCore(name, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: model %q: parameter members: %w", ErrBadSpec, "ensemble", err)
		}
		var h calibrationHint
		if c, ok := core.(hinter); ok {
			h = c.calibration()
		}
		e.members = append(e.members, member{name: name, core: core, sp: newSpotParams(DefaultRisk, DefaultThresholdInit, h.floor)})
	}
	if len(e.members) == 0 {
		return nil, p.errorf("members", list, "needs at least one model")
	}
	return &e, nil
}

// calibration: the members are calibrated already, so 1.0 is the
// ensemble's natural threshold.
func (e *ensemble) calibration() calibrationHint { return calibrationHint{fixed: 1, raw: true} }

// configure applies the spec's risk and SPOT initial length to every
// member (New calls it).
func (e *ensemble) configure(risk float64, init int) {
	for i := range e.members {
		m := &e.members[i]
		m.sp, m.spot = newSpotParams(risk, init, m.sp.floor), spot{}
	}
}

func (e *ensemble) Update(ts int64, v float64) Estimate {
	out := Estimate{Expected: nan, Scale: nan}
	best := -1.0
	floor := e.rough.update(v)
	for i := range e.members {
		m := &e.members[i]
		est := e.rough.apply(m.core.Update(ts, v), floor, v)
		if i == 0 || math.IsNaN(out.Expected) {
			out.Expected = est.Expected
		}
		if !m.core.Ready() {
			continue
		}
		mag := math.Abs(est.Dev)
		if math.IsNaN(mag) {
			mag = 0
		}
		if !m.spot.ready {
			m.spot.learn(&m.sp, mag)
			continue
		}
		zq := m.spot.threshold()
		m.spot.learn(&m.sp, mag)
		if s := mag / zq; s > best {
			best = s
			out = Estimate{Dev: math.Copysign(s, est.Dev), Expected: est.Expected, Scale: est.Scale * zq}
		}
	}
	return out
}

// Ready: as soon as one member is calibrated.
func (e *ensemble) Ready() bool {
	for i := range e.members {
		if e.members[i].spot.ready {
			return true
		}
	}
	return false
}

func (e *ensemble) Shift(delta float64) {
	for i := range e.members {
		e.members[i].core.Shift(delta)
	}
}

func (e *ensemble) Reset() {
	for i := range e.members {
		e.members[i].core.Reset()
		e.members[i].spot.reset()
	}
	e.rough = roughness{}
}

func (e *ensemble) AppendBinary(b []byte) ([]byte, error) {
	en := enc{b: b}
	en.u8(uint8(len(e.members)))
	e.rough.encode(&en)
	for i := range e.members {
		m := &e.members[i]
		en.str(m.name)
		at := len(en.b)
		en.u32(0)
		var err error
		if en.b, err = m.core.AppendBinary(en.b); err != nil {
			return nil, err
		}
		n := len(en.b) - at - 4
		en.b[at], en.b[at+1], en.b[at+2], en.b[at+3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		m.spot.encode(&en)
	}
	return en.b, nil
}

func (e *ensemble) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	if n := int(d.u8()); d.err == nil && n != len(e.members) {
		return fmt.Errorf("%w: ensemble of %d members, state has %d", ErrBadState, len(e.members), n)
	}
	var rough roughness
	rough.decode(&d)
	states := make([][]byte, len(e.members))
	spots := make([]spot, len(e.members))
	for i := range e.members {
		if name := d.str(); d.err == nil && name != e.members[i].name {
			return fmt.Errorf("%w: ensemble member %d is %q, state has %q", ErrBadState, i, e.members[i].name, name)
		}
		n := d.u32()
		if d.err != nil || uint64(len(d.b)) < uint64(n) {
			return fmt.Errorf("%w: truncated ensemble member", ErrBadState)
		}
		states[i], d.b = d.b[:n], d.b[n:]
		spots[i] = e.members[i].spot
		spots[i].decode(&d)
	}
	if err := d.finish(); err != nil {
		return err
	}
	for i := range e.members {
		if err := e.members[i].core.UnmarshalBinary(states[i]); err != nil {
			return fmt.Errorf("ensemble member %q: %w", e.members[i].name, err)
		}
		e.members[i].spot = spots[i]
	}
	e.rough = rough
	return nil
}
