package scorer

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkCore measures each core's Update alone, without the
// detector's calibration: the share of BenchmarkObserve a core owns.
func BenchmarkCore(b *testing.B) {
	const n = 1 << 14
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = 50 + 10*float64(i%288)/288 + r.NormFloat64()
	}
	for _, name := range modelNames() {
		b.Run(name, func(b *testing.B) {
			c, err := newCore(name, nil)
			if err != nil {
				b.Fatal(err)
			}
			ts := int64(0)
			for i := range 2 * n {
				ts += 300_000
				c.Update(ts, vals[i%n])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ts += 300_000
				c.Update(ts, vals[i%n])
				i++
			}
		})
	}
}

// BenchmarkWindowPush compares mad's window with the shared one.
func BenchmarkWindowPush(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 1<<12)
	for i := range vals {
		vals[i] = r.NormFloat64()
	}
	b.Run("sortedRing", func(b *testing.B) {
		w := newSortedRing(64)
		i := 0
		for b.Loop() {
			med := w.median()
			_ = w.madAt(med)
			w.push(vals[i&(len(vals)-1)])
			i++
		}
	})
	b.Run("window", func(b *testing.B) {
		w := newWindow(64)
		i := 0
		for b.Loop() {
			med := w.median()
			_ = w.mad(med)
			w.push(vals[i&(len(vals)-1)])
			i++
		}
	})
}
