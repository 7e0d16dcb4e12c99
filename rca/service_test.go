package rca_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/rca"
)

// The service is what the webhook worker calls (webhook.CauseInferer):
// checked structurally so this test does not depend on the webhook
// package's build.
var _ interface {
	Infer(context.Context, event.Incident) (*event.Cause, error)
} = (*rca.Service)(nil)

// promSeries is one series served by the Prometheus double: its labels
// (with __name__) and its value at any time.
type promSeries struct {
	labels labels.Labels
	value  func(t time.Time) float64
}

// promDouble answers /api/v1/query_range for series selectors and
// /api/v1/metadata, like Prometheus' HTTP API.
type promDouble struct {
	t      *testing.T
	series []promSeries
	help   map[string]string

	mu      sync.Mutex
	queries []string
}

func (p *promDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/api/v1/metadata":
		m := r.Form.Get("metric")
		data := map[string]any{}
		if h, ok := p.help[m]; ok {
			data[m] = []map[string]string{{"type": "gauge", "help": h, "unit": ""}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	case "/api/v1/query_range":
		q := r.Form.Get("query")
		p.mu.Lock()
		p.queries = append(p.queries, q)
		p.mu.Unlock()
		ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(q)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "bad_data", "error": err.Error()})
			return
		}
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		limit, _ := strconv.Atoi(r.Form.Get("limit"))
		var result []any
		for _, s := range p.series {
			if !matches(ms, s.labels) {
				continue
			}
			if limit > 0 && len(result) >= limit {
				break
			}
			var values [][2]any
			for ts := start; ts <= end; ts += step {
				v := s.value(time.UnixMilli(int64(ts * 1000)))
				values = append(values, [2]any{ts, strconv.FormatFloat(v, 'f', -1, 64)})
			}
			result = append(result, map[string]any{"metric": s.labels.Map(), "values": values})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
	default:
		http.NotFound(w, r)
	}
}

