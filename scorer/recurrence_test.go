package scorer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// cronSeries is ten days of 5-minute rows of a noisy daily cycle with a
// 1-row job spike every night at 03:00, jittered by up to ±20 minutes;
// extra adds spikes at other rows.
func cronSeries(size float64, extra map[int]float64) (ts []int64, vals []float64, jobs []int) {
	const perDay = int(day / (5 * 60_000))
	r := rand.New(rand.NewPCG(7, 11))
	for d := range 10 {
		job := d*perDay + 36 + r.IntN(9) - 4 // 03:00 ± 4 rows
		jobs = append(jobs, job)
	}
	for i := range 10 * perDay {
		v := 50 + 10*math.Sin(2*math.Pi*float64(i%perDay)/float64(perDay)) + r.NormFloat64()
		for _, j := range jobs {
			if i == j {
				v += size
			}
		}
		v += extra[i]
		ts = append(ts, int64(i)*5*60_000)
		vals = append(vals, v)
	}
	return ts, vals, jobs
}

func TestRecurrence(t *testing.T) {
	const perDay = int(day / (5 * 60_000))
	score := func(t *testing.T, params map[string]string, ts []int64, vals []float64) []float64 {
		t.Helper()
		m, err := New(Spec{Model: "seasonal", Params: params, HoldOff: -1})
		require.NoError(t, err)
		out := make([]float64, len(vals))
		for i := range vals {
			out[i] = m.Observe(ts[i], vals[i]).Score
		}
		return out
	}

	t.Run("a nightly job stops alerting once it has recurred", func(t *testing.T) {
		ts, vals, jobs := cronSeries(30, nil)
		on := score(t, nil, ts, vals)
		off := score(t, map[string]string{"recurring": "false"}, ts, vals)
		// In its first week the calibration's tail still holds the
		// warm-up's deviations; by the last two nights a 30σ spike
		// alerts, unless it is known to recur.
		for _, j := range jobs[8:] {
			require.Greater(t, off[j], 1.0, "without recurrence, the job at row %d alerts", j)
			require.Less(t, on[j], 1.0, "the job at row %d recurs", j)
		}
	})

	t.Run("what is new still alerts", func(t *testing.T) {
		noon := 8*perDay + perDay/2
		_, _, jobs := cronSeries(30, nil)
		big := jobs[9] // the tenth night's job, twice as large (×2 > 1.5)
		ts, vals, _ := cronSeries(30, map[int]float64{noon: 30, big: 30})
		on := score(t, nil, ts, vals)
		require.Greater(t, on[noon], 1.0, "a spike at noon never happened before")
		require.Greater(t, on[big], 1.0, "the job took the series twice as far as usual")
	})

	t.Run("a bursty day is no evidence", func(t *testing.T) {
		var r recurrence
		at := func(d, slot int) int64 { return int64(d)*day + int64(slot)*slotMs }
		// Two days with excursions in every fourth slot, 12 each.
		for d := range 2 {
			for s := 0; s < recurSlots; s += 4 {
				r.damp(at(d, s), 6)
			}
		}
		require.Equal(t, 6.0, r.damp(at(2, 8), 6), "bursty days: not damped")

		var q recurrence
		for d := range 2 {
			q.damp(at(d, 8), 6)
		}
		require.Equal(t, recurBase, q.damp(at(2, 9), 6), "a neighbouring slot on two quiet days: damped")
		require.Equal(t, -6.0, q.damp(at(2, 9)+1, -6), "the other sign did not recur")
		require.Equal(t, 10.0, q.damp(at(2, 9)+2, 10), "beyond 1.5× the recurring size")
		require.Equal(t, 6.0, q.damp(at(2, 20), 6), "another time of day")
		// A gap longer than the memory forgets it.
		require.Equal(t, 6.0, q.damp(at(9, 8), 6))
	})

	t.Run("a day is busy beyond recurFracSlots slots", func(t *testing.T) {
		at := func(d, slot int) int64 { return int64(d)*day + int64(slot)*slotMs }
		for _, c := range []struct {
			slots  int
			damped bool
		}{{recurFracSlots, true}, {recurFracSlots + 1, false}} {
			var r recurrence
			for d := range 2 {
				for k := range c.slots {
					r.damp(at(d, 8+4*k), 6) // slot 8 and others far from it
				}
			}
			got := r.damp(at(2, 8), 6)
			require.Equal(t, c.damped, got == recurBase, "%d slots a day", c.slots)
		}
	})

	t.Run("corrupt state is refused", func(t *testing.T) {
		var r recurrence
		r.damp(5*slotMs, 6)
		var e enc
		r.encode(&e)
		bad := append([]byte(nil), e.b...)
		bad[1+4+1] = recurSlots // the first pair's slot
		var x recurrence
		d := dec{b: bad}
		x.decode(&d)
		require.Error(t, d.finish())
		bad = append([]byte(nil), e.b...)
		bad[1+4] = recurBusy + 1 // the first day's count
		d = dec{b: bad}
		x.decode(&d)
		require.Error(t, d.finish())
	})

	t.Run("state round trip", func(t *testing.T) {
		var r recurrence
		for d := range 3 {
			r.damp(int64(d)*day+5*slotMs, 4+float64(d))
			r.damp(int64(d)*day+30*slotMs, -7)
		}
		var e enc
		r.encode(&e)
		var back recurrence
		d := dec{b: e.b}
		back.decode(&d)
		require.NoError(t, d.finish())
		require.Equal(t, r.days, back.days)
		ts := 3*day + 30*slotMs
		require.Equal(t, r.damp(ts, -7), back.damp(ts, -7))

		for n := range len(e.b) {
			var x recurrence
			d := dec{b: e.b[:n]}
			x.decode(&d)
			require.Error(t, d.finish(), "truncated at %d", n)
		}
	})

	t.Run("levels", func(t *testing.T) {
		require.Zero(t, recurLevel(2.9))
		require.Zero(t, recurLevel(math.NaN()))
		require.EqualValues(t, 1, recurLevel(recurMin))
		require.EqualValues(t, 15, recurLevel(1e9))
		for l := uint8(1); l <= 15; l++ {
			require.Equal(t, l, recurLevel(recurFloor(l)*1.0001), "level %d", l)
		}
	})
}
