package exposition

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBuild(t *testing.T) {
	e, err := Build(t.Context(), t.TempDir())
	require.NoError(t, err)
	require.Empty(t, e.Missing("anteater_"))

	types := e.Types()
	require.Equal(t, dto.MetricType_HISTOGRAM, types["anteater_cycle_duration_seconds"])
	require.Equal(t, dto.MetricType_GAUGE, types["anteater_anomaly_score"])
	names := e.SeriesNames()
	for _, n := range []string{"anteater_cycle_duration_seconds_bucket", "anteater_cycle_duration_seconds_sum", "anteater_cycle_duration_seconds_count"} {
		require.True(t, names[n], n)
	}
	require.False(t, names["anteater_cycle_duration_seconds"], "a histogram family is not a series name")

	// The text round-trips to the same families, and the scored series
	// carry their identity labels plus anteater_job and metric.
	text, err := e.Text()
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err)
	require.Len(t, parsed, len(e.Families))
	score := parsed["anteater_anomaly_score"]
	require.Len(t, score.GetMetric(), 2)
	labels := map[string]string{}
	for _, lp := range score.GetMetric()[0].GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	require.Equal(t, map[string]string{"anteater_job": "load", "metric": "node_load1", "instance": "n0:9100", "job": "node", "machine_id": "m0"}, labels)
	require.Len(t, parsed["anteater_entity_anomaly_score"].GetMetric(), 2)
	// The job's multivariate models fit on the look-back in the first
	// cycle: one per machine, each with its one series as the only
	// dimension.
	require.Len(t, parsed["anteater_multivariate_score"].GetMetric(), 2)
	require.Len(t, parsed["anteater_multivariate_contribution"].GetMetric(), 2)
	for _, m := range parsed["anteater_multivariate_warming"].GetMetric() {
		require.Equal(t, 0.0, m.GetGauge().GetValue())
	}
	labels = map[string]string{}
	for _, lp := range parsed["anteater_multivariate_contribution"].GetMetric()[0].GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	require.Equal(t, map[string]string{"anteater_job": "load", "machine_id": "m0", "metric": "node_load1", "series": "node_load1{instance=n0:9100,job=node}"}, labels)
	require.Equal(t, 1.0, parsed["anteater_cycles_total"].GetMetric()[1].GetCounter().GetValue(), "one successful cycle")
}
