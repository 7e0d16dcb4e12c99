package rules

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/exposition"
)

// requireTool returns the path of a real Prometheus tool. CI installs them
// (scripts/install-deps.sh) and sets ANTEATER_REQUIRE_REAL=1, so there a
// missing tool fails the test; elsewhere the test is skipped.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("ANTEATER_REQUIRE_REAL") == "1" {
		t.Fatalf("%s not found and ANTEATER_REQUIRE_REAL=1 (run scripts/install-deps.sh): %v", name, err)
	}
	t.Skipf("%s not found (set ANTEATER_REQUIRE_REAL=1 to fail instead): %v", name, err)
	return ""
}

// runTool runs a tool and fails the test with its output when it exits
// non-zero.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := requireTool(t, name)
	out, err := exec.CommandContext(t.Context(), path, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func ruleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.rules.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestPromtoolCheckRules(t *testing.T) {
	files := ruleFiles(t)
	out := runTool(t, "promtool", append([]string{"check", "rules"}, files...)...)
	require.Equal(t, len(files), strings.Count(out, "SUCCESS"), out)
}

func TestPromtoolTestRules(t *testing.T) {
	tests, err := filepath.Glob("tests/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	out := runTool(t, "promtool", append([]string{"test", "rules"}, tests...)...)
	require.Equal(t, len(tests), strings.Count(out, "SUCCESS"), out)
}

// The examples users copy must load in the real Prometheus and
// Alertmanager. promtool also checks that rule_files resolve to these rules.
func TestExampleConfigs(t *testing.T) {
	t.Run("prometheus", func(t *testing.T) {
		out := runTool(t, "promtool", "check", "config", filepath.Join("..", "examples", "prometheus.yml"))
		require.Contains(t, out, "SUCCESS")
		require.Contains(t, out, "rule files found")
		require.NotContains(t, out, " 0 rule files found")
	})
	t.Run("alertmanager", func(t *testing.T) {
		out := runTool(t, "amtool", "check-config", filepath.Join("..", "examples", "alertmanager.yml"))
		require.Contains(t, out, "SUCCESS")
	})
}

// knownNames is the set of metric names rules and dashboards may select:
// anteater's real exposition (its producers wired and gathered in-process
// by internal/exposition, read back from the text format as Prometheus
// reads /metrics), Prometheus' own series and the recording rules.
func knownNames(t *testing.T) map[string]bool {
	t.Helper()
	known, err := KnownNames(bytes.NewReader(expositionText(t)))
	require.NoError(t, err)
	return known
}

// expositionText is the text format of anteater's real exposition.
func expositionText(t *testing.T) []byte {
	t.Helper()
	e, err := exposition.Build(t.Context(), t.TempDir())
	require.NoError(t, err)
	text, err := e.Text()
	require.NoError(t, err)
	return text
}

// The exposition that knownNames reads must hold every anteater metric
// the producers register: a labelled vector with no child yet is missing
// from a gather, and a rule on it would be reported unknown.
func TestExpositionComplete(t *testing.T) {
	e, err := exposition.Build(t.Context(), t.TempDir())
	require.NoError(t, err)
	require.Empty(t, e.Missing("anteater_"), "registered but not gathered: give them a child in internal/exposition")
	names := e.SeriesNames()
	for _, n := range []string{
		"anteater_anomaly_score", "anteater_entity_anomaly_score", "anteater_expected_upper",
		"anteater_build_info", "anteater_cycle_duration_seconds_bucket",
		"anteater_config_last_reload_successful", "anteater_webhook_requests_total",
		"anteater_kafka_messages_total", "go_goroutines", "process_start_time_seconds",
	} {
		require.True(t, names[n], "%s not in the exposition", n)
	}
}

// promtool lints the real exposition as Prometheus' naming conventions
// want it (counters end in _total, units in base units, ...).
func TestPromtoolCheckMetrics(t *testing.T) {
	path := requireTool(t, "promtool")
	cmd := exec.CommandContext(t.Context(), path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(expositionText(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)))
}

func TestRuleMetricNames(t *testing.T) {
	known := knownNames(t)
	files, err := Load()
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for name, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				t.Run(name+"/"+r.Name(), func(t *testing.T) {
					unknown, err := UnknownNames(r.Expr, known)
					require.NoError(t, err)
					require.Empty(t, unknown, "metrics not exposed by anteater nor recorded")
				})
			}
		}
	}
}

// TestAlertContract checks the labels and annotations the webhook relies on
// (see the alert contract): anomaly alerts are marked anteater="anomaly"
// and carry score and ratio; health alerts are not marked, so the webhook
// ignores them.
func TestAlertContract(t *testing.T) {
	files, err := Load()
	require.NoError(t, err)
	alerts := map[string]Rule{}
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					require.NotContains(t, alerts, r.Alert, "duplicate alert")
					alerts[r.Alert] = r
				}
			}
		}
	}
	for _, name := range []string{
		"AnteaterSeriesAnomaly", "AnteaterEntityAnomaly",
		"AnteaterSourceDown", "AnteaterCyclesFailing", "AnteaterOutboxGrowing",
		"AnteaterKafkaErrors", "AnteaterConfigReloadFailed",
	} {
		require.Contains(t, alerts, name)
	}
	for name, r := range alerts {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, r.Labels["severity"])
			require.NotEmpty(t, r.For, "an alert without `for` fires on one bad evaluation")
			require.NotEmpty(t, r.Annotations["summary"])
			require.NotEmpty(t, r.Annotations["description"])
			anomaly := name == "AnteaterSeriesAnomaly" || name == "AnteaterEntityAnomaly"
			if !anomaly {
				require.NotContains(t, r.Labels, "anteater")
				return
			}
			require.Equal(t, "anomaly", r.Labels["anteater"])
			require.Equal(t, "{{ $value }}", r.Annotations["score"])
			require.NotEmpty(t, r.Annotations["ratio"])
		})
	}
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       []string
		err        error
	}{
		{name: "selector", expr: `up{job="a"}`, want: []string{"up"}},
		{name: "binary and functions", expr: `rate(b_total[5m]) / ignoring(x) a > 1 and on() a`, want: []string{"a", "b_total"}},
		{name: "subquery", expr: `max_over_time(anteater:entity_anomaly_score:max[1h:1m])`, want: []string{"anteater:entity_anomaly_score:max"}},
		{name: "name matcher", expr: `{__name__="x", job="y"}`, want: []string{"x"}},
		{name: "regex name", expr: `{__name__=~"anteater_.+"}`, err: ErrNoMetricName},
		{name: "no selector", expr: `time()`, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MetricNames(tc.expr)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := MetricNames(`rate(x[5m]`)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrNoMetricName))
}

func TestExposedNames(t *testing.T) {
	names, err := ExposedNames(strings.NewReader(`# TYPE h histogram
h_bucket{le="+Inf"} 1
h_sum 1
h_count 1
# TYPE c counter
c_total 3
# TYPE g gauge
g 1
`))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"h_bucket": true, "h_sum": true, "h_count": true, "c_total": true, "g": true}, names)

	_, err = ExposedNames(strings.NewReader("g{ 1\n"))
	require.Error(t, err)
}
