package scorer

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSeasonalGolden pins the default model's (and, through the shared
// calibration, the other models') every output, bit for bit,
// on seeded signals: layout and memory changes must not move a single
// result. The hashes were recorded from the model before such changes.
func TestSeasonalGolden(t *testing.T) {
	const n = 20_000
	signals := map[string]func(r *rand.Rand, i int) float64{
		"daily": func(r *rand.Rand, i int) float64 {
			v := 50 + 10*math.Sin(2*math.Pi*float64(i%288)/288) + r.NormFloat64()
			if i%5000 == 4000 {
				v += 40
			}
			return v
		},
		"weekly-shift": func(r *rand.Rand, i int) float64 {
			v := 100 + 5*math.Sin(2*math.Pi*float64(i%288)/288) + 2*r.NormFloat64()
			if (i/288)%7 >= 5 {
				v -= 30
			}
			if i > 12_000 {
				v += 25
			}
			return v
		},
		"counts": func(r *rand.Rand, i int) float64 {
			return float64(r.IntN(6) + 3*(i%288)/100)
		},
		"walk": func(r *rand.Rand, i int) float64 {
			return float64(i%97) + 0.1*r.NormFloat64()*float64(i%13)
		},
	}
	specs := map[string]Spec{
		"default":  {},
		"1d":       {Model: "seasonal", Params: map[string]string{"period": "1d"}},
		"slots":    {Model: "seasonal", Params: map[string]string{"slots": "288"}},
		"1d-144":   {Model: "seasonal", Params: map[string]string{"period": "1d", "slots": "144"}},
		"auto-thr": {Model: "seasonal", Threshold: ThresholdSpec{Mode: "auto"}, Debounce: DebounceSpec{N: 2, M: 3}},
		"ewma":     {Model: "ewma"},
		"mad":      {Model: "mad"},
		"nsigma":   {Model: "nsigma"},
		"sr":       {Model: "sr"},
	}
	want := map[string]uint64{
		"counts/1d":             0xf5ef582fdc466852,
		"counts/1d-144":         0xc61ee7b2b45b6285,
		"counts/auto-thr":       0x9a585d91574cd341,
		"counts/default":        0x5ab6d79078aca48b,
		"counts/ewma":           0x3962ccc9a777965d,
		"counts/mad":            0x27ffb1070442bf41,
		"counts/nsigma":         0x8acf8c31f6441f2,
		"counts/slots":          0xcde3aef1d5e495c7,
		"counts/sr":             0x89eaa3444d903f07,
		"daily/1d":              0xa630a1a3a3c9efeb,
		"daily/1d-144":          0xdfe567139bcd7a2e,
		"daily/auto-thr":        0xe1238c8e14ca252d,
		"daily/default":         0x61600ce88d5e4d68,
		"daily/ewma":            0xef65336bdfb772f,
		"daily/mad":             0x33f81611588e7588,
		"daily/nsigma":          0xecfdce0502c369a,
		"daily/slots":           0x217b52865fc9f682,
		"daily/sr":              0x755facaddb1e1875,
		"walk/1d":               0xafbbc1fa763f1099,
		"walk/1d-144":           0x4b5274ecc1383b67,
		"walk/auto-thr":         0xcb26de8146c17d7d,
		"walk/default":          0x70eae3296773a555,
		"walk/ewma":             0x967f12a7c108eece,
		"walk/mad":              0xb40e930c07ee172b,
		"walk/nsigma":           0xda6c9b2a7a9565f3,
		"walk/slots":            0xa2971dbbae6e9e9a,
		"walk/sr":               0xe8cbcbe80529c26c,
		"weekly-shift/1d":       0xe759121cf82da41c,
		"weekly-shift/1d-144":   0xe09ae7767ec4305f,
		"weekly-shift/auto-thr": 0x67d3c1f88e2ede2c,
		"weekly-shift/default":  0x3d6d01cefff1cd0d,
		"weekly-shift/ewma":     0xabffbdd5088499ba,
		"weekly-shift/mad":      0xd59b29a78d704f31,
		"weekly-shift/nsigma":   0xd50a1c1802ee7bb,
		"weekly-shift/slots":    0xfb0fdc668dd6bded,
		"weekly-shift/sr":       0x999a01cc56ba40c9,
	}
	got := map[string]uint64{}
	for sname, sig := range signals {
		for pname, spec := range specs {
			m, err := New(spec)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(7, uint64(len(sname))))
			h := fnv.New64a()
			var buf []byte
			ts := int64(1_700_000_000_000)
			for i := range n {
				// Mostly 5-minute steps, some jitter and a gap.
				ts += 300_000 + int64(r.IntN(3)-1)*1000
				if i == 9000 {
					ts += 6 * 3_600_000
				}
				res := m.Observe(ts, sig(r, i))
				buf = buf[:0]
				for _, f := range []float64{res.Score, res.Raw, res.Expected, res.Lower, res.Upper} {
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
				}
				buf = append(buf, b2u(res.Anomalous), b2u(res.Onset), b2u(res.Held), b2u(res.Skipped), uint8(res.Status))
				h.Write(buf)
			}
			state, err := m.MarshalBinary()
			require.NoError(t, err)
			h.Write(state)
			got[sname+"/"+pname] = h.Sum64()
		}
	}
	for k, v := range got {
		t.Logf("%q: %#x,", k, v)
	}
	require.Equal(t, want, got)
}

