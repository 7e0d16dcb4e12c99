package nab

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteResults(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "corpus"), nil)
	require.NoError(t, err)
	scores := [][]float64{{0, 0.1, 0.2, 0.9, 0.5, 0.25, 0, 1}, {0, 0.5}}
	dir := t.TempDir()
	require.NoError(t, WriteResults(dir, "anteater-x", c, scores))

	got, err := os.ReadFile(filepath.Join(dir, "anteater-x", "catA", "anteater-x_a.csv"))
	require.NoError(t, err)
	require.Equal(t, `timestamp,value,anomaly_score,label
2014-04-01 00:00:00,1.5,0,0
2014-04-01 00:05:00,2,0.1,0
2014-04-01 00:10:00,2.5,0.2,0
2014-04-01 00:15:00,30,0.9,1
2014-04-01 00:20:00,31,0.5,1
2014-04-01 00:25:00,29,0.25,1
2014-04-01 00:30:00,2,0,0
2014-04-01 00:35:00,10,1,0
`, string(got))
	got, err = os.ReadFile(filepath.Join(dir, "anteater-x", "catB", "anteater-x_c.csv"))
	require.NoError(t, err)
	require.Equal(t, "timestamp,value,anomaly_score,label\n2015-01-01 10:00:00,-3,0,0\n2015-01-01 11:00:00,4,0.5,0\n", string(got))

	require.ErrorContains(t, WriteResults(dir, "d", c, scores[:1]), "1 score series for 2 files")
}

func TestDetectorName(t *testing.T) {
	require.Equal(t, "anteater-robust-z", DetectorName("robust_z"))
}

func TestReport(t *testing.T) {
	w := Window{First: 50, Last: 59}
	c := &Corpus{Files: []*File{testFile("a", 100, w), testFile("b", 100, w)}}
	a, b := make([]float64, 100), make([]float64, 100)
	a[55], a[80] = 0.9, 0.7
	b[30], b[52], b[20] = 0.8, 0.6, 0.4
	r, err := Evaluate("anteater-test", c, [][]float64{a, b})
	require.NoError(t, err)
	require.Len(t, r.Optimized, 3)
	require.Len(t, r.Product, 3)
	require.Equal(t, 2, r.Windows)
	require.Equal(t, 200, r.Rows)
	// See TestOptimizeTinyCorpus for the arithmetic.
	require.Equal(t, 0.6, r.Optimized[0].Threshold)
	require.InDelta(t, 90.42253235757036, r.Optimized[0].Score, 1e-9)
	// At the product threshold 0.5 the row at 0.4 stays out: same rows as 0.6.
	require.InDelta(t, 90.42253235757036, r.Product[0].Score, 1e-9)
	cat := r.Optimized[0].Categories
	require.Len(t, cat, 1)
	require.Equal(t, 2, cat[0].Detected)
	// Delays: A detected at row 55 (5/10), B at row 52 (2/10): mean 0.35.
	require.InDelta(t, 0.35, cat[0].MeanDelay, 1e-12)
	require.InDelta(t, -0.21999811352957378, cat[0].FPScore, 1e-12)

	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.Contains(t, table.String(), "NAB: detector anteater-test, 2 files, 200 rows, 2 windows")
	require.Regexp(t, `standard\s+90\.42\s+0\.6000\s+1\.5\s+2\s+2\s+18\s+2/2`, table.String())
	require.Regexp(t, `cat\s+2\s+2\s+2\s+1\.837\s+0\.000\s+-0\.220\s+2\s+1\.617\s+0\.35`, table.String())

	r.Output = "episode"
	table.Reset()
	require.NoError(t, r.WriteTable(&table))
	require.Contains(t, table.String(), "output scored: episode\n")

	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, *r, back)
}
