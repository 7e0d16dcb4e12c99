// Package event holds the two JSON events anteater publishes to Kafka, in
// the exact field names, nesting and types of gala-anteater's manual
// ("异常检测输出数据" and "根因定位输出数据"), so existing consumers keep working.
package event

// Anomaly is the anomaly event published to the model topic
// (default gala_anteater_hybrid_model). Its Kafka key is the entity id.
type Anomaly struct {
	Timestamp      int64             `json:"Timestamp"` // Unix milliseconds
	Attributes     AnomalyAttributes `json:"Attributes"`
	Resource       AnomalyResource   `json:"Resource"`
	SeverityText   string            `json:"SeverityText"`
	SeverityNumber int               `json:"SeverityNumber"`
	Body           string            `json:"Body"`
}

// AnomalyAttributes identifies the anomaly.
type AnomalyAttributes struct {
	EntityID  string `json:"entity_id"`
	EventID   string `json:"event_id"` // "<Timestamp>_<entity_id>"
	EventType string `json:"event_type"`
}

// AnomalyResource carries the scores and the context of the anomaly.
type AnomalyResource struct {
	AnomalyScore     float64                      `json:"anomaly_score"`
	AnomalyCount     int                          `json:"anomaly_count"`
	TotalCount       int                          `json:"total_count"`
	Duration         int                          `json:"duration"` // seconds of the observation window
	AnomalyRatio     float64                      `json:"anomaly_ratio"`
	MetricLabel      map[string]string            `json:"metric_label"`
	RecommendMetrics map[string]RecommendedMetric `json:"recommend_metrics"`
	Metrics          string                       `json:"metrics"`
}

// RecommendedMetric is another anomalous metric of the same entity.
type RecommendedMetric struct {
	Label map[string]string `json:"label"`
	Score float64           `json:"score"`
}

// Cause is the root-cause event published to the rca topic
// (default gala_cause_inference). Its Kafka key is the event id.
type Cause struct {
	Timestamp      int64           `json:"Timestamp"`
	EventID        string          `json:"event_id"` // the anomaly's event id
	Attributes     CauseAttributes `json:"Attributes"`
	Resource       CauseResource   `json:"Resource"`
	Desc           string          `json:"desc"`
	Top1           string          `json:"top1"`
	Top2           string          `json:"top2"`
	Top3           string          `json:"top3"`
	Keywords       []*string       `json:"keywords"` // null where a cause has no keyword, as gala-anteater emits
	SeverityText   string          `json:"SeverityText"`
	SeverityNumber int             `json:"SeverityNumber"`
	Body           string          `json:"Body"`
}

// CauseAttributes identifies the cause event.
type CauseAttributes struct {
	EventID     string `json:"event_id"`
	EventSource string `json:"event_source"` // "root-cause-inference"
}

// CauseResource holds the abnormal KPI and its ranked causes.
type CauseResource struct {
	AbnormalKPI  KPI           `json:"abnormal_kpi"`
	CauseMetrics []CauseMetric `json:"cause_metrics"`
}

// KPI is the abnormal key performance indicator.
type KPI struct {
	MetricID     string            `json:"metric_id"`
	EntityID     string            `json:"entity_id"`
	MetricLabels map[string]string `json:"metric_labels"`
	Desc         string            `json:"desc"`
	Score        float64           `json:"score"`
}

// CauseMetric is one ranked cause.
type CauseMetric struct {
	MetricID     string            `json:"metric_id"`
	EntityID     string            `json:"entity_id"`
	MetricLabels map[string]string `json:"metric_labels"`
	Desc         string            `json:"desc"`
	Keyword      *string           `json:"keyword"`
	Score        float64           `json:"score"`
	Path         []PathNode        `json:"path"`
}

// PathNode is one entity on the propagation path from cause to KPI. The
// identity labels are kept as gala-anteater emits them (pod_id, pod,
// instance, job, ...) and PodState is "normal" or "abnormal".
type PathNode map[string]string

// Gala-anteater's defaults.
const (
	SourceRootCause   = "root-cause-inference"
	DefaultModelTopic = "gala_anteater_hybrid_model"
	DefaultRCATopic   = "gala_cause_inference"
)
