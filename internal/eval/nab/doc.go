// Package nab evaluates anteater's detectors on the Numenta Anomaly
// Benchmark (NAB) and scores them exactly as NAB does.
//
// The scoring follows NAB 1.x's source (nab/sweeper.py, nab/optimizer.py,
// nab/runner.py) and Lavin & Ahmad 2015:
//
//   - The first min(floor(0.15 × rows), 750) rows of each file are
//     probationary: neither detections nor windows there are scored. A
//     window that lies wholly in it is neither detected nor missed.
//   - Rows scoring at or above the threshold are detections. Within a
//     window only the earliest detection counts, worth
//     A_TP × σ(−(last − i + 1)/len) / σ(−1) where σ(x) = 2/(1+e^(5x)) − 1:
//     exactly A_TP at the window's first row, a little above 0 at its last.
//     Further detections in the window neither add nor cost anything.
//   - A detection outside windows costs A_FP × σ((i − last)/(len − 1))
//     relative to the closest preceding window (little right after it,
//     about −A_FP from three window lengths past its end; σ is −1 beyond
//     x > 3), and the full −A_FP with no preceding window.
//   - Each window with no detection costs A_FN.
//   - One threshold per profile is chosen over the whole corpus. NAB 1.x
//     sweeps every distinct score of the corpus (its old hill climb was
//     replaced); so does this package, exactly. Ties go to the highest
//     threshold, as in NAB.
//   - normalized = 100 × (raw − null)/(perfect − null), null being the
//     detector that never detects (−A_FN per scorable window) and perfect
//     A_TP per labelled window (NAB's runner.normalize), so a detector that
//     fires at each window's first row and nowhere else scores 100.
//
// Where NAB has a bug this package does the sensible thing and says so: a
// detection after a one-row window (NAB divides by zero) costs the full
// −A_FP; window bounds must be timestamps of the file and windows may not
// overlap (NAB would silently stop scoring later windows); the perfect
// score counts the windows of the files present, not of every file in the
// labels.
//
// anteater scores (0 normal, 1.0 the alert threshold, unbounded) become
// NAB's [0, 1] scores through s/(1+s) (MapScore): monotone, so the sweep
// sees the same detections, with the product threshold at 0.5.
//
// A detector may have several outputs (RunAll). `anteater eval nab`
// scores two, from one run of the model: "episode", what anteater
// notifies (Result.Score, but 0 on samples inside the hold-off of an
// episode that already started, Result.Held), and "score", the plain
// Result.Score shown on /metrics. The episode output's hold-offs start at
// the product threshold (score 1.0), so at an optimized threshold below 1
// the rows between that threshold and 1 are not held; the product
// threshold row of its table is the behaviour anteater ships.
package nab
