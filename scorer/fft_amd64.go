//go:build amd64 && !purego

package scorer

// stagePair is stagePairGo with each complex value as one SSE2 vector:
// the same IEEE products and sums in the same order (see fft.stv), so
// the same bits (TestStagePairMatchesGo). Its butterflies are most of
// a refresh's two FFTs.
func (f *fft) stagePair(x []complex128, half int) {
	if len(x) < 4*half || half < 1 {
		panic("scorer: stagePair out of range") // unreachable: stages' sizes
	}
	_ = f.stv[4*(4*half)-1]
	stagePairSSE(&x[0], len(x), half, &f.stv[0])
}

// stagePairSSE is stagePair on x[:n], tw being fft.stv.
//
//go:noescape
func stagePairSSE(x *complex128, n, half int, tw *float64)
