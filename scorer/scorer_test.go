package scorer

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	names := map[string]bool{}
	for _, m := range Models() {
		names[m.Name] = true
		require.NotEmpty(t, m.Description, m.Name)
		require.NotEmpty(t, m.Warmup, m.Name)
		require.NotEmpty(t, m.State, m.Name)
		for _, p := range m.Params {
			require.NotEmpty(t, p.Help, "%s.%s", m.Name, p.Name)
		}
		// Every documented default builds.
		_, err := New(Spec{Model: m.Name})
		require.NoError(t, err, m.Name)
	}
	for _, want := range []string{"ewma", "mad", "seasonal", "nsigma", "sr", "ensemble"} {
		require.True(t, names[want], want)
	}
	require.True(t, names[DefaultModel])
	m, err := New(Spec{})
	require.NoError(t, err)
	require.Equal(t, DefaultModel, m.(*detector).p.name)
	require.Panics(t, func() { Register("ewma", ModelDoc{}, newEWMA) })
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		is   error
		msg  string
	}{
		{"unknown model", Spec{Model: "nope"}, ErrUnknownModel, `"nope"`},
		{"unknown param", Spec{Model: "ewma", Params: map[string]string{"beta": "1"}}, ErrBadSpec, `"beta"`},
		{"bad float", Spec{Model: "ewma", Params: map[string]string{"alpha": "x"}}, ErrBadSpec, "alpha"},
		{"float range", Spec{Model: "ewma", Params: map[string]string{"alpha": "2"}}, ErrBadSpec, "alpha"},
		{"NaN param", Spec{Model: "ewma", Params: map[string]string{"alpha": "NaN"}}, ErrBadSpec, "alpha"},
		{"bad int", Spec{Model: "mad", Params: map[string]string{"window": "1.5"}}, ErrBadSpec, "window"},
		{"warmup over window", Spec{Model: "mad", Params: map[string]string{"window": "8", "warmup": "9"}}, ErrBadSpec, "warmup"},
		{"sr not power of two", Spec{Model: "sr", Params: map[string]string{"window": "100"}}, ErrBadSpec, "power of two"},
		{"bad duration", Spec{Model: "seasonal", Params: map[string]string{"period": "soon"}}, ErrBadSpec, "period"},
		{"slots do not divide", Spec{Model: "seasonal", Params: map[string]string{"period": "1h", "slots": "7"}}, ErrBadSpec, "slots"},
		{"ensemble of unknown", Spec{Model: "ensemble", Params: map[string]string{"members": "ewma,nope"}}, ErrUnknownModel, "members"},
		{"ensemble of itself", Spec{Model: "ensemble", Params: map[string]string{"members": "ensemble"}}, ErrBadSpec, "itself"},
		{"direction", Spec{Direction: "sideways"}, ErrBadSpec, "direction"},
		{"min deviation", Spec{MinDeviation: -1}, ErrBadSpec, "min_deviation"},
		{"mode", Spec{Model: "ewma", Threshold: ThresholdSpec{Mode: "magic"}}, ErrBadSpec, "threshold.mode"},
		{"risk", Spec{Model: "ewma", Threshold: ThresholdSpec{Risk: 0.7}}, ErrBadSpec, "threshold.risk"},
		{"fixed without value", Spec{Model: "ewma", Threshold: ThresholdSpec{Mode: "fixed"}}, ErrBadSpec, "threshold.fixed"},
		{"init", Spec{Model: "ewma", Threshold: ThresholdSpec{Init: 3}}, ErrBadSpec, "threshold.init"},
		{"debounce n > m", Spec{Debounce: DebounceSpec{N: 3, M: 2}}, ErrBadSpec, "debounce"},
		{"debounce m too big", Spec{Debounce: DebounceSpec{N: 1, M: 65}}, ErrBadSpec, "debounce"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.spec)
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.msg)
		})
	}
}

