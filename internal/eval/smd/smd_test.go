package smd

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/scorer/multivariate"
)

func TestDiscoverAndLoad(t *testing.T) {
	names, skipped, err := Discover("testdata/ok")
	require.NoError(t, err)
	require.Equal(t, []string{"m-1", "m-2"}, names)
	require.Contains(t, skipped["m-3"], "test/m-3.txt")

	m, err := Load("testdata/ok", "m-1")
	require.NoError(t, err)
	require.Equal(t, [][]float64{{0.1, 0.2, 0.3}, {0.2, 0.1, 0.4}, {0.3, 0.3, 0.3}}, m.Train)
	require.Len(t, m.Test, 4)
	require.Equal(t, []bool{false, true, true, false}, m.Labels)
	// 1-based columns become 0-based dimensions; end stays exclusive.
	require.Equal(t, []Segment{{Start: 1, End: 3, Dims: []int{0, 2}}}, m.Interpretation)

	gz, err := Load("testdata/ok", "m-2")
	require.NoError(t, err)
	require.Equal(t, [][]float64{{0.5, 0.5}, {0.25, 0.75}}, gz.Train)
	require.Equal(t, [][]float64{{1, 0}, {0, 1}, {1, 1}}, gz.Test)
	require.Equal(t, []Segment{{Start: 2, End: 3, Dims: []int{1}}}, gz.Interpretation)

	_, _, err = Discover(t.TempDir())
	require.Error(t, err)
}

func TestLoadErrors(t *testing.T) {
	write := func(t *testing.T, dir, rel, body string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	good := map[string]string{
		"train/m.txt":                "1,2\n3,4\n",
		"test/m.txt":                 "1,2\n3,4\n",
		"test_label/m.txt":           "0\n1\n",
		"interpretation_label/m.txt": "1-2:2\n",
	}
	for name, bad := range map[string]map[string]string{
		"ragged":         {"train/m.txt": "1,2\n3\n"},
		"not a number":   {"test/m.txt": "1,x\n3,4\n"},
		"width mismatch": {"test/m.txt": "1,2,3\n3,4,5\n"},
		"label count":    {"test_label/m.txt": "0\n"},
		"label value":    {"test_label/m.txt": "0\n2\n"},
		"segment range":  {"interpretation_label/m.txt": "1-3:2\n"},
		"empty segment":  {"interpretation_label/m.txt": "1-1:2\n"},
		"column range":   {"interpretation_label/m.txt": "0-1:3\n"},
		"column zero":    {"interpretation_label/m.txt": "0-1:0\n"},
		"no colon":       {"interpretation_label/m.txt": "0-1\n"},
		"empty train":    {"train/m.txt": "\n"},
		"not gzip":       {"train/m.txt": "", "train/m.txt.gz": "plain"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, body := range good {
				if b, ok := bad[rel]; ok {
					body = b
				}
				write(t, dir, rel, body)
			}
			for rel, body := range bad {
				if _, ok := good[rel]; !ok {
					write(t, dir, rel, body)
				}
			}
			if name == "not gzip" {
				require.NoError(t, os.Remove(filepath.Join(dir, "train/m.txt")))
			}
			_, err := Load(dir, "m")
			require.Error(t, err)
		})
	}
}

func TestConfusionAndPointAdjust(t *testing.T) {
	label := []bool{false, true, true, true, false, false, true, true, false, false}
	pred := []bool{true, false, true, false, false, false, false, false, false, true}
	// Raw: TP 1 (index 2), FP 2 (0, 9), FN 4.
	r := Confusion(pred, label)
	require.Equal(t, PRF{TP: 1, FP: 2, FN: 4, Precision: 1.0 / 3, Recall: 1.0 / 5, F1: 2 * (1.0 / 3) * (1.0 / 5) / (1.0/3 + 1.0/5)}, r)
	require.Equal(t, [][2]int{{1, 4}, {6, 8}}, Segments(label))
	adj := PointAdjust(pred, label)
	require.Equal(t, []bool{true, true, true, true, false, false, false, false, false, true}, adj)
	a := Confusion(adj, label)
	require.Equal(t, 3, a.TP)
	require.Equal(t, 2, a.FP)
	require.Equal(t, 2, a.FN)
	require.InDelta(t, 0.6, a.Precision, 1e-12)
	require.InDelta(t, 0.6, a.Recall, 1e-12)
	require.InDelta(t, 0.6, a.F1, 1e-12)
	require.Equal(t, PRF{}, NewPRF(0, 0, 0))
	require.Equal(t, NewPRF(4, 4, 6), r.Add(a))
	// The input is not modified.
	require.False(t, pred[1])
}

func TestBestF1(t *testing.T) {
	label := []bool{false, true, true, false, false, true}
	scores := []float64{0.9, 0.2, 0.8, 0.1, 0.3, 0.7}
	// Point-wise: threshold 0.7 gives TP 2 (0.8, 0.7), FP 1 (0.9), FN 1:
	// F1 = 2/3 · ... = 0.667; threshold 0.2 gives TP 3, FP 2 (0.9, 0.3):
	// P 0.6, R 1, F1 0.75, the best.
	r, th := BestF1(scores, label, false)
	require.InDelta(t, 0.75, r.F1, 1e-12)
	require.InDelta(t, 0.2, th, 0)
	// Adjusted: segment [1,3) max 0.8, [5,6) max 0.7; threshold 0.7 gives
	// TP 3, FP 1 → P 0.75, R 1, F1 6/7.
	r, th = BestF1(scores, label, true)
	require.InDelta(t, 6.0/7, r.F1, 1e-12)
	require.InDelta(t, 0.7, th, 0)
	r, _ = BestF1([]float64{1, 2}, []bool{false, false}, true)
	require.Zero(t, r.F1)
}

