package scorer

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkObserve measures every registered model on a noisy daily
// series: ns/sample, allocations (must be 0) and the saved state size.
func BenchmarkObserve(b *testing.B) {
	const n = 1 << 14
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = 50 + 10*float64(i%288)/288 + r.NormFloat64()
	}
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
		})
	}
}