func TestInputHandling(t *testing.T) {
	for _, name := range modelNames() {
		t.Run(name, func(t *testing.T) {
			m, err := New(Spec{Model: name})
			require.NoError(t, err)
			vals := signal(400, 11, nil)
			for i, v := range vals {
				m.Observe(baseTs+int64(i)*stepMs, v)
			}
			before, err := m.MarshalBinary()
			require.NoError(t, err)
			last := baseTs + int64(len(vals)-1)*stepMs
			for _, c := range []struct {
				ts int64
				v  float64
			}{
				{last + stepMs, math.NaN()},
				{last + stepMs, math.Inf(1)},
				{last + stepMs, math.Inf(-1)},
				{last, 10},          // duplicate timestamp
				{last - stepMs, 10}, // out of order
				{0, 1e300},          // far in the past
			} {
				res := m.Observe(c.ts, c.v)
				require.True(t, res.Skipped, "%+v", c)
				require.Zero(t, res.Score)
				require.False(t, res.Anomalous)
			}
			after, err := m.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, before, after, "a skipped sample changed the state")
			res := m.Observe(last+stepMs, 10)
			require.False(t, res.Skipped)
		})
	}
}

func TestGapRestartsDebounceAndRun(t *testing.T) {
	m, err := New(Spec{Model: "ewma", Params: clipped, Debounce: DebounceSpec{N: 2, M: 3}})
	require.NoError(t, err)
	vals := signal(400, 5, nil)
	for i, v := range vals {
		m.Observe(baseTs+int64(i)*stepMs, v)
	}
	ts := baseTs + int64(len(vals))*stepMs
	require.False(t, m.Observe(ts, 40).Anomalous) // 1 of 2 needed
	// A gap of a day: the second anomalous point does not pair with the
	// one before the gap.
	ts += 24 * 3600 * 1000
	res := m.Observe(ts, 40)
	require.False(t, res.Skipped)
	require.Greater(t, res.Score, 1.0)
	require.False(t, res.Anomalous)
	require.True(t, m.Observe(ts+stepMs, 40).Anomalous)
}

func TestWarmup(t *testing.T) {
	for _, name := range modelNames() {
		t.Run(name, func(t *testing.T) {
			m, err := New(Spec{Model: name})
			require.NoError(t, err)
			require.Equal(t, Warming, m.Status())
			// Every model warms for at least 16 samples; wild values
			// score 0 while it does.
			for i := range 16 {
				res := m.Observe(baseTs+int64(i)*stepMs, 1e6*float64(i%2))
				require.Equal(t, Warming, res.Status, "sample %d", i)
				require.Zero(t, res.Score)
			}
			m.Reset()
			require.Equal(t, Warming, m.Status())
		})
	}
}

func TestDebounce(t *testing.T) {
	m, err := New(Spec{Model: "ewma", Params: clipped, Threshold: pointwise, Debounce: DebounceSpec{N: 2, M: 3}, LevelShiftAbsorb: -1})
	require.NoError(t, err)
	vals := signal(400, 5, nil)
	for i, v := range vals {
		m.Observe(baseTs+int64(i)*stepMs, v)
	}
	ts := baseTs + int64(len(vals))*stepMs
	seq := []struct {
		v    float64
		want bool
	}{
		{10, false}, {40, false}, {10, false}, {40, true}, {10, false}, {40, true}, {40, true}, {10, true}, {10, false},
	}
	for i, s := range seq {
		res := m.Observe(ts+int64(i)*stepMs, s.v)
		require.Equal(t, s.want, res.Anomalous, "step %d", i)
		require.Equal(t, s.v == 40, res.Score > 1, "step %d", i)
	}
}

func TestDirection(t *testing.T) {
	for _, c := range []struct {
		dir        Direction
		up, down   bool
		infL, infU bool
	}{
		{Both, true, true, false, false},
		{Up, true, false, true, false},
		{Down, false, true, false, true},
	} {
		t.Run(string(c.dir), func(t *testing.T) {
			m, err := New(Spec{Model: "ewma", Params: clipped, Threshold: pointwise, Direction: c.dir})
			require.NoError(t, err)
			vals := signal(400, 5, nil)
			for i, v := range vals {
				m.Observe(baseTs+int64(i)*stepMs, v)
			}
			ts := baseTs + int64(len(vals))*stepMs
			up := m.Observe(ts, 30)
			down := m.Observe(ts+stepMs, -10)
			require.Equal(t, c.up, up.Score > 1)
			require.Equal(t, c.down, down.Score > 1)
			require.Equal(t, c.infL, math.IsInf(up.Lower, -1))
			require.Equal(t, c.infU, math.IsInf(up.Upper, 1))
		})
	}
}

