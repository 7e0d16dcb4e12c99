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
		"counts/1d":             0xb613261905c89fa,
		"counts/1d-144":         0xe42f3996397fc8bc,
		"counts/auto-thr":       0x281f9d82ed6ee6c4,
		"counts/default":        0x1930188ea0059a2a,
		"counts/ewma":           0xb1e09ebae45d20e2,
		"counts/mad":            0x895819cf205aa973,
		"counts/nsigma":         0x40727154cadca265,
		"counts/slots":          0xe5e9f285a88c1f3a,
		"counts/sr":             0x383cb63aa99eadf,
		"daily/1d":              0x1b0daf7a3f3bb39,
		"daily/1d-144":          0xe59c09f2ea75bddc,
		"daily/auto-thr":        0xa6aa4a87dac787f0,
		"daily/default":         0x8d114badd01347d6,
		"daily/ewma":            0xbfbd9af3af7f518c,
		"daily/mad":             0xc1e0c0d9e8a687ab,
		"daily/nsigma":          0x41c7d7247fc00d01,
		"daily/slots":           0x82aad73bd7f22fd0,
		"daily/sr":              0xf149aab98438c604,
		"walk/1d":               0x92b79b551e363d4c,
		"walk/1d-144":           0x159b4bc2e0a00de4,
		"walk/auto-thr":         0x17809595324c87f0,
		"walk/default":          0x3ec21939374302d0,
		"walk/ewma":             0xf21fb5b04e29927d,
		"walk/mad":              0x45037c9bd5abf962,
		"walk/nsigma":           0xa5dd9cfc7ab3a4c0,
		"walk/slots":            0xe29b97f0bffae2c3,
		"walk/sr":               0xb758d15ee3e4360a,
		"weekly-shift/1d":       0xe414cc8a9928221a,
		"weekly-shift/1d-144":   0x76efa0f7bb8d55f5,
		"weekly-shift/auto-thr": 0x4e896d2b3c778a55,
		"weekly-shift/default":  0x655edcbcaef1f3cf,
		"weekly-shift/ewma":     0x5256461897964e28,
		"weekly-shift/mad":      0xb8042b8d76f3a5ce,
		"weekly-shift/nsigma":   0xcc7ba458724f8d10,
		"weekly-shift/slots":    0xd5e48f3b464fe77e,
		"weekly-shift/sr":       0x4079358d09bd6275,
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
