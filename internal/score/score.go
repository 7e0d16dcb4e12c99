// Package score holds the live score of a series as the exporter publishes
// it and the webhook reads it, so the two share one type.
package score

import "time"

// Series is the live score of one series: what the exporter's lookup
// returns and the webhook reads to build an anomaly event.
type Series struct {
	Job, Metric string
	// Labels are the identity labels: the exposition labels without
	// anteater_job and metric.
	Labels map[string]string
	// EntityLabels are the job's entity labels and their values.
	EntityLabels map[string]string
	// EntityID is "<machine_id>_<entity_name>_<other entity label
	// values...>" joined by "_" (machine_id only when it is an entity
	// label).
	EntityID                           string
	EntityName, EventType, Description string
	Keywords                           []string
	Score, Ratio                       float64
	Anomalous, Observed                int
	Window                             time.Duration
	Timestamp                          time.Time
}