func TestBandMatchesScore(t *testing.T) {
	// The likelihood's band is infinite when the cap keeps any single
	// value from scoring 1; a wider cap makes it finite here.
	for _, th := range []ThresholdSpec{{Mode: "likelihood", Cap: 30}, {Mode: "likelihood", Cap: 30, Tail: TailSkewed}, {Mode: "auto"}} {
		t.Run(th.Mode+"/"+th.Tail, func(t *testing.T) { testBandMatchesScore(t, Spec{Model: "ewma", Threshold: th}) })
	}
}

func testBandMatchesScore(t *testing.T, spec Spec) {
	m, err := New(spec)
	require.NoError(t, err)
	vals := signal(400, 5, nil)
	var res Result
	for i, v := range vals {
		res = m.Observe(baseTs+int64(i)*stepMs, v)
	}
	require.Less(t, res.Lower, res.Expected)
	require.Greater(t, res.Upper, res.Expected)
	// Just inside and just outside the band of the next sample: the band
	// is computed from the state before the sample, like the score.
	c, err := New(spec)
	require.NoError(t, err)
	state, err := m.MarshalBinary()
	require.NoError(t, err)
	ts := baseTs + int64(len(vals))*stepMs
	probe := m.Observe(ts, 10)
	require.NoError(t, c.UnmarshalBinary(state))
	require.Greater(t, c.Observe(ts, probe.Upper+0.01).Score, 1.0)
	require.NoError(t, c.UnmarshalBinary(state))
	require.Less(t, c.Observe(ts, probe.Upper-0.01).Score, 1.0)
}

func TestMinDeviation(t *testing.T) {
	m, err := New(Spec{Model: "ewma", MinDeviation: 50})
	require.NoError(t, err)
	vals := signal(400, 5, nil)
	for i, v := range vals {
		m.Observe(baseTs+int64(i)*stepMs, v)
	}
	ts := baseTs + int64(len(vals))*stepMs
	res := m.Observe(ts, 40) // far beyond the spread, but under 50 away
	require.Less(t, res.Score, 1.0)
	require.Greater(t, m.Observe(ts+stepMs, 70).Score, 1.0)
}

func TestLevelShiftAbsorb(t *testing.T) {
	shift := func(i int, v float64) float64 { return v + 20 }
	vals := signal(onsetRow+300, 9, shift)
	alarmsAfter := func(absorb time.Duration) (firstQuiet int) {
		m, err := New(Spec{Model: "mad", Params: map[string]string{"window": "256"}, Threshold: pointwise, LevelShiftAbsorb: absorb})
		require.NoError(t, err)
		scores := run(t, m, vals)
		require.Greater(t, scores[onsetRow], 1.0)
		last := -1
		for i := onsetRow; i < len(scores); i++ {
			if scores[i] > 1 {
				last = i
			}
		}
		return last - onsetRow
	}
	// 30 one-minute rows of alerts, then the new level is normal.
	require.InDelta(t, 30, alarmsAfter(30*time.Minute), 2)
	// Without absorption the window-based model alerts much longer.
	require.Greater(t, alarmsAfter(-1), 60)
}

// pointwise calibrates each deviation on its own (SPOT): the tests of
// debounce, direction and level-shift absorption follow single samples,
// which the default likelihood would blend with their neighbours.
var pointwise = ThresholdSpec{Mode: "auto"}

// clipped makes ewma robust to the test's own earlier spikes, so the
// tests of the shared calibration see each spike alone.
var clipped = map[string]string{"clip": "4"}

func modelNames() []string {
	var out []string
	for _, m := range Models() {
		out = append(out, m.Name)
	}
	return out
}

