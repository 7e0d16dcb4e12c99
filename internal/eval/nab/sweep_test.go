package nab

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var standard = Profiles()[0]

// testFile makes a file of n rows, one a minute, with the given windows.
func testFile(name string, n int, windows ...Window) *File {
	f := &File{Name: "cat/" + name + ".csv", Category: "cat", Windows: windows}
	for i := range n {
		f.Timestamps = append(f.Timestamps, int64(i)*60_000)
		f.Values = append(f.Values, 0)
	}
	return f
}

// detections returns n scores, 1 at the given rows and 0 elsewhere.
func detections(n int, rows ...int) []float64 {
	s := make([]float64, n)
	for _, r := range rows {
		s[r] = 1
	}
	return s
}

func TestProbationaryLength(t *testing.T) {
	for _, tc := range []struct{ rows, want int }{
		{6, 0},        // floor(0.9)
		{7, 1},        // floor(1.05)
		{100, 15},     // floor(15.000000000000002)
		{4032, 604},   // floor(604.8)
		{5000, 750},   // floor(750) = the cap
		{10000, 750},  // min(1500, 750)
		{365000, 750}, // min(54750, 750)
	} {
		require.Equal(t, tc.want, ProbationaryLength(tc.rows), "rows=%d", tc.rows)
	}
}

