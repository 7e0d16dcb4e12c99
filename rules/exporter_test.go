package rules

import (
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/exporter"
)

// descRecorder is a Registerer that keeps the names of the metrics
// registered on it: metric vectors without children do not show in a
// Gather, their descriptions do.
type descRecorder struct{ names map[string]bool }

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return true }

// The exporter's self-metrics that rules and dashboards use must be the
// ones the real exporter registers (testdata/exposition.prom is checked
// against it here; the score metrics, the webhook's and Kafka's are not
// yet: see knownNames).
func TestExporterSelfMetrics(t *testing.T) {
	r := &descRecorder{names: map[string]bool{}}
	_, err := exporter.New(exporter.Options{Registerer: r})
	require.NoError(t, err)
	for _, name := range []string{
		"anteater_cycle_duration_seconds",
		"anteater_cycles_total",
		"anteater_last_cycle_success_timestamp_seconds",
		"anteater_source_up",
		"anteater_source_requests_total",
		"anteater_source_request_duration_seconds",
		"anteater_series_tracked",
		"anteater_series_dropped_total",
		"anteater_state_saves_total",
		"anteater_model_retrains_total",
	} {
		require.True(t, r.names[name], "exporter does not register %s (registered: %v)", name, r.names)
	}
}
