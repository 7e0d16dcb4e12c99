package rules

import (
	"errors"
	"fmt"
	"io"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// PrometheusMetrics are series Prometheus itself creates for every target or
// rule, which rules and dashboards may use besides anteater's own.
var PrometheusMetrics = []string{
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"ALERTS",
	"ALERTS_FOR_STATE",
}

// ErrNoMetricName is returned for a selector without a fixed metric name,
// whose series cannot be checked against an exposition.
var ErrNoMetricName = errors.New("selector without a fixed metric name")

// MetricNames parses a PromQL expression and returns the metric names it
// selects, sorted and without duplicates.
func MetricNames(expr string) ([]string, error) {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	seen := map[string]bool{}
	var inspectErr error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			inspectErr = fmt.Errorf("%s in %q: %w", vs, expr, ErrNoMetricName)
			return nil
		}
		seen[name] = true
		return nil
	})
	if inspectErr != nil {
		return nil, inspectErr
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// ExposedNames reads a text exposition (what /metrics serves) and returns
// the names of the series it holds: histogram and summary families expand
// to their _bucket, _sum and _count series as Prometheus stores them.
func ExposedNames(r io.Reader) (map[string]bool, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse exposition: %w", err)
	}
	out := make(map[string]bool, len(families))
	for name, mf := range families {
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"] = true
			out[name+"_sum"] = true
			out[name+"_count"] = true
		case dto.MetricType_SUMMARY:
			out[name] = true
			out[name+"_sum"] = true
			out[name+"_count"] = true
		default:
			out[name] = true
		}
	}
	return out, nil
}

// UnknownNames returns the metric names expr selects that are not in known,
// sorted.
func UnknownNames(expr string, known map[string]bool) ([]string, error) {
	names, err := MetricNames(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if !known[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// KnownNames is the set of metric names that rules and dashboards may
// select: the series of an anteater exposition, PrometheusMetrics and the
// outputs of the embedded recording rules.
func KnownNames(exposition io.Reader) (map[string]bool, error) {
	known, err := ExposedNames(exposition)
	if err != nil {
		return nil, err
	}
	for _, n := range PrometheusMetrics {
		known[n] = true
	}
	files, err := Load()
	if err != nil {
		return nil, err
	}
	for n := range RecordedNames(files) {
		known[n] = true
	}
	return known, nil
}
