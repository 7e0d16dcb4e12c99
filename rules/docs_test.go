package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/exposition"
)

// docRow is one row of a metrics table in docs/metrics.md.
type docRow struct {
	typ    string
	labels []string // nil when the table has no labels column
}

var backtickRE = regexp.MustCompile("`([^`]+)`")

// docMetrics reads the tables of docs/metrics.md whose first column is
// "metric", keyed by the metric's name (recording rules, with a colon,
// are left out).
func docMetrics(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	require.NoError(t, err)
	out := map[string]docRow{}
	var header []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		// Split on | but not on \| inside a cell.
		cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "| "), `\|`, "\x00"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(cells[i], "\x00", "|"))
		}
		if header == nil {
			header = cells
			continue
		}
		if strings.HasPrefix(cells[0], "---") || header[0] != "metric" {
			continue
		}
		m := backtickRE.FindStringSubmatch(cells[0])
		require.NotNil(t, m, "docs/metrics.md: row without a metric name: %s", line)
		if strings.Contains(m[1], ":") {
			continue
		}
		require.NotContains(t, out, m[1], "docs/metrics.md: %s documented twice", m[1])
		var row docRow
		for i, h := range header {
			if i >= len(cells) {
				break
			}
			switch h {
			case "type":
				row.typ = cells[i]
			case "labels":
				row.labels = []string{}
				for part := range strings.SplitSeq(cells[i], ", ") {
					if l := backtickRE.FindStringSubmatch(part); l != nil {
						row.labels = append(row.labels, l[1])
					}
				}
				slices.Sort(row.labels)
			}
		}
		out[m[1]] = row
	}
	require.NotEmpty(t, out, "docs/metrics.md has no metric tables")
	return out
}

// docs/metrics.md documents exactly the anteater metrics of the real
// exposition, with their types and label names.
func TestMetricsDoc(t *testing.T) {
	e, err := exposition.Build(t.Context(), t.TempDir())
	require.NoError(t, err)
	docs := docMetrics(t)
	exposed := map[string]*dto.MetricFamily{}
	for _, mf := range e.Families {
		if strings.HasPrefix(mf.GetName(), "anteater_") {
			exposed[mf.GetName()] = mf
		}
	}
	for name := range docs {
		require.Contains(t, exposed, name, "docs/metrics.md documents %s, which anteater does not expose", name)
	}
	for name, mf := range exposed {
		t.Run(name, func(t *testing.T) {
			row, ok := docs[name]
			require.True(t, ok, "docs/metrics.md does not document %s", name)
			require.Equal(t, strings.ToLower(mf.GetType().String()), row.typ, "type of %s", name)
			if row.labels == nil {
				return
			}
			var got []string
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if !slices.Contains(got, lp.GetName()) {
						got = append(got, lp.GetName())
					}
				}
			}
			slices.Sort(got)
			if got == nil {
				got = []string{}
			}
			require.Equal(t, got, row.labels, "label names of %s", name)
		})
	}
}
