package scorer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// refAt is profile.at as it was before it followed regular steps: two
// divisions per lookup. The phase tracking must match it bit for bit.
func refAt(ts, periodMs int64, n int) (i0, i1 int, f float64) {
	r := ts % periodMs
	if r < 0 {
		r += periodMs
	}
	pos := r * int64(n)
	i0 = int(pos / periodMs)
	f = float64(pos%periodMs) / float64(periodMs)
	i1 = i0 + 1
	if i1 == n {
		i1 = 0
	}
	return i0, i1, f
}

// TestProfilePhase follows timestamps with regular, jittered, irregular,
// repeated, backward and extreme steps, and checks every lookup against
// the division.
func TestProfilePhase(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		periodMs int64
		n        int
	}{
		{day, 96}, {week, weekPoints}, {day, 288}, {day, 7200}, {3_600_000, 4}, {3_600_000, 60},
		{35 * day, 4}, {week, 7}, {day, 10000}, {35 * day, 10080},
	}
	for _, c := range cases {
		p := profile{q: make([]int16, c.n), span: int32(c.periodMs / int64(c.n))}
		p.reset()
		require.Equal(t, c.periodMs, p.period())
		span := c.periodMs / int64(c.n)
		var idx uint16
		ts, last, known := int64(r.IntN(1<<40))-1<<39, int64(0), false
		for i := range 200_000 {
			switch k := r.IntN(100); {
			case k < 60: // a regular step
				ts += []int64{15_000, 60_000, 300_000, span, span - 1, span + 1}[i/1000%6]
			case k < 75:
				ts += int64(r.IntN(int(2 * span)))
			case k < 85:
				ts += int64(r.IntN(int(3 * c.periodMs)))
			case k < 90:
				ts -= int64(r.IntN(int(span)))
			case k < 92:
				ts = []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}[r.IntN(5)]
			case k < 93:
				p.rem = -1 // as after a restore
			}
			dt := uint64(noStep)
			if known && ts >= last {
				dt = uint64(ts - last)
			}
			i0, i1, f := p.at(ts, dt, &idx)
			w0, w1, wf := refAt(ts, c.periodMs, c.n)
			require.Equal(t, w0, i0, "period %d n %d ts %d dt %d", c.periodMs, c.n, ts, dt)
			require.Equal(t, w1, i1)
			require.Equal(t, math.Float64bits(wf), math.Float64bits(f), "ts %d", ts)
			last, known = ts, true
		}
	}
}

// TestRoundQ checks the branch-free rounding against math.Round on
// halves, their neighbours and random values across int16's range.
func TestRoundQ(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var xs []float64
	for i := -qMax + 1; i < qMax-1; i += 97 {
		h := float64(i) + 0.5
		xs = append(xs, float64(i), h, math.Nextafter(h, 0), math.Nextafter(h, math.Inf(1)), math.Nextafter(h, math.Inf(-1)))
	}
	xs = append(xs, 0, math.Copysign(0, -1), 0.49999999999999994, -0.49999999999999994, qMax-1, -(qMax - 1), 1e-300, -1e-300)
	for range 1_000_000 {
		xs = append(xs, (2*r.Float64()-1)*(qMax-1))
	}
	for _, x := range xs {
		require.Equal(t, int16(math.Round(x)), roundQ(x), "%v", x)
	}
}

// TestSeasonalRates checks the cached learning rates against the
// expression Update used to evaluate every sample, bit for bit, on
// regular, jittered, gapped, repeated and backward steps, across the
// profiles' first periods and a restore.
func TestSeasonalRates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, params := range []map[string]string{nil, {"period": "1h", "slots": "60"}, {"gamma": "0.05"}} {
		d, err := New(Spec{Model: "seasonal", Params: params})
		require.NoError(t, err)
		m := d.(*detector).core.(*seasonal)
		ts := int64(1_700_000_000_000)
		for i := range 60_000 {
			switch k := r.IntN(100); {
			case k < 80:
				ts += 300_000
			case k < 90:
				ts += 300_000 + int64(r.IntN(3)-1)*1000
			case k < 94:
				ts += int64(r.IntN(20)) * 300_000
			case k < 97:
				ts -= int64(r.IntN(600_000))
			case k < 98 && i > 0:
				state, err := m.AppendBinary(nil)
				require.NoError(t, err)
				require.NoError(t, m.UnmarshalBinary(state))
			}
			m.Update(ts, 10+float64(i%288)+r.NormFloat64())
			step := fmax(m.stepMs, 1)
			for j, p := range []*profile{&m.main, &m.week} {
				if j == 1 && !m.p.auto {
					continue
				}
				rate := m.p.gamma
				if m.last-m.first < p.period() {
					rate = 1
				}
				want := rate / fmax(float64(p.period())/float64(len(p.q))/step, 1e-3)
				require.Equal(t, math.Float64bits(want), math.Float64bits(m.rates[j]), "sample %d profile %d", i, j)
			}
		}
	}
}

// at returns the two points around ts and the weight of the second: see
// look, which finds them.
func (p *profile) at(ts int64, dt uint64, idx *uint16) (i0, i1 int, f float64) {
	var l place
	p.look(&l, ts, dt, idx)
	return l.i0, l.i1, l.f
}
