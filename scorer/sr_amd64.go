//go:build amd64 && !purego

package scorer

// slideRun is slideRunGo with the updates four points at a time in SSE
// (every amd64 has it), the one loop of sr's per-sample work that Go's
// scalar code makes long: z points of three products each. The
// products and sums are the same IEEE operations in the same order, so
// the results are slideRunGo's bit for bit (TestSlideRunMatchesGo).
func slideRun(y, t0, t1, t2 []float32, d0, dm, dl float32) float32 {
	n := len(y)
	if n == 0 {
		return 0
	}
	_, _, _ = t0[n-1], t1[n-1], t2[n-1]
	return slideRunSSE(&y[0], n, &t0[0], &t1[0], &t2[0], d0, dm, dl)
}

// slideRunSSE is slideRun on y[:n] and the taps t0[:n], t1[:n], t2[:n].
//
//go:noescape
func slideRunSSE(y *float32, n int, t0, t1, t2 *float32, d0, dm, dl float32) float32
