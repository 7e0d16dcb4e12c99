package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the exporter's self-metrics (names fixed by the metrics
// contract).
type metrics struct {
	cycleDuration  *prometheus.HistogramVec
	cycles         *prometheus.CounterVec
	lastCycleOK    *prometheus.GaugeVec
	sourceUp       prometheus.Gauge
	sourceRequests *prometheus.CounterVec
	sourceDuration prometheus.Histogram
	seriesTracked  *prometheus.GaugeVec
	seriesDropped  *prometheus.CounterVec
	stateSaves     *prometheus.CounterVec
	modelRetrains  *prometheus.CounterVec
	stateRestored  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		cycleDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "anteater_cycle_duration_seconds",
			Help:    "Duration of a job's scoring cycle: query, scoring and snapshot.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60, 120},
		}, []string{"anteater_job"}),
		cycles: f.NewCounterVec(prometheus.CounterOpts{
			Name: "anteater_cycles_total",
			Help: "Scoring cycles run, by result.",
		}, []string{"anteater_job", "result"}),
		lastCycleOK: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "anteater_last_cycle_success_timestamp_seconds",
			Help: "Unix time the job's last successful cycle ended.",
		}, []string{"anteater_job"}),
		sourceUp: f.NewGauge(prometheus.GaugeOpts{
			Name: "anteater_source_up",
			Help: "1 when the last query to the Prometheus source succeeded.",
		}),
		sourceRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "anteater_source_requests_total",
			Help: "Requests to the Prometheus source, by result (success or failure).",
		}, []string{"result"}),
		sourceDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "anteater_source_request_duration_seconds",
			Help:    "Duration of one request to the Prometheus source.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		seriesTracked: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "anteater_series_tracked",
			Help: "Series a job currently scores.",
		}, []string{"anteater_job"}),
		seriesDropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "anteater_series_dropped_total",
			Help: "New series a job refused, by reason (limit: the job's max_series cap).",
		}, []string{"anteater_job", "reason"}),
		stateSaves: f.NewCounterVec(prometheus.CounterOpts{
			Name: "anteater_state_saves_total",
			Help: "Saves of a job's model state to the state directory, by result.",
		}, []string{"result"}),
		modelRetrains: f.NewCounterVec(prometheus.CounterOpts{
			Name: "anteater_model_retrains_total",
			Help: "Models trained: cold starts of new series from history and multivariate entity fits, by result.",
		}, []string{"result"}),
		stateRestored: f.NewCounter(prometheus.CounterOpts{
			Name: "anteater_state_series_restored_total",
			Help: "Series whose model state was restored from the state directory.",
		}),
	}
	for _, r := range []string{"success", "failure"} {
		m.sourceRequests.WithLabelValues(r)
		m.stateSaves.WithLabelValues(r)
		m.modelRetrains.WithLabelValues(r)
	}
	return m
}

func (m *metrics) initJob(name string) {
	m.cycles.WithLabelValues(name, "success")
	m.cycles.WithLabelValues(name, "failure")
	m.seriesDropped.WithLabelValues(name, "limit")
	m.seriesTracked.WithLabelValues(name)
}

func (m *metrics) forgetJob(name string) {
	l := prometheus.Labels{"anteater_job": name}
	m.cycleDuration.DeletePartialMatch(l)
	m.cycles.DeletePartialMatch(l)
	m.lastCycleOK.DeletePartialMatch(l)
	m.seriesTracked.DeletePartialMatch(l)
	m.seriesDropped.DeletePartialMatch(l)
}
