package multivariate

import (
	"testing"
)

// BenchmarkScore measures online scoring of 38-dimensional rows (SMD's
// width) with contributions, reporting rows/s per core. Every detector
// also runs the default attribution-only model (tail@diff).
func BenchmarkScore(b *testing.B) {
	const d = 38
	test := testSet(d)
	for _, model := range append(Names(), "pca+autoencoder", "pca+tail", "pca@both+tail") {
		b.Run(model, func(b *testing.B) {
			det := fitted(b, model, d)
			contrib := make([]float64, d)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				det.Score(test[i%len(test)], contrib)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