// TestScoreHandComputed checks single-file scores against numbers worked
// out by hand. Every file has 100 rows, so rows 0-14 are probationary
// (floor(0.15×100) = 15), and one window on rows 50-59 (len 10) unless
// said otherwise. σ(x) = 2/(1+e^(5x)) − 1 and σ(−1) = 0.9866142981514305.
func TestScoreHandComputed(t *testing.T) {
	w := Window{First: 50, Last: 59}
	for _, tc := range []struct {
		name    string
		windows []Window
		detect  []int
		raw     float64
		counts  Counts // rows 15-99: 10 in the window, 75 outside
		hit     int
	}{
		{
			// Earliest possible TP: x = −(59−50+1)/10 = −1, σ(−1)/σ(−1) × A_TP = 1.
			name: "TP at window start", windows: []Window{w}, detect: []int{50},
			raw: 1, counts: Counts{TP: 1, FN: 9, TN: 75}, hit: 1,
		},
		{
			// Latest TP: x = −(59−59+1)/10 = −0.1, σ(−0.1) = 2/(1+e^−0.5) − 1 =
			// 0.2449186624037092, / 0.9866142981514305 = 0.24824154977542992.
			name: "TP at window end", windows: []Window{w}, detect: []int{59},
			raw: 0.24824154977542992, counts: Counts{TP: 1, FN: 9, TN: 75}, hit: 1,
		},
		{
			// Only the earliest detection counts: row 52 gives x = −8/10,
			// σ(−0.8)/σ(−1) = 0.9640275800758169/0.9866142981514305 =
			// 0.9771068409226045; rows 55 and 57 add nothing (but are TP rows).
			name: "earliest detection in window", windows: []Window{w}, detect: []int{52, 55, 57},
			raw: 0.9771068409226045, counts: Counts{TP: 3, FN: 7, TN: 75}, hit: 1,
		},
		{
			// FP right after the window: x = (60−59)/(10−1) = 1/9,
			// σ(1/9) = −0.2708471185167214, × 0.11 = −0.029793183036839352;
			// plus the TP at 50: 1 − 0.029793183036839352.
			name: "FP right after window", windows: []Window{w}, detect: []int{50, 60},
			raw: 0.9702068169631607, counts: Counts{TP: 1, FP: 1, FN: 9, TN: 74}, hit: 1,
		},
		{
			// FP far after: x = (99−59)/9 = 4.44 > 3, so σ = −1: −0.11; 1 − 0.11.
			name: "FP far after window", windows: []Window{w}, detect: []int{50, 99},
			raw: 0.89, counts: Counts{TP: 1, FP: 1, FN: 9, TN: 74}, hit: 1,
		},
		{
			// FP with no preceding window: the full −0.11; 1 − 0.11.
			name: "FP before any window", windows: []Window{w}, detect: []int{20, 50},
			raw: 0.89, counts: Counts{TP: 1, FP: 1, FN: 9, TN: 74}, hit: 1,
		},
		{
			// Nothing detected: the window costs A_FN = 1.
			name: "missed window", windows: []Window{w},
			raw: -1, counts: Counts{FN: 10, TN: 75},
		},
		{
			// Missed window plus a far FP: −1 − 0.11.
			name: "missed window and FP", windows: []Window{w}, detect: []int{99},
			raw: -1.11, counts: Counts{FP: 1, FN: 10, TN: 74},
		},
		{
			// Detections at rows 0 and 14 are probationary: not scored, not
			// counted. Only the TP at 50 remains: 1.
			name: "probationary detections ignored", windows: []Window{w}, detect: []int{0, 14, 50},
			raw: 1, counts: Counts{TP: 1, FN: 9, TN: 75}, hit: 1,
		},
		{
			// Row 15 is the first scored row: with no window before it, −0.11.
			name: "first scored row", windows: []Window{w}, detect: []int{15, 50},
			raw: 0.89, counts: Counts{TP: 1, FP: 1, FN: 9, TN: 74}, hit: 1,
		},
		{
			// A window on rows 5-9 lies in the probationary period: it is
			// neither detected nor missed (no −1), but it still precedes row
			// 20: x = (20−9)/(5−1) = 2.75, σ(2.75) = −0.9999978645942599,
			// × 0.11 = −0.10999976510536859. Rows 15-99 are all outside
			// windows: 84 TN.
			name: "window in probationary period", windows: []Window{{First: 5, Last: 9}}, detect: []int{5, 20},
			raw: -0.10999976510536859, counts: Counts{FP: 1, TN: 84},
		},
		{
			// A window straddling the probationary period (rows 10-19, len
			// 10): its first scorable row is 15, x = −(19−15+1)/10 = −0.5,
			// σ(−0.5)/σ(−1) = 0.8482836399575129/0.9866142981514305 =
			// 0.8597925669097837. Rows 15-19 are in the window.
			name: "window straddling probationary period", windows: []Window{{First: 10, Last: 19}}, detect: []int{12, 15},
			raw: 0.8597925669097837, counts: Counts{TP: 1, FN: 4, TN: 80}, hit: 1,
		},
		{
			// FP between two windows is scored against the preceding one:
			// windows 30-39 and 60-69; detection at 45: x = 6/9, σ(2/3) =
			// 2/(1+e^(10/3)) − 1 = −0.9310080...; both windows missed.
			// −2 + 0.11 × σ(2/3).
			name: "FP between windows", windows: []Window{{First: 30, Last: 39}, {First: 60, Last: 69}}, detect: []int{45},
			raw: -2 + 0.11*(2/(1+math.Exp(10.0/3))-1), counts: Counts{FP: 1, FN: 20, TN: 64},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Corpus{Files: []*File{testFile("f", 100, tc.windows...)}}
			s, err := NewScorer(c, [][]float64{detections(100, tc.detect...)})
			require.NoError(t, err)
			r := s.ScoreAt(0.5, standard)
			require.InDelta(t, tc.raw, r.Raw, 1e-12)
			require.Equal(t, tc.counts, Counts{TP: r.TP, FP: r.FP, FN: r.FN, TN: r.TN})
			require.Equal(t, tc.hit, r.Detected)
		})
	}
}

func TestProfilesWeights(t *testing.T) {
	// One far FP (−A_FP) and one missed window (−A_FN) under each profile.
	c := &Corpus{Files: []*File{testFile("f", 100, Window{First: 50, Last: 59})}}
	s, err := NewScorer(c, [][]float64{detections(100, 20)})
	require.NoError(t, err)
	want := map[string]float64{
		"standard":           -1 - 0.11,
		"reward_low_FP_rate": -1 - 0.22,
		"reward_low_FN_rate": -2 - 0.11,
	}
	for _, p := range Profiles() {
		require.InDelta(t, want[p.Name], s.ScoreAt(0.5, p).Raw, 1e-12, p.Name)
	}
}

