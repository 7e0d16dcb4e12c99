package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/anteater-dev/anteater/internal/exposition"
	"github.com/anteater-dev/anteater/rules"
)

// scoredMetric stands for the entity dashboard's $metric variable: the
// name of whatever series a job scores, which is not anteater's. Only a
// selector whose whole name is this variable may use it.
const scoredMetric = "anteater_test_scored_metric"

// builtins are values for Grafana's global variables that keep PromQL
// valid.
var builtins = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__interval_ms":   "60000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

// varRE matches ${name}, ${name:format}, [[name]], [[name:format]] and
// $name.
var varRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)`)

type dashboard struct {
	file string
	raw  map[string]any
}

func load(t *testing.T) []dashboard {
	t.Helper()
	names, err := fs.Glob(Files, "*.json")
	require.NoError(t, err)
	sort.Strings(names)
	require.Equal(t, []string{"anteater-entity.json", "anteater-health.json", "anteater-overview.json"}, names)
	var out []dashboard
	for _, n := range names {
		b, err := fs.ReadFile(Files, n)
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(b, &raw), n)
		out = append(out, dashboard{file: n, raw: raw})
	}
	return out
}

// variables returns the dashboard's template variables by name.
func (d dashboard) variables(t *testing.T) map[string]map[string]any {
	t.Helper()
	templating, ok := d.raw["templating"].(map[string]any)
	require.True(t, ok, "%s: no templating", d.file)
	list, ok := templating["list"].([]any)
	require.True(t, ok, "%s: no templating.list", d.file)
	out := map[string]map[string]any{}
	for _, v := range list {
		m, ok := v.(map[string]any)
		require.True(t, ok)
		name, _ := m["name"].(string)
		require.NotEmpty(t, name)
		require.NotContains(t, out, name, "%s: duplicate variable", d.file)
		out[name] = m
	}
	return out
}

// panels returns every panel, including those nested in collapsed rows.
func (d dashboard) panels() []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		list, _ := v.([]any)
		for _, p := range list {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, m)
			walk(m["panels"])
		}
	}
	walk(d.raw["panels"])
	return out
}

// expression is a PromQL expression found in a dashboard.
type expression struct {
	where, expr string
}

// expressions returns every target expression and every query variable's
// PromQL (the selector inside label_values and query_result).
func (d dashboard) expressions(t *testing.T) []expression {
	t.Helper()
	var out []expression
	for _, p := range d.panels() {
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			m := tg.(map[string]any)
			expr, _ := m["expr"].(string)
			out = append(out, expression{fmt.Sprintf("%s: panel %q target %v", d.file, p["title"], m["refId"]), expr})
		}
	}
	for name, v := range d.variables(t) {
		if v["type"] != "query" {
			continue
		}
		var q string
		switch query := v["query"].(type) {
		case string:
			q = query
		case map[string]any:
			q, _ = query["query"].(string)
		}
		require.Equal(t, q, v["definition"], "%s: variable %s: definition differs from query", d.file, name)
		expr, err := variableExpr(q)
		require.NoError(t, err, "%s: variable %s", d.file, name)
		if expr != "" {
			out = append(out, expression{fmt.Sprintf("%s: variable %s", d.file, name), expr})
		}
	}
	return out
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	queryResultRE = regexp.MustCompile(`^\s*query_result\((.+)\)\s*$`)
)

// variableExpr extracts the PromQL of a Prometheus variable query.
func variableExpr(q string) (string, error) {
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("unsupported variable query %q (want label_values(selector, label) or query_result(expr))", q)
}

// substitute replaces Grafana variables by values that keep PromQL valid;
// a variable the dashboard does not define is an error.
func substitute(expr string, defined map[string]map[string]any) (string, error) {
	var err error
	out := varRE.ReplaceAllStringFunc(expr, func(s string) string {
		m := varRE.FindStringSubmatch(s)
		name := m[1] + m[2] + m[3]
		if v, ok := builtins[name]; ok {
			return v
		}
		if _, ok := defined[name]; !ok {
			err = fmt.Errorf("undefined variable %q in %q", name, expr)
			return s
		}
		if name == "metric" {
			return scoredMetric
		}
		return "x"
	})
	return out, err
}

// knownNames is what dashboards may select: anteater's real exposition
// (its producers wired and gathered in-process by internal/exposition and
// read back from the text format), Prometheus' own series and the
// recording rules of rules/.
func knownNames(t *testing.T) map[string]bool {
	t.Helper()
	e, err := exposition.Build(t.Context(), t.TempDir())
	require.NoError(t, err)
	text, err := e.Text()
	require.NoError(t, err)
	known, err := rules.KnownNames(bytes.NewReader(text))
	require.NoError(t, err)
	return known
}

// TestExpressions parses every expression of every dashboard and checks
// that each metric it selects is one anteater exposes, a Prometheus series
// (up, ALERTS) or a recording rule of rules/.
func TestExpressions(t *testing.T) {
	known := knownNames(t)
	for _, d := range load(t) {
		vars := d.variables(t)
		exprs := d.expressions(t)
		require.NotEmpty(t, exprs, d.file)
		for _, e := range exprs {
			require.NotEmpty(t, strings.TrimSpace(e.expr), e.where)
			sub, err := substitute(e.expr, vars)
			require.NoError(t, err, e.where)
			names, err := rules.MetricNames(sub)
			require.NoError(t, err, e.where)
			require.NotEmpty(t, names, "%s: %q selects no metric", e.where, e.expr)
			for _, n := range names {
				if n == scoredMetric {
					continue
				}
				require.True(t, known[n], "%s: %q: metric %s is not exposed by anteater, Prometheus or a recording rule", e.where, e.expr, n)
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	defined := map[string]map[string]any{"job": {}, "metric": {}}
	for _, tc := range []struct{ in, want string }{
		{`rate(a{j=~"$job"}[$__rate_interval])`, `rate(a{j=~"x"}[5m])`},
		{`a{j="${job}", k="${job:regex}"}[$__range]`, `a{j="x", k="x"}[1h]`},
		{`[[job]] [[job:csv]]`, `x x`},
		{`{__name__="$metric"}`, `{__name__="` + scoredMetric + `"}`},
	} {
		got, err := substitute(tc.in, defined)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	_, err := substitute(`a{j="$nope"}`, defined)
	require.ErrorContains(t, err, `"nope"`)
}

func TestVariableExpr(t *testing.T) {
	got, err := variableExpr(`label_values(a{b=~"$c", d="e,f"}, anteater_job)`)
	require.NoError(t, err)
	require.Equal(t, `a{b=~"$c", d="e,f"}`, got)
	got, err = variableExpr(`query_result(topk(5, a))`)
	require.NoError(t, err)
	require.Equal(t, `topk(5, a)`, got)
	_, err = variableExpr(`label_values(anteater_job)`)
	require.Error(t, err)
}

// TestStructure checks what makes the dashboards portable and linkable: a
// current schema, a stable uid equal to the file name, no import-time
// inputs, every query through the datasource variable, and the job and
// machine variables.
func TestStructure(t *testing.T) {
	dashboards := load(t)
	uids := map[string]bool{}
	for _, d := range dashboards {
		uids[d.raw["uid"].(string)] = true
	}
	for _, d := range dashboards {
		t.Run(d.file, func(t *testing.T) {
			uid, _ := d.raw["uid"].(string)
			require.Equal(t, strings.TrimSuffix(d.file, ".json"), uid)
			require.NotEmpty(t, d.raw["title"])
			require.NotContains(t, d.raw, "__inputs")
			require.NotContains(t, d.raw, "id", "a provisioned dashboard must not carry a database id")
			schema, _ := d.raw["schemaVersion"].(float64)
			require.GreaterOrEqual(t, schema, 39.0)

			vars := d.variables(t)
			ds := vars["datasource"]
			require.NotNil(t, ds, "datasource variable")
			require.Equal(t, "datasource", ds["type"])
			require.Equal(t, "prometheus", ds["query"])
			job := vars["job"]
			require.NotNil(t, job, "job variable")
			require.Equal(t, "query", job["type"])
			require.Regexp(t, `^label_values\(.*, anteater_job\)$`, job["definition"])
			if d.file != "anteater-health.json" {
				m := vars["machine_id"]
				require.NotNil(t, m, "machine_id variable")
				require.Regexp(t, `^label_values\(.*, machine_id\)$`, m["definition"])
			}
			for name, v := range vars {
				if name == "datasource" {
					continue
				}
				require.Equal(t, map[string]any{"type": "prometheus", "uid": "${datasource}"}, v["datasource"], "variable %s", name)
			}

			ids := map[float64]bool{}
			for _, p := range d.panels() {
				id, _ := p["id"].(float64)
				require.NotZero(t, id, "panel %q", p["title"])
				require.False(t, ids[id], "duplicate panel id %v", id)
				ids[id] = true
				grid, _ := p["gridPos"].(map[string]any)
				require.NotNil(t, grid, "panel %q", p["title"])
				x, w := grid["x"].(float64), grid["w"].(float64)
				require.LessOrEqual(t, x+w, 24.0, "panel %q", p["title"])
				if p["type"] == "row" {
					continue
				}
				require.NotEmpty(t, p["description"], "panel %q", p["title"])
				require.Equal(t, map[string]any{"type": "prometheus", "uid": "${datasource}"}, p["datasource"], "panel %q", p["title"])
				targets, _ := p["targets"].([]any)
				require.NotEmpty(t, targets, "panel %q", p["title"])
				refs := map[string]bool{}
				for _, tg := range targets {
					m := tg.(map[string]any)
					ref, _ := m["refId"].(string)
					require.NotEmpty(t, ref)
					require.False(t, refs[ref], "panel %q: duplicate refId %s", p["title"], ref)
					refs[ref] = true
					require.Equal(t, p["datasource"], m["datasource"], "panel %q target %s", p["title"], ref)
				}
			}

			// Links between dashboards must name existing uids.
			b, err := json.Marshal(d.raw)
			require.NoError(t, err)
			for _, m := range regexp.MustCompile(`/d/([a-zA-Z0-9_-]+)`).FindAllStringSubmatch(string(b), -1) {
				require.True(t, uids[m[1]], "link to unknown dashboard uid %q", m[1])
			}
		})
	}
}

func TestProvisioning(t *testing.T) {
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Folder  string `yaml:"folder"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err := fs.ReadFile(Files, "provisioning/dashboards.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &dash))
	require.Equal(t, 1, dash.APIVersion)
	require.Len(t, dash.Providers, 1)
	p := dash.Providers[0]
	require.Equal(t, "file", p.Type)
	require.NotEmpty(t, p.Name)
	require.True(t, path.IsAbs(p.Options.Path), "provider path %q", p.Options.Path)

	var dss struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name   string `yaml:"name"`
			Type   string `yaml:"type"`
			Access string `yaml:"access"`
			URL    string `yaml:"url"`
		} `yaml:"datasources"`
	}
	b, err = fs.ReadFile(Files, "provisioning/datasources.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &dss))
	require.Equal(t, 1, dss.APIVersion)
	require.Len(t, dss.Datasources, 1)
	ds := dss.Datasources[0]
	require.Equal(t, "prometheus", ds.Type)
	require.Equal(t, "proxy", ds.Access)
	u, err := url.Parse(ds.URL)
	require.NoError(t, err)
	require.Equal(t, "http", u.Scheme)
	require.NotEmpty(t, u.Host)
}
