//go:build !amd64 || purego

package scorer

// stagePair is stagePairGo where there is no vector version.
func (f *fft) stagePair(x []complex128, half int) { f.stagePairGo(x, half) }
