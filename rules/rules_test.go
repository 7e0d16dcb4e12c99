package rules

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
// anteater's exposition, Prometheus' own series and the recording rules.
//
// TODO(exporter, webhook): the exposition is testdata/exposition.prom,
// written from the metrics contract. Once the exporter, webhook and Kafka
// packages can build their collectors in a test, gather a real registry
// instead, so that a renamed metric breaks this test.
func knownNames(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "exposition.prom"))
	require.NoError(t, err)
	defer f.Close()
	known, err := KnownNames(f)
	require.NoError(t, err)
	return known
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
