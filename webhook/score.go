package webhook

import "time"

// SeriesScore is the exporter's view of one scored series, in the shape of
// the exporter's lookup (see the metrics contract); the wiring adapts the
// exporter's type to this one.
type SeriesScore struct {
	Job, Metric string
	// Labels are the identity labels (no __name__, anteater_job, metric).
	Labels map[string]string
	// EntityLabels are the job's entity labels and values.
	EntityLabels map[string]string
	// EntityID is "<machine_id>_<entity_name>_<other entity label values...>".
	EntityID                           string
	EntityName, EventType, Description string
	Keywords                           []string
	Score, Ratio                       float64
	Anomalous, Observed                int
	Window                             time.Duration
	Timestamp                          time.Time
}

// ScoreSource looks scores up in the running exporter.
type ScoreSource interface {
	// Lookup returns the score of one series.
	Lookup(job, metric string, labels map[string]string) (SeriesScore, bool)
	// EntityScores returns all scored series of an entity, over all jobs,
	// sorted by Score descending.
	EntityScores(entity map[string]string) []SeriesScore
}

// ScoreFuncs adapts two functions to a ScoreSource, so the wiring can
// convert the exporter's types without a named adapter type.
type ScoreFuncs struct {
	LookupFunc       func(job, metric string, labels map[string]string) (SeriesScore, bool)
	EntityScoresFunc func(entity map[string]string) []SeriesScore
}

// Lookup implements ScoreSource.
func (f ScoreFuncs) Lookup(job, metric string, labels map[string]string) (SeriesScore, bool) {
	if f.LookupFunc == nil {
		return SeriesScore{}, false
	}
	return f.LookupFunc(job, metric, labels)
}

// EntityScores implements ScoreSource.
func (f ScoreFuncs) EntityScores(entity map[string]string) []SeriesScore {
	if f.EntityScoresFunc == nil {
		return nil
	}
	return f.EntityScoresFunc(entity)
}