func matches(ms []*labels.Matcher, l labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

// A two-tier application on gala-gopher metrics: the frontend pod on m1
// serves the KPI and calls the backend pod on m2, whose container's CPU
// saturates two minutes before the frontend's latency alert.
func galaDouble(t *testing.T, anomaly time.Time) *promDouble {
	noise := func(level, amp float64, seed int) func(time.Time) float64 {
		return func(ts time.Time) float64 {
			x := float64(ts.Unix()/15 + int64(seed)*7919)
			return level + amp*math.Sin(x*12.9898+float64(seed))
		}
	}
	jump := func(base func(time.Time) float64, at time.Time, size float64) func(time.Time) float64 {
		return func(ts time.Time) float64 {
			v := base(ts)
			if !ts.Before(at) {
				v += size
			}
			return v
		}
	}
	fe := map[string]string{"machine_id": "m1", "pod_id": "p-fe", "pod": "default/frontend", "container_id": "c-fe", "instance": "10.1.0.1:8888", "job": "gala-gopher"}
	be := map[string]string{"machine_id": "m2", "pod_id": "p-be", "pod": "default/backend", "container_id": "c-be", "instance": "10.1.0.2:8888", "job": "gala-gopher"}
	other := map[string]string{"machine_id": "m3", "pod_id": "p-x", "pod": "default/other", "container_id": "c-x", "instance": "10.1.0.3:8888", "job": "gala-gopher"}
	with := func(base map[string]string, name string, extra ...string) labels.Labels {
		m := map[string]string{"__name__": name}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return labels.FromMap(m)
	}
	cause := anomaly.Add(-2 * time.Minute)
	return &promDouble{
		t: t,
		help: map[string]string{
			"gala_gopher_l7_latency_avg":              "L7 session averaged latency.",
			"gala_gopher_container_cpu_usage_seconds": "Container CPU usage.",
		},
		series: []promSeries{
			// The KPI: frontend server-side latency.
			{with(fe, "gala_gopher_l7_latency_avg", "tgid", "100", "l7_role", "server", "server_ip", "10.0.0.1", "client_ip", "10.0.0.9"), jump(noise(0.2, 0.01, 1), anomaly, 0.5)},
			// The frontend's calls to the backend.
			{with(fe, "gala_gopher_l7_latency_avg", "tgid", "100", "l7_role", "client", "client_ip", "10.0.0.1", "server_ip", "10.0.0.2"), jump(noise(0.1, 0.01, 2), anomaly, 0.4)},
			{with(fe, "gala_gopher_container_cpu_usage_seconds"), noise(0.3, 0.05, 3)},
			{with(fe, "gala_gopher_proc_wchar_bytes", "tgid", "100"), noise(1e5, 1e4, 4)},
			// The backend: the cause and its effects.
			{with(be, "gala_gopher_l7_latency_avg", "tgid", "200", "l7_role", "server", "server_ip", "10.0.0.2", "client_ip", "10.0.0.1"), jump(noise(0.1, 0.01, 5), cause.Add(time.Minute), 0.3)},
			{with(be, "gala_gopher_container_cpu_usage_seconds"), jump(noise(0.2, 0.02, 6), cause, 0.75)},
			{with(be, "gala_gopher_disk_rspeed_kB"), noise(500, 100, 7)},
			{with(be, "gala_gopher_tcp_link_rx_bytes", "tgid", "200"), noise(1e6, 2e5, 8)},
			// An unrelated pod that moves a lot at the same time: not a
			// neighbour, so never fetched.
			{with(other, "gala_gopher_container_cpu_usage_seconds"), jump(noise(0.2, 0.02, 9), cause, 5)},
		},
	}
}

func newService(t *testing.T, srv *httptest.Server, cfg rca.Config, now time.Time, state rca.EntityState, opts ...rca.ServiceOption) *rca.Service {
	client, err := api.NewClient(api.Config{Address: srv.URL})
	require.NoError(t, err)
	opts = append(opts, rca.WithClock(func() time.Time { return now }))
	s, err := rca.NewService(v1.NewAPI(client), cfg, nil, state, opts...)
	require.NoError(t, err)
	return s
}

func galaIncident(anomaly time.Time) event.Incident {
	kpi := map[string]string{"machine_id": "m1", "pod_id": "p-fe", "pod": "default/frontend", "container_id": "c-fe", "instance": "10.1.0.1:8888", "job": "gala-gopher",
		"tgid": "100", "l7_role": "server", "server_ip": "10.0.0.1", "client_ip": "10.0.0.9"}
	return event.Incident{
		Anomaly: &event.Anomaly{Attributes: event.AnomalyAttributes{EntityID: "m1_l7_100", EventID: "1700000000000_m1_l7_100", EventType: "app"}},
		Job:     "latency", Metric: "gala_gopher_l7_latency_avg",
		Labels: kpi, EntityLabels: map[string]string{"machine_id": "m1"},
		Score: 1.4, Time: anomaly,
	}
}

func TestServiceInfer(t *testing.T) {
	anomaly := time.Unix(1_700_000_000, 0)
	prom := galaDouble(t, anomaly)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	cfg := rca.DefaultConfig()
	cfg.CandidateSelectors = []string{`{__name__=~"gala_gopher_.*",job="gala-gopher"}`}
	var stateCalls int
	state := func(_ context.Context, l map[string]string) (bool, bool) {
		stateCalls++
		if l["pod_id"] == "p-be" || l["pod_id"] == "p-fe" {
			return true, true
		}
		return false, false
	}
	s := newService(t, srv, cfg, anomaly.Add(5*time.Minute), state)

	ev, err := s.Infer(context.Background(), galaIncident(anomaly))
	require.NoError(t, err)
	require.NotNil(t, ev)

	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, event.Validate(event.KindCause, raw), string(raw))

	require.Equal(t, "1700000000000_m1_l7_100", ev.EventID)
	require.Equal(t, ev.EventID, ev.Attributes.EventID)
	require.Equal(t, "root-cause-inference", ev.Attributes.EventSource)
	require.Equal(t, anomaly.Add(5*time.Minute).UnixMilli(), ev.Timestamp)
	require.Equal(t, "gala_gopher_l7_latency_avg", ev.Resource.AbnormalKPI.MetricID)
	require.Equal(t, "L7 session averaged latency.", ev.Resource.AbnormalKPI.Desc)
	require.Equal(t, ev.Resource.AbnormalKPI.Desc, ev.Desc)
	require.InDelta(t, 1.4, ev.Resource.AbnormalKPI.Score, 1e-12)
	require.Equal(t, "WARN", ev.SeverityText)
	require.Equal(t, 13, ev.SeverityNumber)

	require.Len(t, ev.Resource.CauseMetrics, cfg.MaxCauses)
	top := ev.Resource.CauseMetrics[0]
	require.Equal(t, "gala_gopher_container_cpu_usage_seconds@p-be", top.MetricID)
	require.Equal(t, "gala_gopher_container_cpu_usage_seconds@p-be异常", ev.Top1)
	require.True(t, strings.HasSuffix(ev.Top2, "异常"))
	require.True(t, strings.HasSuffix(ev.Top3, "异常"))
	require.Equal(t, "Container CPU usage.", top.Desc)
	require.NotNil(t, top.Keyword)
	require.Equal(t, "process", *top.Keyword)
	require.Equal(t, "c-be", top.MetricLabels["container_id"])
	for _, c := range ev.Resource.CauseMetrics {
		require.NotEqual(t, "p-x", c.MetricLabels["pod_id"], "the unrelated pod is no neighbour")
	}
	// The path runs from the backend pod to the frontend's.
	require.GreaterOrEqual(t, len(top.Path), 2)
	require.Equal(t, "p-be", top.Path[0]["pod_id"])
	require.Equal(t, "default/backend", top.Path[0]["pod"])
	require.Equal(t, "10.1.0.2:8888", top.Path[0]["instance"])
	require.Equal(t, "abnormal", top.Path[0]["pod_state"])
	last := top.Path[len(top.Path)-1]
	require.Equal(t, "p-fe", last["pod_id"], "path %v", top.Path)
	require.Equal(t, "10.1.0.1:8888", last["instance"])
	require.Contains(t, []string{"normal", "abnormal"}, last["pod_state"])
	require.Positive(t, stateCalls)
	// Keywords are the distinct classes of the causes, null for none.
	seen := map[string]bool{}
	for _, k := range ev.Keywords {
		key := "<null>"
		if k != nil {
			key = *k
		}
		require.False(t, seen[key], "keyword %s twice", key)
		seen[key] = true
	}
	require.True(t, seen["process"])

	prom.mu.Lock()
	defer prom.mu.Unlock()
	require.Contains(t, prom.queries, `{__name__=~"gala_gopher_.*",job="gala-gopher",machine_id="m1"}`)
	require.Contains(t, prom.queries, `{__name__=~"gala_gopher_.*",job="gala-gopher",machine_id="m2"}`)
	require.Contains(t, prom.queries, `{__name__=~"gala_gopher_.*",job="gala-gopher",server_ip="10.0.0.2"}`)
}

