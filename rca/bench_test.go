package rca

import (
	"context"
	"testing"
)

// BenchmarkRank ranks one incident of 500 candidate series × 600 points,
// the size the service bounds an incident to, with the default methods.
func BenchmarkRank(b *testing.B) {
	for _, m := range append([]string{"default"}, Methods...) {
		b.Run(m, func(b *testing.B) {
			opts := Options{}
			if m != "default" {
				opts.Methods = []string{m}
			}
			e, err := NewEngine(opts)
			if err != nil {
				b.Fatal(err)
			}
			sc := newScenario(1, 600, 500, 4, 495)
			if len(sc.problem.Candidates) != 500 {
				b.Fatalf("%d candidates", len(sc.problem.Candidates))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Rank(ctx, sc.problem); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
