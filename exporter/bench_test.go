package exporter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/scorer"
)

func benchLabels(i int) string {
	return fmt.Sprintf(`{"__name__":"node_bench","device":"sd%c","instance":"host-%d:9100","job":"node","machine_id":"m%d"}`,
		'a'+i%4, i/4, i/4)
}

// heapPerSeries keeps the first measurement of each benchmark.
var heapPerSeries = map[string]float64{}

// warmed builds a driven exporter of n series whose models are all warm,
// so the timed cycles measure steady-state scoring. It returns the heap
// bytes per series retained after a GC.
func warmed(b *testing.B, n int, modelName string) (*driven, *job, float64) {
	f := newFakeAPI(n, benchLabels)
	url := startFake(b, f)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	d := newDriven(b, url, ", max_points_per_request: 10000000",
		fmt.Sprintf("lookback: 1m\njobs: [{name: t, query: node_bench, max_series: 1000000, model: %q}]\n", modelName), Options{})
	j := d.job("t")
	require.NoError(b, d.cycle(b, "t"))
	require.Len(b, j.order, n)
	// Feed 150 more minutes straight into the models (the default
	// ensemble warms after 144 points) instead of 150 HTTP cycles.
	last := j.lastEnd
	for _, s := range j.order {
		for k := int64(1); k <= 150; k++ {
			s.model.Observe(last+k*60_000, 10.25+float64(k%7)) // not integers: count-like series warm twice
		}
		s.lastTs = last + 150*60_000
	}
	j.lastEnd = last + 150*60_000
	d.clk.t = time.UnixMilli(j.lastEnd)
	for _, s := range j.order {
		require.Equal(b, scorer.Ready, s.model.Status())
	}
	j.publish()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	key := fmt.Sprintf("%d/%s", n, modelName)
	if _, ok := heapPerSeries[key]; !ok {
		// Only the first run of a benchmark measures: later runs start
		// while the previous run's exporter is still being released.
		heapPerSeries[key] = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
	}
	return d, j, heapPerSeries[key]
}

// BenchmarkCycle is one 1-minute cycle of n series (one new point each)
// served by an httptest query_range endpoint: query, decode, scoring and
// snapshot.
func BenchmarkCycle(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, mdl := range []string{"", "ewma"} {
			name := mdl
			if name == "" {
				name = "default"
			}
			b.Run(fmt.Sprintf("series=%d/model=%s", n, name), func(b *testing.B) {
				d, j, perSeries := warmed(b, n, mdl)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					d.clk.t = d.clk.t.Add(time.Minute)
					if err := j.cycle(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(perSeries, "heap-B/series")
				b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/cycle")
			})
		}
	}
}

// BenchmarkScrape is one /metrics scrape of n scored series (all score
// families, entities and self-metrics) through promhttp.
func BenchmarkScrape(b *testing.B) {
	const n = 100_000
	d, _, _ := warmed(b, n, "ewma")
	h := promhttp.HandlerFor(d.e.WithRegistry(d.reg), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := &countingWriter{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatal(w.code)
		}
		size = w.n
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// countingWriter is a ResponseWriter that only counts, like a network
// connection would not keep the body.
type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// TestFeedDoesNotAllocate: per-sample scoring is allocation-free.
func TestFeedDoesNotAllocate(t *testing.T) {
	s := newSeries(model.Metric{"__name__": "x", "instance": "a"}, "t", []string{"instance"}, nil)
	var err error
	s.model, err = scorer.New(scorer.Spec{})
	require.NoError(t, err)
	s.win = newWindow(300_000, 60_000)
	samples := make([]model.SamplePair, 1)
	ts := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		ts += 60_000
		samples[0] = model.SamplePair{Timestamp: model.Time(ts), Value: model.SampleValue(ts % 17)}
		s.feed(samples, 300_000)
	})
	require.Zero(t, allocs)
}