func TestServiceBoundsCandidates(t *testing.T) {
	anomaly := time.Unix(1_700_000_000, 0)
	prom := galaDouble(t, anomaly)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	cfg := rca.DefaultConfig()
	cfg.MaxCandidates = 2
	cfg.MaxCauses = 3
	cfg.Topology = rca.TopologyNone
	s := newService(t, srv, cfg, anomaly.Add(5*time.Minute), nil)
	ev, err := s.Infer(context.Background(), galaIncident(anomaly))
	require.NoError(t, err)
	require.LessOrEqual(t, len(ev.Resource.CauseMetrics), 2)
	for _, c := range ev.Resource.CauseMetrics {
		require.Equal(t, "m1", c.MetricLabels["machine_id"], "the anomalous entity's series come first")
		require.Len(t, c.Path, 1)
	}
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, event.Validate(event.KindCause, raw))
}

func TestServiceStaticTopology(t *testing.T) {
	anomaly := time.Unix(1_700_000_000, 0)
	prom := galaDouble(t, anomaly)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	g, err := rca.NewGraph([]rca.Entity{
		{ID: "frontend", Type: "pod", Labels: map[string]string{"pod_id": "p-fe"}},
		{ID: "backend", Type: "pod", Labels: map[string]string{"pod_id": "p-be"}},
	}, []rca.Edge{{From: "frontend", To: "backend", Type: "connect"}})
	require.NoError(t, err)
	cfg := rca.DefaultConfig()
	cfg.Topology = rca.TopologyArangoDB // any source given as an option
	s := newService(t, srv, cfg, anomaly.Add(5*time.Minute), nil, rca.WithTopologySource(rca.NewStaticTopology(g)))
	inc := galaIncident(anomaly)
	inc.EntityLabels = map[string]string{"pod_id": "p-fe"}
	ev, err := s.Infer(context.Background(), inc)
	require.NoError(t, err)
	top := ev.Resource.CauseMetrics[0]
	require.Equal(t, "gala_gopher_container_cpu_usage_seconds@p-be", top.MetricID)
	require.Equal(t, "backend", top.EntityID)
	require.Len(t, top.Path, 2)
	require.Equal(t, "p-be", top.Path[0]["pod_id"])
	require.Equal(t, "p-fe", top.Path[1]["pod_id"])
	require.Equal(t, "abnormal", top.Path[1]["pod_state"], "the frontend's latency moved")
}

func TestServiceErrors(t *testing.T) {
	anomaly := time.Unix(1_700_000_000, 0)
	prom := galaDouble(t, anomaly)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	cfg := rca.DefaultConfig()
	s := newService(t, srv, cfg, anomaly.Add(5*time.Minute), nil)
	ctx := context.Background()

	_, err := s.Infer(ctx, event.Incident{Time: anomaly})
	require.ErrorContains(t, err, "without metric")
	_, err = s.Infer(ctx, event.Incident{Metric: "m"})
	require.ErrorContains(t, err, "without time")
	inc := galaIncident(anomaly)
	inc.EntityLabels = map[string]string{"machine_id": "nowhere"}
	inc.Labels = map[string]string{"machine_id": "nowhere"}
	_, err = s.Infer(ctx, inc)
	require.ErrorIs(t, err, rca.ErrNoCandidates)

	_, err = rca.NewService(nil, cfg, nil, nil)
	require.Error(t, err)
	client, err := api.NewClient(api.Config{Address: srv.URL})
	require.NoError(t, err)
	bad := rca.DefaultConfig()
	bad.Topology = rca.TopologyArangoDB
	_, err = rca.NewService(v1.NewAPI(client), bad, nil, nil)
	require.ErrorContains(t, err, "needs a topology source")
	bad = rca.DefaultConfig()
	bad.Topology = rca.TopologyFile
	bad.TopologyFile = "/nonexistent/topology.yml"
	_, err = rca.NewService(v1.NewAPI(client), bad, nil, nil)
	require.ErrorContains(t, err, "topology file")
}