func TestSaveRestore(t *testing.T) {
	specs := []Spec{{Debounce: DebounceSpec{N: 2, M: 5}}, {Model: "seasonal", Params: map[string]string{"period": "auto"}}}
	for _, name := range modelNames() {
		specs = append(specs, Spec{Model: name})
	}
	for _, spec := range specs {
		t.Run(spec.Model, func(t *testing.T) {
			ts, vals := daily(3, 2*288, 30)
			a, err := New(spec)
			require.NoError(t, err)
			half := len(vals) / 2
			for i := range vals[:half] {
				a.Observe(ts[i], vals[i])
			}
			state, err := a.MarshalBinary()
			require.NoError(t, err)
			b, err := New(spec)
			require.NoError(t, err)
			require.NoError(t, b.UnmarshalBinary(state))
			again, err := b.MarshalBinary()
			require.NoError(t, err)
			require.True(t, bytes.Equal(state, again), "re-marshalled state differs")
			require.Equal(t, a.Status(), b.Status())
			for i := half; i < len(vals); i++ {
				requireSame(t, a.Observe(ts[i], vals[i]), b.Observe(ts[i], vals[i]), "row %d", i)
			}
			// Reset forgets: a reset model behaves like a new one.
			a.Reset()
			fresh, err := New(spec)
			require.NoError(t, err)
			for i := range vals[:200] {
				requireSame(t, fresh.Observe(ts[i], vals[i]), a.Observe(ts[i], vals[i]), "row %d after reset", i)
			}
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	a, err := New(Spec{Model: "mad"})
	require.NoError(t, err)
	for i, v := range signal(100, 1, nil) {
		a.Observe(baseTs+int64(i)*stepMs, v)
	}
	state, err := a.MarshalBinary()
	require.NoError(t, err)
	other, err := New(Spec{Model: "ewma"})
	require.NoError(t, err)
	require.ErrorIs(t, other.UnmarshalBinary(state), ErrBadState)
	small, err := New(Spec{Model: "mad", Params: map[string]string{"window": "8", "warmup": "4"}})
	require.NoError(t, err)
	require.ErrorIs(t, small.UnmarshalBinary(state), ErrBadState)
	b, err := New(Spec{Model: "mad"})
	require.NoError(t, err)
	for n := range len(state) {
		require.ErrorIs(t, b.UnmarshalBinary(state[:n]), ErrBadState, "truncated to %d", n)
	}
	bad := bytes.Clone(state)
	bad[0] = 99
	require.ErrorIs(t, b.UnmarshalBinary(bad), ErrBadState)
	require.ErrorIs(t, b.UnmarshalBinary(append(bytes.Clone(state), 0)), ErrBadState)
	// The failed restores left b as it was: fresh.
	require.Equal(t, Warming, b.Status())
}

func TestStateSize(t *testing.T) {
	for _, name := range []string{"ewma", "mad", "nsigma", "sr"} {
		m, err := New(Spec{Model: name})
		require.NoError(t, err)
		for i, v := range signal(2000, 1, nil) {
			m.Observe(baseTs+int64(i)*stepMs, v)
		}
		state, err := m.MarshalBinary()
		require.NoError(t, err)
		require.LessOrEqual(t, len(state), 1024, name)
	}
}

// requireSame compares results bit for bit, NaN included.
func requireSame(t *testing.T, want, got Result, msgAndArgs ...any) {
	t.Helper()
	bitsOf := func(r Result) [5]uint64 {
		return [5]uint64{math.Float64bits(r.Score), math.Float64bits(r.Raw), math.Float64bits(r.Expected),
			math.Float64bits(r.Lower), math.Float64bits(r.Upper)}
	}
	require.Equal(t, bitsOf(want), bitsOf(got), msgAndArgs...)
	require.Equal(t, [5]any{want.Anomalous, want.Onset, want.Held, want.Skipped, want.Status},
		[5]any{got.Anomalous, got.Onset, got.Held, got.Skipped, got.Status}, msgAndArgs...)
}

func TestNSigmaParity(t *testing.T) {
	// gala-anteater's rule: anomalous when |x − mean| > n·std of the
	// window, std being the population one (numpy's default).
	m, err := New(Spec{Model: "nsigma", Params: map[string]string{"window": "4", "warmup": "3", "n": "3"}})
	require.NoError(t, err)
	for i, v := range []float64{1, 2, 3, 4} {
		m.Observe(baseTs+int64(i)*stepMs, v)
	}
	std := math.Sqrt(1.25) // of 1, 2, 3, 4
	state, err := m.MarshalBinary()
	require.NoError(t, err)
	for _, c := range []struct {
		v    float64
		want bool
	}{
		{2.5 + 3*std + 1e-9, true}, {2.5 + 3*std - 1e-6, false}, {2.5 - 3*std - 1e-9, true}, {2.5, false},
	} {
		require.NoError(t, m.UnmarshalBinary(state))
		res := m.Observe(baseTs+4*stepMs, c.v)
		require.Equal(t, c.want, res.Anomalous, "%v", c.v)
		require.InDelta(t, math.Abs(c.v-2.5)/(3*std), res.Score, 1e-9)
	}
}
