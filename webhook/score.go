package webhook

import "github.com/anteater-dev/anteater/internal/score"

// SeriesScore is the exporter's view of one scored series.
type SeriesScore = score.Series

// ScoreSource looks scores up in the running exporter.
type ScoreSource interface {
	// Lookup returns the score of one series.
	Lookup(job, metric string, labels map[string]string) (SeriesScore, bool)
	// EntityScores returns all scored series of an entity, over all jobs,
	// sorted by Score descending.
	EntityScores(entity map[string]string) []SeriesScore
}
