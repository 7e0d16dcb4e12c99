package event

import "time"

// Incident is what the webhook worker knows about one firing anomaly when
// it asks for root causes: the anomaly event it built and the identity of
// the abnormal KPI series.
type Incident struct {
	// Anomaly is the event already built for the alert.
	Anomaly *Anomaly
	// Job is the anteater job that scored the KPI (label anteater_job).
	Job string
	// Metric is the scored metric's name (label metric).
	Metric string
	// Labels are the KPI series' identity labels (without anteater_job
	// and metric).
	Labels map[string]string
	// EntityLabels are the labels that identify the KPI's entity
	// (machine_id by default).
	EntityLabels map[string]string
	// Score is the KPI's anomaly score at the time of the alert.
	Score float64
	// Time is when the anomaly started (the alert's startsAt).
	Time time.Time
}