func TestHitRate(t *testing.T) {
	segs := []Segment{{Start: 0, End: 2, Dims: []int{0, 2}}, {Start: 3, End: 4, Dims: []int{1}}}
	c := [][]float64{
		{0.9, 0.5, 0.1, 0.0}, // top2 {0,1}: 1 of 2 → 0.5; top3 {0,1,2}: 1
		{0.1, 0.0, 0.8, 0.7}, // top2 {2,3}: 0.5; top3 {2,3,0}: 1
		{9, 9, 9, 9},         // not labelled
		{0.3, 0.2, 0.1, 0.0}, // top1 {0}: 0; ⌊1.5⌋=1 → 0
	}
	at := func(i int) []float64 { return c[i] }
	h, n := HitRate(segs, at, 1.0)
	require.Equal(t, 3, n)
	require.InDelta(t, (0.5+0.5+0)/3, h, 1e-12)
	h, _ = HitRate(segs, at, 1.5)
	require.InDelta(t, (1+1+0)/3.0, h, 1e-12)
	h, n = HitRate(nil, at, 1)
	require.Zero(t, h)
	require.Zero(t, n)
}

func TestEvaluateAndOverall(t *testing.T) {
	const d, n = 4, 600
	m := &Machine{Name: "synthetic"}
	for i := range n {
		row := make([]float64, d)
		for j := range row {
			row[j] = math.Sin(float64(i*(j+1))/17) + 0.01*float64(j)
		}
		m.Train = append(m.Train, row)
		test := append([]float64(nil), row...)
		anomalous := i >= 300 && i < 310
		if anomalous {
			test[2] += 10
		}
		m.Test = append(m.Test, test)
		m.Labels = append(m.Labels, anomalous)
	}
	m.Interpretation = []Segment{{Start: 300, End: 310, Dims: []int{2}}}
	r, err := Evaluate(context.Background(), m, multivariate.Config{Model: "pca"})
	require.NoError(t, err)
	require.Len(t, r.Scores, n)
	require.Equal(t, 10, r.Anomalous)
	require.InDelta(t, 1.0, r.Adjusted.Recall, 0)
	require.InDelta(t, 1.0, r.HitRate100, 0)
	require.GreaterOrEqual(t, r.OracleAdjusted.F1, r.Adjusted.F1)

	o := Overall([]*Result{r, r})
	require.Equal(t, 2*n, o.TestRows)
	require.Equal(t, 2*r.Point.TP, o.Point.TP)
	require.Equal(t, 2*r.Adjusted.FP, o.Adjusted.FP)
	require.InDelta(t, r.HitRate150, o.HitRate150, 1e-12)
}

// The label-free threshold is chosen from the training rows alone: the
// test labels and interpretation never reach the detector, and a test row
// cannot move the score of an earlier one (no look-ahead).
func TestPredictionIgnoresTestLabels(t *testing.T) {
	const d, n = 5, 800
	m := &Machine{Name: "synthetic"}
	for i := range n {
		row := make([]float64, d)
		for j := range row {
			row[j] = math.Sin(float64(i*(j+2))/13) + 0.05*math.Cos(float64(i*i%97))
		}
		m.Train = append(m.Train, row)
		test := append([]float64(nil), row...)
		if i >= 400 && i < 420 {
			test[1] += 8
		}
		m.Test = append(m.Test, test)
		m.Labels = append(m.Labels, i >= 400 && i < 420)
	}
	m.Interpretation = []Segment{{Start: 400, End: 420, Dims: []int{1}}}
	cfg := multivariate.Config{Model: multivariate.DefaultModel}
	want, err := Evaluate(context.Background(), m, cfg)
	require.NoError(t, err)
	require.Contains(t, want.Pred, true)

	// Other labels: every row anomalous but the injected ones.
	relabelled := *m
	relabelled.Labels = make([]bool, n)
	for i, l := range m.Labels {
		relabelled.Labels[i] = !l
	}
	relabelled.Interpretation = []Segment{{Start: 0, End: 400, Dims: []int{0, 4}}}
	got, err := Evaluate(context.Background(), &relabelled, cfg)
	require.NoError(t, err)
	require.Equal(t, want.Scores, got.Scores)
	require.Equal(t, want.Pred, got.Pred)
	require.NotEqual(t, want.Adjusted, got.Adjusted, "the labels do change the metrics")

	// Changing the later test rows leaves the earlier scores alone.
	cut := *m
	cut.Test = append([][]float64(nil), m.Test[:500]...)
	for range n - 500 {
		cut.Test = append(cut.Test, []float64{9, 9, 9, 9, 9})
	}
	got, err = Evaluate(context.Background(), &cut, cfg)
	require.NoError(t, err)
	require.Equal(t, want.Scores[:500], got.Scores[:500])
}
