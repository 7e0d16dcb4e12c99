package exporter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeAPI serves query_range like Prometheus for a fixed set of series with
// one point per step, the points a function of the timestamp, and records
// the requests. The series' JSON is rendered once ("recorded").
type fakeAPI struct {
	mu       sync.Mutex
	series   []string // rendered "metric" objects
	fail     int      // answer 503 to this many requests first
	requests []fakeRequest
	value    func(series int, ts int64) float64
}

type fakeRequest struct {
	start, end, step int64 // ms
}

func newFakeAPI(n int, labels func(i int) string) *fakeAPI {
	f := &fakeAPI{series: make([]string, n)}
	for i := range n {
		f.series[i] = labels(i)
	}
	f.value = func(i int, ts int64) float64 { return float64((i*7+int(ts/1000))%13) + 10 }
	return f
}

func (f *fakeAPI) setSeries(n int, labels func(i int) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series = f.series[:0]
	for i := range n {
		f.series = append(f.series, labels(i))
	}
}

func parseSec(s string) int64 {
	v, _ := strconv.ParseFloat(s, 64)
	return int64(v*1000 + 0.5)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := fakeRequest{parseSec(r.Form.Get("start")), parseSec(r.Form.Get("end")), parseSec(r.Form.Get("step"))}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		http.Error(w, `{"status":"error","errorType":"unavailable","error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	series := f.series
	f.mu.Unlock()
	if req.step <= 0 || (req.end-req.start)/req.step+1 > 11000 {
		http.Error(w, `{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, 1<<16)
	buf = append(buf, `{"status":"success","data":{"resultType":"matrix","result":[`...)
	for i, m := range series {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"metric":`...)
		buf = append(buf, m...)
		buf = append(buf, `,"values":[`...)
		for ts := req.start; ts <= req.end; ts += req.step {
			if ts > req.start {
				buf = append(buf, ',')
			}
			buf = fmt.Appendf(buf, `[%.3f,"%g"]`, float64(ts)/1000, f.value(i, ts))
		}
		buf = append(buf, "]}"...)
		if len(buf) > 1<<20 {
			_, _ = w.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, "]}}"...)
	_, _ = w.Write(buf)
}

func (f *fakeAPI) reqs() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func startFake(t testing.TB, f *fakeAPI) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clock is a settable time source for jobs driven by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
