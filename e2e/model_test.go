package e2e

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/scorer"
)

// The demo injects a fault a minute after a fresh start and needs the
// score above 1 within seconds and for as long as the alert takes (score
// and ratio for `for: 1m`, then Alertmanager and rca). Every demo job is
// fed a noisy baseline and a lasting step of three min_deviations.
func TestDemoJobsReactInTime(t *testing.T) {
	c, err := config.LoadFile(filepath.Join("..", "scripts", "demo", "anteater.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, c.Jobs)
	step := time.Duration(c.Step)
	const (
		baseline = time.Minute     // the demo's warm-up
		hold     = 3 * time.Minute // longer than score → alert → events
	)
	for _, j := range c.Jobs {
		t.Run(j.Name, func(t *testing.T) {
			m, err := scorer.New(j.Spec)
			require.NoError(t, err)
			jump := 3 * j.Spec.MinDeviation
			noise := j.Spec.MinDeviation / 10
			r := rand.New(rand.NewPCG(7, uint64(len(j.Name))))
			base := 10 * j.Spec.MinDeviation
			ts := time.Unix(1_700_000_000, 0)
			for i := 0; ts.Add(time.Duration(i) * step).Before(ts.Add(baseline)); i++ {
				res := m.Observe(ts.Add(time.Duration(i)*step).UnixMilli(), base+noise*r.NormFloat64())
				require.LessOrEqual(t, res.Score, 1.0, "baseline sample %d scores above 1", i)
			}
			require.Equal(t, scorer.Ready, m.Status(), "ready within the warm-up")
			start := ts.Add(baseline)
			first := -1
			for i := 0; time.Duration(i)*step < hold; i++ {
				res := m.Observe(start.Add(time.Duration(i)*step).UnixMilli(), base+jump+noise*r.NormFloat64())
				if first < 0 && res.Score > 1 {
					first = i
				}
				if first >= 0 {
					require.Greater(t, res.Score, 1.0, "score fell under 1 %s into the fault", time.Duration(i)*step)
				}
			}
			require.GreaterOrEqual(t, first, 0, "never scored above 1")
			require.LessOrEqual(t, time.Duration(first)*step, 10*time.Second, "reacts within 10s")
		})
	}
}