// TestDetectorSharesSettings checks that series of one spec share their
// settings but never their learnt state.
func TestDetectorSharesSettings(t *testing.T) {
	newDet := func(spec Spec) *detector {
		m, err := New(spec)
		require.NoError(t, err)
		return m.(*detector)
	}
	a, b := newDet(Spec{}), newDet(Spec{})
	c := newDet(Spec{Threshold: ThresholdSpec{Risk: 1e-3}})
	require.Same(t, a.p, b.p)
	require.NotSame(t, a.p, c.p)
	require.Equal(t, 1e-3, c.p.lk.logRisk/math.Log(1e-3)*1e-3)
	require.NotSame(t, &a.lk.ring[0], &b.lk.ring[0])
	a.Observe(1, 5)
	require.True(t, a.hasLast)
	require.False(t, b.hasLast)
}

// TestWeightOf checks the division-free weight against its definition,
// bit for bit, around the switch-over and far beyond it.
func TestWeightOf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphas := []float64{1, 0.5, 0.3, 0.2, 0.1, 1.0 / 3, 0.002, 1e-3, 1.0 / 256, 1e-6}
	for range 200 {
		alphas = append(alphas, math.Exp(-r.Float64()*math.Log(1e6)))
	}
	for _, alpha := range alphas {
		w := newWeightOf(alpha)
		for _, n := range []int{1, 2, 3, w.from - 2, w.from - 1, w.from, w.from + 1, w.from + 2, 10 * w.from, math.MaxInt32} {
			if n < 1 {
				continue
			}
			want := max(alpha, 1/float64(n))
			require.Equal(t, math.Float64bits(want), math.Float64bits(w.at(n)), "alpha %g n %d", alpha, n)
		}
	}
}

// TestResidentLayout keeps the default model within its allocation size
// classes (see BenchmarkObserve's heap-bytes): a field added to seasonal
// or detector that crosses a class costs every series 128 bytes or more.
func TestResidentLayout(t *testing.T) {
	// 880 (888 would still fit: + the 8-byte header of a large object
	// with pointers = 896, the size class).
	require.LessOrEqual(t, unsafe.Sizeof(seasonal{}), uintptr(880))
	require.LessOrEqual(t, unsafe.Sizeof(detector{}), uintptr(352))
	m, err := New(Spec{})
	require.NoError(t, err)
	s := m.(*detector).core.(*seasonal)
	require.Same(t, &s.qbuf[0], &s.week.q[0], "the weekly profile lives in the model")
	require.Same(t, &s.qbuf[weekPoints], &s.main.q[0], "the daily profile lives in the model")
}
