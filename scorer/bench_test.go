package scorer

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkObserve measures every registered model on a noisy daily
// series: ns/sample, allocations (must be 0) and the saved state size.
func BenchmarkObserve(b *testing.B) {
	vals := benchValues()
	n := len(vals)
	for _, name := range modelNames() {
		b.Run(name, func(b *testing.B) {
			m, err := New(Spec{Model: name})
			if err != nil {
				b.Fatal(err)
			}
			// Warm up past every model's warm-up so the loop measures
			// scoring, not warming.
			ts := int64(0)
			for i := range 2 * n {
				ts += 300_000
				m.Observe(ts, vals[i%n])
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				ts += 300_000
				m.Observe(ts, vals[i%n])
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
			state, err := m.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(state)), "state-bytes")
			b.ReportMetric(residentBytes(b, Spec{Model: name}), "heap-bytes")
		})
	}
}

// BenchmarkCore measures each core's Update alone, without the
// detector's calibration: the share of BenchmarkObserve a core owns.
func BenchmarkCore(b *testing.B) {
	vals := benchValues()
	n := len(vals)
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

// benchValues is the benchmarks' series: a daily ramp of 5-minute
// samples with Gaussian noise.
func benchValues() []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 1<<14)
	for i := range vals {
		vals[i] = 50 + 10*float64(i%288)/288 + r.NormFloat64()
	}
	return vals
}

// residentBytes measures the heap a model of spec holds: every buffer is
// allocated by New, so the heap growth over many fresh models, divided by
// their number, is one series' resident size.
func residentBytes(b *testing.B, spec Spec) float64 {
	const n = 512
	models := make([]Model, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range models {
		m, err := New(spec)
		if err != nil {
			b.Fatal(err)
		}
		models[i] = m
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(models)
	return float64(after.HeapAlloc-before.HeapAlloc) / n
}
