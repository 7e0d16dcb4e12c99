package nab

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Detector scores one series online, one row at a time.
type Detector interface {
	// Observe returns the anomaly score of a sample in anteater's
	// convention: 0 normal, 1.0 the alert threshold, unbounded above,
	// 0 while warming up. ts is in Unix milliseconds.
	Observe(ts int64, v float64) float64
}

// Factory makes a fresh detector; Run calls it once per file, so no state
// leaks from one file to the next.
type Factory func() (Detector, error)

// MultiDetector gives several scores per row, in anteater's convention,
// from one pass of one model: e.g. the plain score and the score of the
// episode output (see package doc). out has one slot per output.
type MultiDetector interface {
	ObserveAll(ts int64, v float64, out []float64)
}

// MultiFactory makes a fresh MultiDetector per file.
type MultiFactory func() (MultiDetector, error)

// single adapts a Detector to a MultiDetector of one output.
type single struct{ d Detector }

func (s single) ObserveAll(ts int64, v float64, out []float64) { out[0] = s.d.Observe(ts, v) }

// Run scores every file of the corpus with a fresh detector, observing the
// rows in order, on workers goroutines (GOMAXPROCS when workers < 1). The
// result is aligned with c.Files and holds NAB [0, 1] scores (MapScore of
// the detector's). When progress is not nil, one line per finished file is
// written to it. The first error, or ctx's end, stops the run.
func Run(ctx context.Context, c *Corpus, newDetector Factory, workers int, progress io.Writer) ([][]float64, error) {
	out, err := RunAll(ctx, c, func() (MultiDetector, error) {
		d, err := newDetector()
		return single{d}, err
	}, 1, workers, progress)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// RunAll is Run for a detector with several outputs: out[k][i][r] is the
// NAB score of output k at row r of c.Files[i].
func RunAll(ctx context.Context, c *Corpus, newDetector MultiFactory, outputs, workers int, progress io.Writer) ([][][]float64, error) {
	if outputs < 1 {
		return nil, fmt.Errorf("nab: %d outputs: need at least one", outputs)
	}
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(c.Files))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	out := make([][][]float64, outputs)
	for k := range out {
		out[k] = make([][]float64, len(c.Files))
	}
	jobs := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards done and progress
		done int
	)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				scores, err := runFile(ctx, c.Files[i], newDetector, outputs)
				if err != nil {
					cancel(err)
					return
				}
				for k := range out {
					out[k][i] = scores[k]
				}
				mu.Lock()
				done++
				if progress != nil {
					fmt.Fprintf(progress, "nab: scored %d/%d %s (%d rows)\n", done, len(c.Files), c.Files[i].Name, c.Files[i].Rows())
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range c.Files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// runFile scores one file. It checks ctx every few thousand rows so that
// an interrupt does not wait for a slow model to finish a long file.
func runFile(ctx context.Context, f *File, newDetector MultiFactory, outputs int) ([][]float64, error) {
	d, err := newDetector()
	if err != nil {
		return nil, fmt.Errorf("%s: creating detector: %w", f.Name, err)
	}
	scores := make([][]float64, outputs)
	for k := range scores {
		scores[k] = make([]float64, f.Rows())
	}
	row := make([]float64, outputs)
	for i, ts := range f.Timestamps {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		d.ObserveAll(ts, f.Values[i], row)
		for k, s := range row {
			scores[k][i] = MapScore(s)
		}
	}
	return scores, nil
}
