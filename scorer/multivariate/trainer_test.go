package multivariate

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTrainerSwapsInBackground(t *testing.T) {
	const d = 5
	tr, err := NewTrainer(d, TrainerConfig{Window: 600, MinRows: 200, Every: 300})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		require.NoError(t, tr.Run(ctx))
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	X := synth(20000, d, 5)
	contrib := make([]float64, d)
	seen := map[*Detector]bool{}
	readyAt := -1
	// Rows until three fits were swapped in; on a loaded machine the
	// fitter may need many passes over the data, so the bound is time.
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		row := X[i%len(X)]
		s, ready := tr.Observe(row, contrib)
		if !ready {
			require.Zero(t, s)
			require.Equal(t, -1, readyAt, "ready must not go back to false")
			continue
		}
		if readyAt < 0 {
			readyAt = i
		}
		seen[tr.Current()] = true
		if tr.Fits() >= 3 && len(seen) >= 3 {
			break
		}
		if i%1000 == 0 {
			time.Sleep(time.Millisecond) // let the fitter run on a busy machine
		}
	}
	require.GreaterOrEqual(t, readyAt, 200, "no score before MinRows rows")
	require.GreaterOrEqual(t, tr.Fits(), uint64(3))
	require.GreaterOrEqual(t, len(seen), 3, "the scorer saw the swapped detectors")
	require.Zero(t, tr.Failures())
	require.Equal(t, d, tr.Current().Dims())
}

func TestTrainerRetrainOnRequestAndInstall(t *testing.T) {
	const d = 4
	tr, err := NewTrainer(d, TrainerConfig{Window: 100, MinRows: 50, Interval: time.Hour})
	require.NoError(t, err)
	det := fitted(t, "pca", d)
	require.NoError(t, tr.Install(det))
	require.Error(t, tr.Install(fitted(t, "pca", d+1)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	X := synth(100000, d, 6)
	_, ready := tr.Observe(X[0], nil)
	require.True(t, ready, "an installed detector scores at once")
	tr.Retrain()
	i := 1
	require.Eventually(t, func() bool {
		for range 100 {
			tr.Observe(X[i%len(X)], nil)
			i++
		}
		return tr.Current() != det
	}, 30*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	// Wrong-length rows are refused without touching the window.
	contrib := []float64{1, 1, 1, 1}
	s, ready := tr.Observe([]float64{1}, contrib)
	require.False(t, ready)
	require.Zero(t, s)
	require.Equal(t, []float64{0, 0, 0, 0}, contrib)
}

func TestTrainerConfigErrors(t *testing.T) {
	_, err := NewTrainer(0, TrainerConfig{})
	require.Error(t, err)
	_, err = NewTrainer(3, TrainerConfig{Window: 100, MinRows: 200})
	require.Error(t, err)
	_, err = NewTrainer(3, TrainerConfig{Detector: Config{Model: "nope"}})
	require.ErrorIs(t, err, ErrUnknownModel)
}

// The fitter clears busy when its fit ends, so busy must already be set
// when it receives a window: set after the hand-off, a fit that ended
// first left it set for good and the trainer never fitted again.
func TestTrainerBusyBeforeHandOff(t *testing.T) {
	tr, err := NewTrainer(2, TrainerConfig{Window: 20, MinRows: 10})
	require.NoError(t, err)
	busy := make(chan bool)
	for range 200 {
		go func() {
			buf := <-tr.jobs
			busy <- tr.busy.Load()
			tr.spare <- buf
			tr.busy.Store(false)
		}()
		tr.handOff()
		require.True(t, <-busy, "busy set when the fitter takes the window")
		// The fitter's Store(false) ran; wait for it before the next.
		require.Eventually(t, func() bool { return !tr.busy.Load() }, 10*time.Second, time.Microsecond)
	}
}
