package smd

import (
	"context"
	"fmt"
	"time"

	"github.com/anteater-dev/anteater/scorer/multivariate"
)

// Result is the evaluation of one machine (or, from Overall, of all).
type Result struct {
	Machine   string `json:"machine"`
	TestRows  int    `json:"test_rows"`
	Anomalous int    `json:"anomalous_rows"`
	// Label-free threshold: score ≥ 1.0 as calibrated on training scores.
	Point    PRF `json:"point"`
	Adjusted PRF `json:"point_adjusted"`
	// Oracle: the best F1 over all thresholds, chosen with the test labels.
	OraclePoint             PRF     `json:"oracle_point"`
	OraclePointThreshold    float64 `json:"oracle_point_threshold"`
	OracleAdjusted          PRF     `json:"oracle_point_adjusted"`
	OracleAdjustedThreshold float64 `json:"oracle_point_adjusted_threshold"`
	HitRate100              float64 `json:"hitrate_100"`
	HitRate150              float64 `json:"hitrate_150"`
	HitPoints               int     `json:"hitrate_points"`
	TrainSeconds            float64 `json:"train_seconds"`
	ScoreSeconds            float64 `json:"score_seconds"`

	// Scores and Pred are per test row; Labels is the ground truth.
	Scores []float64 `json:"-"`
	Pred   []bool    `json:"-"`
	Labels []bool    `json:"-"`
}

// Evaluate trains a detector on m.Train and scores m.Test row by row, in
// order, exactly as the service would. Prediction is score ≥ 1.
func Evaluate(ctx context.Context, m *Machine, cfg multivariate.Config) (*Result, error) {
	det, err := multivariate.NewDetector(cfg)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := det.Fit(ctx, m.Train); err != nil {
		return nil, fmt.Errorf("smd: %s: %w", m.Name, err)
	}
	t1 := time.Now()
	d := m.Dims()
	r := &Result{Machine: m.Name, TestRows: len(m.Test), Labels: m.Labels}
	r.Scores = make([]float64, len(m.Test))
	r.Pred = make([]bool, len(m.Test))
	contrib := make([]float64, len(m.Test)*d)
	for i, row := range m.Test {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s := det.Score(row, contrib[i*d:(i+1)*d])
		r.Scores[i] = s
		r.Pred[i] = s >= 1
	}
	r.TrainSeconds = t1.Sub(t0).Seconds()
	r.ScoreSeconds = time.Since(t1).Seconds()
	for _, l := range m.Labels {
		if l {
			r.Anomalous++
		}
	}
	r.Point = Confusion(r.Pred, m.Labels)
	r.Adjusted = Confusion(PointAdjust(r.Pred, m.Labels), m.Labels)
	r.OraclePoint, r.OraclePointThreshold = BestF1(r.Scores, m.Labels, false)
	r.OracleAdjusted, r.OracleAdjustedThreshold = BestF1(r.Scores, m.Labels, true)
	at := func(i int) []float64 { return contrib[i*d : (i+1)*d] }
	r.HitRate100, r.HitPoints = HitRate(m.Interpretation, at, 1.0)
	r.HitRate150, _ = HitRate(m.Interpretation, at, 1.5)
	return r, nil
}

// Overall pools the machines: precision, recall and F1 are computed on the
// concatenation of all machines' test rows (point-adjust is applied within
// each machine, so no segment spans two machines), the oracle uses one
// threshold for all machines, and HitRate is the mean over all labelled
// points.
func Overall(rs []*Result) *Result {
	o := &Result{Machine: "overall"}
	var scores []float64
	var labels, pred, adj []bool
	var h100, h150 float64
	for _, r := range rs {
		o.TestRows += r.TestRows
		o.Anomalous += r.Anomalous
		o.TrainSeconds += r.TrainSeconds
		o.ScoreSeconds += r.ScoreSeconds
		scores = append(scores, r.Scores...)
		labels = append(labels, r.Labels...)
		pred = append(pred, r.Pred...)
		adj = append(adj, PointAdjust(r.Pred, r.Labels)...)
		h100 += r.HitRate100 * float64(r.HitPoints)
		h150 += r.HitRate150 * float64(r.HitPoints)
		o.HitPoints += r.HitPoints
	}
	o.Point = Confusion(pred, labels)
	o.Adjusted = Confusion(adj, labels)
	o.OraclePoint, o.OraclePointThreshold = BestF1(scores, labels, false)
	o.OracleAdjusted, o.OracleAdjustedThreshold = bestAdjustedPooled(rs)
	if o.HitPoints > 0 {
		o.HitRate100 = h100 / float64(o.HitPoints)
		o.HitRate150 = h150 / float64(o.HitPoints)
	}
	return o
}

// bestAdjustedPooled runs the point-adjusted oracle on the concatenation
// with a separator between machines so segments cannot merge across them.
func bestAdjustedPooled(rs []*Result) (PRF, float64) {
	var scores []float64
	var labels []bool
	for _, r := range rs {
		scores = append(scores, r.Scores...)
		labels = append(labels, r.Labels...)
		if len(r.Labels) > 0 && r.Labels[len(r.Labels)-1] {
			// A normal sentinel that can never be predicted.
			scores = append(scores, -1e308)
			labels = append(labels, false)
		}
	}
	return BestF1(scores, labels, true)
}
