package nab

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a fake detector: its score is the sample's value, and it checks
// that rows arrive in order on a fresh detector.
type echo struct {
	t      *testing.T
	lastTS int64
	n      int
}

func (e *echo) Observe(ts int64, v float64) float64 {
	if e.n > 0 && ts <= e.lastTS {
		e.t.Errorf("row %d: timestamp %d not after %d", e.n, ts, e.lastTS)
	}
	e.lastTS = ts
	e.n++
	return v
}

func valuesCorpus(files, rows int) *Corpus {
	c := &Corpus{}
	for i := range files {
		f := testFile(string(rune('a'+i)), rows)
		for r := range f.Values {
			f.Values[r] = float64(r % 4) // scores 0, 1, 2, 3 → 0, 0.5, 2/3, 0.75
		}
		c.Files = append(c.Files, f)
	}
	return c
}

func TestRun(t *testing.T) {
	c := valuesCorpus(5, 30)
	var made atomic.Int32
	var progress bytes.Buffer
	scores, err := Run(context.Background(), c, func() (Detector, error) {
		made.Add(1)
		return &echo{t: t}, nil
	}, 3, &progress)
	require.NoError(t, err)
	require.Equal(t, int32(5), made.Load(), "one detector per file")
	require.Len(t, scores, 5)
	for _, s := range scores {
		require.Len(t, s, 30)
		require.Equal(t, []float64{0, 0.5, 2.0 / 3, 0.75}, s[:4])
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	require.Len(t, lines, 5)
	require.Contains(t, lines[4], "nab: scored 5/5 cat/")
}

func TestRunFactoryError(t *testing.T) {
	c := valuesCorpus(8, 10)
	boom := errors.New("boom")
	var calls atomic.Int32
	_, err := Run(context.Background(), c, func() (Detector, error) {
		if calls.Add(1) == 3 {
			return nil, boom
		}
		return &echo{t: t}, nil
	}, 2, nil)
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "creating detector")
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, valuesCorpus(4, 10), func() (Detector, error) { return &echo{t: t}, nil }, 0, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// twice is a two-output detector: the value, and the value doubled.
type twice struct{}

func (twice) ObserveAll(_ int64, v float64, out []float64) { out[0], out[1] = v, 2*v }

func TestRunAll(t *testing.T) {
	c := valuesCorpus(3, 8)
	out, err := RunAll(context.Background(), c, func() (MultiDetector, error) { return twice{}, nil }, 2, 2, nil)
	require.NoError(t, err)
	require.Len(t, out, 2)
	for k, want := range [][]float64{{0, 0.5, 2.0 / 3, 0.75}, {0, 2.0 / 3, 0.8, 6.0 / 7}} {
		require.Len(t, out[k], 3)
		for _, s := range out[k] {
			require.Len(t, s, 8)
			require.InDeltaSlice(t, want, s[:4], 1e-12, "output %d", k)
		}
	}
	_, err = RunAll(context.Background(), c, func() (MultiDetector, error) { return twice{}, nil }, 0, 1, nil)
	require.Error(t, err)
}
