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
		"counts/1d":             0xbe9651c8e9d2dce4,
		"counts/1d-144":         0x100bd3e37df48a75,
		"counts/auto-thr":       0x48aa68afdb43a399,
		"counts/default":        0x221e71b552d58daf,
		"counts/ewma":           0x9f98d527877eb757,
		"counts/mad":            0xf7b3e01559e6de6c,
		"counts/nsigma":         0x93fc4c7b596a1b00,
		"counts/slots":          0x4d57bcd529a7db48,
		"counts/sr":             0xf89e3da520f64fbd,
		"daily/1d":              0x71e3e2fe25ad3cbe,
		"daily/1d-144":          0x4e37c9bf9b25cc4f,
		"daily/auto-thr":        0xe4bcdc370c769ea7,
		"daily/default":         0x89f500a08dcdd4d,
		"daily/ewma":            0xf4ae01a5bf2df09,
		"daily/mad":             0xe4f717d4996d28cc,
		"daily/nsigma":          0xe54cb9450e03cc0c,
		"daily/slots":           0xc8769875fea199c3,
		"daily/sr":              0xc4f5288cff663159,
		"walk/1d":               0x8e281c55105350f8,
		"walk/1d-144":           0x746ec991dec1b36a,
		"walk/auto-thr":         0xf24d4d23e4f9550a,
		"walk/default":          0x40d5fc48264fdb2a,
		"walk/ewma":             0x58e77709c6bda06c,
		"walk/mad":              0xa9ab8a1ec8d951,
		"walk/nsigma":           0x873c976c37fe8a25,
		"walk/slots":            0x77da9065e0e5ec03,
		"walk/sr":               0xa99b51b7b8c54173,
		"weekly-shift/1d":       0x5d94f3ae3eaa69dd,
		"weekly-shift/1d-144":   0xf50f66e136cf4225,
		"weekly-shift/auto-thr": 0x3430d310c429e8ac,
		"weekly-shift/default":  0xdb366e3b2773fada,
		"weekly-shift/ewma":     0x8cbbf40d0b3cb34d,
		"weekly-shift/mad":      0x886243e5be383c49,
		"weekly-shift/nsigma":   0x81e2b90e16763c55,
		"weekly-shift/slots":    0x475be0ad8932b8c3,
		"weekly-shift/sr":       0x98fa26a032032c49,
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
	// 888 + the 8-byte header of a large object with pointers = 896.
	require.LessOrEqual(t, unsafe.Sizeof(seasonal{}), uintptr(888))
	require.LessOrEqual(t, unsafe.Sizeof(detector{}), uintptr(352))
	m, err := New(Spec{})
	require.NoError(t, err)
	s := m.(*detector).core.(*seasonal)
	require.Same(t, &s.qbuf[0], &s.week.q[0], "the weekly profile lives in the model")
	require.Same(t, &s.qbuf[weekPoints], &s.main.q[0], "the daily profile lives in the model")
}
