// Package exposition builds anteater's real /metrics exposition in-process,
// for tests that check names against it (rules, dashboards, docs). It
// wires the metric producers on one registry the way `anteater serve` does
// (cmd/anteater serve.go and serve_events.go: the build-info, Go and
// process collectors, the exporter, the config coordinator, the Kafka
// publisher and the webhook), drives each once so that its labelled
// vectors have children, and gathers.
package exposition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/anteater-dev/anteater/exporter"
	"github.com/anteater-dev/anteater/internal/config"
	"github.com/anteater-dev/anteater/internal/kafka"
	"github.com/anteater-dev/anteater/scorer"
	"github.com/anteater-dev/anteater/webhook"
)

// Exposition is one gathered /metrics of a fully wired anteater.
type Exposition struct {
	// Families are the gathered metric families, sorted by name, as the
	// /metrics handler of `anteater serve` would serve them.
	Families []*dto.MetricFamily
	// Described are the names of every metric registered on the registry
	// (from the collectors' descriptors), whether or not it had a value.
	Described map[string]bool
}

// Build wires anteater's producers in dir (a fresh temporary directory
// for their state) and gathers them once. It starts nothing that outlives
// the call.
func Build(ctx context.Context, dir string) (*Exposition, error) {
	src := httptest.NewServer(http.HandlerFunc(queryRange))
	defer src.Close()

	cfgFile := filepath.Join(dir, "anteater.yml")
	yml := fmt.Sprintf(`source: {url: %q, retries: 0}
interval: 1m
lookback: 10m
state_dir: %q
jobs:
  - name: load
    query: node_load1
    entity_labels: [machine_id]
    multivariate: {min_rows: 10, train_window: 10m}
`, src.URL, filepath.Join(dir, "state"))
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}

	// As serve does.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("anteater"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	exp, err := exporter.New(exporter.Options{Registerer: reg, NewModel: newFixedModel})
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	coord := config.NewCoordinator(cfgFile, reg, slog.New(slog.DiscardHandler))
	coord.Subscribe(exp.ApplyConfig)
	if err := coord.Reload(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}

	// The Kafka publisher and the webhook from the loaded configuration,
	// as serve's events component builds them; the publisher never
	// connects (Run is not called), so no broker is needed.
	cfg := coord.Config()
	pub, err := kafka.NewPublisher(cfg.Kafka, cfg.Kafka.OutboxDir, nil, reg)
	if err != nil {
		return nil, fmt.Errorf("kafka publisher: %w", err)
	}
	defer pub.Close()
	wh, err := webhook.New(cfg.Webhook, nil, reg, nil, nil, pub)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	defer wh.Close()
	// One request gives anteater_webhook_requests_total{code} a child (a
	// GET is refused with 405 before anything is stored).
	wh.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, wh.Path(), nil))

	// One cycle of the exporter's job: Run starts it at once.
	if err := runOneCycle(ctx, exp); err != nil {
		return nil, err
	}

	families, err := exp.WithRegistry(reg).Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	return &Exposition{Families: families, Described: describe(reg)}, nil
}

// runOneCycle runs the exporter until every job completed a cycle, then
// stops it (which saves the model state).
func runOneCycle(ctx context.Context, exp *exporter.Exporter) error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- exp.Run(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	var waitErr error
wait:
	for {
		if ok, _ := exp.Ready(); ok {
			break
		}
		select {
		case <-tick.C:
		case <-timeout:
			_, why := exp.Ready()
			waitErr = fmt.Errorf("exporter not ready after 30s: %s", why)
			break wait
		case <-ctx.Done():
			waitErr = ctx.Err()
			break wait
		}
	}
	cancel()
	if err := <-done; err != nil {
		return errors.Join(waitErr, fmt.Errorf("exporter run: %w", err))
	}
	return waitErr
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// describe returns the names of the registered descriptors. Desc has no
// accessor for its name; its String form carries it.
func describe(reg *prometheus.Registry) map[string]bool {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string]bool{}
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// Types returns the gathered family names with their types.
func (e *Exposition) Types() map[string]dto.MetricType {
	out := make(map[string]dto.MetricType, len(e.Families))
	for _, mf := range e.Families {
		out[mf.GetName()] = mf.GetType()
	}
	return out
}

// SeriesNames returns the names of the series Prometheus stores from this
// exposition: a histogram family expands to _bucket, _sum and _count, a
// summary to itself, _sum and _count.
func (e *Exposition) SeriesNames() map[string]bool {
	out := map[string]bool{}
	for _, mf := range e.Families {
		n := mf.GetName()
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[n], out[n+"_sum"], out[n+"_count"] = true, true, true
		default:
			out[n] = true
		}
	}
	return out
}

// Missing returns the registered metric names with the given prefix that
// the gather did not contain (a vector Build did not touch), sorted.
func (e *Exposition) Missing(prefix string) []string {
	got := e.Types()
	var out []string
	for n := range e.Described {
		if _, ok := got[n]; strings.HasPrefix(n, prefix) && !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Text encodes the exposition in the Prometheus text format, as /metrics
// serves it to a scraper without content negotiation.
func (e *Exposition) Text() ([]byte, error) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range e.Families {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	return buf.Bytes(), nil
}

// queryRange answers /api/v1/query_range like Prometheus with two
// node_load1 series on two machines, one point per step.
func queryRange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start, err1 := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, err2 := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
	if err := errors.Join(err1, err2, err3); err != nil || step <= 0 || end < start {
		http.Error(w, `{"status":"error","errorType":"bad_data","error":"bad start, end or step"}`, http.StatusBadRequest)
		return
	}
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for i := range 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"__name__":"node_load1","instance":"n%d:9100","job":"node","machine_id":"m%d"},"values":[`, i, i)
		for k, ts := 0, start; ts <= end; k, ts = k+1, ts+step {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `[%.3f,"%d"]`, ts, 1+(k+i)%3)
		}
		b.WriteString("]}")
	}
	b.WriteString("]}}")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(b.String()))
}

// fixedModel is a model that always knows its expected value and band.
// The score families' names are the exporter's; the model only decides
// their values, and whether the optional expected_* families appear. A
// fixed model makes all of them appear whatever the scorer's defaults
// become.
type fixedModel struct{ n int }

func newFixedModel(scorer.Spec) (scorer.Model, error) { return &fixedModel{}, nil }

func (m *fixedModel) Observe(_ int64, v float64) scorer.Result {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return scorer.Result{Expected: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), Skipped: true, Status: m.Status()}
	}
	m.n++
	return scorer.Result{Score: v / 4, Raw: v - 2, Expected: 2, Lower: 0, Upper: 4, Status: m.Status()}
}

func (m *fixedModel) Status() scorer.Status {
	if m.n < 3 {
		return scorer.Warming
	}
	return scorer.Ready
}

func (m *fixedModel) Reset() { m.n = 0 }

func (m *fixedModel) MarshalBinary() ([]byte, error) { return []byte(strconv.Itoa(m.n)), nil }

func (m *fixedModel) UnmarshalBinary(b []byte) error {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("fixed model state: %w", err)
	}
	m.n = n
	return nil
}
