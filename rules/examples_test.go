package rules

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/config"
)

// The anteater.yml users copy must load with anteater's own loader, with
// the values its comments promise.
func TestExampleAnteaterConfig(t *testing.T) {
	c, err := config.LoadFile(filepath.Join("..", "examples", "anteater.yml"))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9090", c.Source.URL)
	// AnteaterCyclesFailing's 180s is 3 x this interval.
	require.Equal(t, "1m", c.Interval.String())
	require.NotEmpty(t, c.Jobs)
	for _, j := range c.Jobs {
		// The dashboards' machine variable and examples/prometheus.yml's
		// relabelling rely on machine_id being the entity.
		require.Contains(t, j.EntityLabels, "machine_id", j.Name)
	}
}
