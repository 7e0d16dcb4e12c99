//go:build !amd64 || purego

package scorer

// slideRun is slideRunGo where there is no vector version.
func slideRun(y, t0, t1, t2 []float32, d0, dm, dl float32) float32 {
	return slideRunGo(y, t0, t1, t2, d0, dm, dl)
}