func TestNormalization(t *testing.T) {
	c := &Corpus{Files: []*File{
		testFile("a", 200, Window{First: 50, Last: 59}, Window{First: 120, Last: 139}),
		testFile("b", 100, Window{First: 70, Last: 79}),
		testFile("c", 100), // no windows: only FPs possible
	}}
	never := [][]float64{make([]float64, 200), make([]float64, 100), make([]float64, 100)}
	perfect := [][]float64{detections(200, 50, 120), detections(100, 70), make([]float64, 100)}
	for _, p := range Profiles() {
		s, err := NewScorer(c, never)
		require.NoError(t, err)
		r := s.Optimize(p)
		// Null: 3 windows missed, −3 × A_FN, normalized to 0.
		require.Equal(t, noThreshold, r.Threshold, p.Name)
		require.InDelta(t, -3*p.FN, r.Null, 1e-12)
		require.InDelta(t, r.Null, r.Raw, 1e-12)
		require.InDelta(t, 0, r.Score, 1e-9)
		require.Equal(t, 3*p.TP, r.Perfect)

		s, err = NewScorer(c, perfect)
		require.NoError(t, err)
		r = s.Optimize(p)
		// Perfect: each window detected at its first row, 3 × A_TP: 100.
		require.Equal(t, 1.0, r.Threshold, p.Name)
		require.InDelta(t, 3*p.TP, r.Raw, 1e-12)
		require.InDelta(t, 100, r.Score, 1e-9)
		require.Equal(t, 3, r.Detected)
		require.Zero(t, r.FP)
	}
}

// TestOptimizeTinyCorpus checks the threshold choice on two files of 100
// rows with a window on rows 50-59 each (null −2, perfect 2). Candidates,
// highest first (σ as in TestScoreHandComputed):
//
//	none: −2
//	0.9:  A row 55 TP, σ(−0.5)/σ(−1) = 0.8597925669097837 replaces A's −1 → −0.14020743309021633
//	0.8:  B row 30 FP, no preceding window, −0.11 → −0.2502074330902163
//	0.7:  A row 80 FP, x = 21/9, 0.11 × σ(2.33) = −0.10999811352957378 → −0.3602055466197901
//	0.6:  B row 52 TP, 0.9771068409226045 replaces B's −1 → 1.6169012943028145
//	0.4:  B row 20 FP, −0.11 → 1.5069012943028144
//	0:    every other row detected: dozens of FPs, far lower.
//
// Best is 0.6: normalized 100 × (1.6169012943028145 + 2)/4 = 90.42253235757036.
func TestOptimizeTinyCorpus(t *testing.T) {
	w := Window{First: 50, Last: 59}
	c := &Corpus{Files: []*File{testFile("a", 100, w), testFile("b", 100, w)}}
	a, b := make([]float64, 100), make([]float64, 100)
	a[55], a[80] = 0.9, 0.7
	b[30], b[52], b[20] = 0.8, 0.6, 0.4
	s, err := NewScorer(c, [][]float64{a, b})
	require.NoError(t, err)
	r := s.Optimize(standard)
	require.Equal(t, 0.6, r.Threshold)
	require.InDelta(t, 1.6169012943028145, r.Raw, 1e-12)
	require.InDelta(t, 90.42253235757036, r.Score, 1e-9)
	require.Equal(t, Counts{TP: 2, FP: 2, FN: 18, TN: 148}, Counts{TP: r.TP, FP: r.FP, FN: r.FN, TN: r.TN})
	require.Equal(t, 2, r.Detected)

	// Just above a score detects the same rows as the next score up.
	require.InDelta(t, -0.3602055466197901, s.ScoreAt(0.65, standard).Raw, 1e-12)
	require.InDelta(t, 1.6169012943028145, s.ScoreAt(0.6, standard).Raw, 1e-12)
}

// TestOptimizeIsExhaustive compares the sweep with scoring every distinct
// threshold on random corpora.
func TestOptimizeIsExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		var c Corpus
		var scores [][]float64
		for i := range 1 + rng.IntN(4) {
			n := 40 + rng.IntN(200)
			var ws []Window
			for at := rng.IntN(n / 2); at < n-2; {
				l := 1 + rng.IntN(20)
				if at+l > n {
					break
				}
				ws = append(ws, Window{First: at, Last: at + l - 1})
				at += l + 1 + rng.IntN(60)
			}
			c.Files = append(c.Files, testFile(string(rune('a'+i)), n, ws...))
			s := make([]float64, n)
			for r := range s {
				// Few distinct values, so ties between rows are common.
				s[r] = float64(rng.IntN(12)) / 11
			}
			scores = append(scores, s)
		}
		sc, err := NewScorer(&c, scores)
		require.NoError(t, err)
		for _, p := range Profiles() {
			got := sc.Optimize(p)
			best := sc.ScoreAt(noThreshold, p)
			for k := 11; k >= 0; k-- {
				if r := sc.ScoreAt(float64(k)/11, p); r.Raw > best.Raw+1e-9 {
					best = r
				}
			}
			require.InDelta(t, best.Raw, got.Raw, 1e-9, "trial %d %s", trial, p.Name)
			require.InDelta(t, best.Threshold, got.Threshold, 1e-12, "trial %d %s", trial, p.Name)
		}
	}
}

func TestOneRowWindow(t *testing.T) {
	// NAB divides by zero for an FP after a one-row window; here it costs
	// the full −A_FP. Window at row 50 detected (x = −1: 1), FP at 51.
	c := &Corpus{Files: []*File{testFile("f", 100, Window{First: 50, Last: 50})}}
	s, err := NewScorer(c, [][]float64{detections(100, 50, 51)})
	require.NoError(t, err)
	require.InDelta(t, 1-0.11, s.ScoreAt(0.5, standard).Raw, 1e-12)
}

func TestScorerErrors(t *testing.T) {
	c := &Corpus{Files: []*File{testFile("f", 100)}}
	_, err := NewScorer(c, nil)
	require.ErrorContains(t, err, "0 score series for 1 files")
	_, err = NewScorer(c, [][]float64{make([]float64, 99)})
	require.ErrorContains(t, err, "99 scores for 100 rows")
	bad := make([]float64, 100)
	bad[40] = math.NaN()
	_, err = NewScorer(c, [][]float64{bad})
	require.ErrorContains(t, err, "row 41: score is NaN")
}

func TestMapScore(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0, 0}, {1, 0.5}, {3, 0.75}, {-2, 0}, {math.NaN(), 0}, {math.Inf(1), 1}, {math.Inf(-1), 0},
	} {
		require.Equal(t, tc.want, MapScore(tc.in), "in=%v", tc.in)
	}
	for _, s := range []float64{0, 0.2, 1, 2.5, 40} {
		require.InDelta(t, s, UnmapScore(MapScore(s)), 1e-12)
	}
	require.True(t, math.IsInf(UnmapScore(1), 1))
	require.Equal(t, 0.5, ProductThreshold)
}

func BenchmarkOptimize(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var c Corpus
	var scores [][]float64
	for i := range 58 {
		f := testFile(string(rune('A'+i)), 6000, Window{First: 1000, Last: 1300}, Window{First: 4000, Last: 4300})
		c.Files = append(c.Files, f)
		s := make([]float64, f.Rows())
		for r := range s {
			s[r] = rng.Float64()
		}
		scores = append(scores, s)
	}
	sc, err := NewScorer(&c, scores)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		sc.Optimize(standard)
	}
}
