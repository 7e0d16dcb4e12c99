package rca

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRankFindsCauseWithEachMethod(t *testing.T) {
	for _, method := range append(Methods, "combined") {
		t.Run(method, func(t *testing.T) {
			opts := Options{Methods: []string{method}}
			if method == "combined" {
				opts.Methods = nil
			}
			e, err := NewEngine(opts)
			require.NoError(t, err)
			for seed := range uint64(5) {
				sc := newScenario(seed, 240, 160, 4, 40)
				res, err := e.Rank(context.Background(), sc.problem)
				require.NoError(t, err)
				require.NotEmpty(t, res.Causes)
				require.Equal(t, sc.cause, res.Causes[0].Entity, "seed %d: top cause %s", seed, res.Causes[0].Metric)
				require.Equal(t, "container_cpu_usage", res.Causes[0].Metric)
				require.Equal(t, sc.cause, res.Entities[0].Entity)
				require.Equal(t, "frontend", res.KPIEntity)
				require.InDelta(t, 1, res.Causes[0].Score, 1e-9, "the best cause scores 1")
			}
		})
	}
}

func TestRankPathFollowsPropagation(t *testing.T) {
	e, err := NewEngine(Options{})
	require.NoError(t, err)
	sc := newScenario(7, 240, 160, 4, 20)
	res, err := e.Rank(context.Background(), sc.problem)
	require.NoError(t, err)
	top := res.Causes[0]
	require.Equal(t, KeywordProcess, top.Keyword, "container metrics are process causes, as in gala-anteater")
	var ids []string
	for _, n := range top.Path {
		ids = append(ids, n.Entity)
		require.True(t, n.Abnormal, "every entity on the path moved: %s", n.Entity)
	}
	require.Equal(t, []string{"db", "backend", "frontend"}, ids)
	require.Equal(t, map[string]string{"pod": "db"}, top.Path[0].Labels)
}

func TestRankStateFunction(t *testing.T) {
	e, err := NewEngine(Options{Methods: []string{MethodRobust}})
	require.NoError(t, err)
	sc := newScenario(3, 240, 160, 4, 0)
	sc.problem.State = func(id string) (bool, bool) {
		if id == "backend" {
			return false, true // the state source says backend is fine
		}
		return false, false
	}
	res, err := e.Rank(context.Background(), sc.problem)
	require.NoError(t, err)
	states := map[string]bool{}
	for _, n := range res.Causes[0].Path {
		states[n.Entity] = n.Abnormal
	}
	require.Equal(t, map[string]bool{"db": true, "backend": false, "frontend": true}, states)
}

func TestRankWithoutGraphOrKPI(t *testing.T) {
	for _, method := range Methods {
		t.Run(method, func(t *testing.T) {
			e, err := NewEngine(Options{Methods: []string{method}})
			require.NoError(t, err)
			sc := newScenario(11, 240, 160, 4, 30)
			sc.problem.Graph = nil
			sc.problem.KPI = nil
			for i := range sc.problem.Candidates {
				sc.problem.Candidates[i].Entity = sc.problem.Candidates[i].Labels["pod"]
			}
			res, err := e.Rank(context.Background(), sc.problem)
			require.NoError(t, err)
			require.Equal(t, sc.cause, res.Causes[0].Entity)
			require.Len(t, res.Causes[0].Path, 1, "no graph: the path is the cause alone")
		})
	}
}

func TestRankSkipsKPIAndBoundsCauses(t *testing.T) {
	e, err := NewEngine(Options{Methods: []string{MethodRobust}, MaxCauses: 3})
	require.NoError(t, err)
	sc := newScenario(1, 120, 80, 2, 10)
	sc.problem.Candidates = append(sc.problem.Candidates, *sc.problem.KPI)
	res, err := e.Rank(context.Background(), sc.problem)
	require.NoError(t, err)
	require.Len(t, res.Causes, 3)
	for _, c := range res.Causes {
		require.NotEqual(t, sc.problem.KPI.Metric, c.Metric)
	}
}

func TestRankErrors(t *testing.T) {
	e, err := NewEngine(Options{})
	require.NoError(t, err)
	ctx := context.Background()
	now := time.UnixMilli(scenarioStart)
	_, err = e.Rank(ctx, Problem{Time: now})
	require.ErrorIs(t, err, ErrNoCandidates)
	_, err = e.Rank(ctx, Problem{Candidates: []Series{{Metric: "m"}}})
	require.ErrorContains(t, err, "anomaly time")
	_, err = e.Rank(ctx, Problem{Time: now, Candidates: []Series{{Metric: "m", Times: []int64{1, 2}, Values: []float64{1}}}})
	require.ErrorContains(t, err, "2 times but 1 values")
	_, err = e.Rank(ctx, Problem{Time: now, Candidates: []Series{{Metric: "m", Times: []int64{2, 1}, Values: []float64{1, 2}}}})
	require.ErrorContains(t, err, "not increasing")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	sc := newScenario(1, 120, 80, 2, 10)
	_, err = e.Rank(cancelled, sc.problem)
	require.ErrorIs(t, err, context.Canceled)

	_, err = NewEngine(Options{Methods: []string{"magic"}})
	require.ErrorContains(t, err, `unknown method "magic"`)
	_, err = NewEngine(Options{Methods: []string{MethodRobust, MethodRobust}})
	require.ErrorContains(t, err, "twice")
	_, err = NewEngine(Options{Keywords: []KeywordRule{{Keyword: "x", Pattern: "("}}})
	require.Error(t, err)
}

func TestRankHandlesMissingSamples(t *testing.T) {
	e, err := NewEngine(Options{})
	require.NoError(t, err)
	sc := newScenario(5, 240, 160, 4, 10)
	for i := range sc.problem.Candidates {
		v := append([]float64(nil), sc.problem.Candidates[i].Values...)
		for j := 0; j < len(v); j += 7 {
			v[j] = math.NaN()
		}
		sc.problem.Candidates[i].Values = v
	}
	res, err := e.Rank(context.Background(), sc.problem)
	require.NoError(t, err)
	require.Equal(t, sc.cause, res.Causes[0].Entity)
	for _, c := range res.Causes {
		require.False(t, math.IsNaN(c.Score))
	}
}

func TestRobustScore(t *testing.T) {
	before := []float64{1, 2, 3, 4, 5} // median 3, IQR 4-2 = 2
	scratch := make([]float64, 0, 5)
	require.InDelta(t, 3.5, robustScore(before, []float64{3, 10}, scratch, Both), 1e-12)
	require.InDelta(t, 3.5, robustScore(before, []float64{10, -4}, scratch, Both), 1e-12)
	require.InDelta(t, 3.5, robustScore(before, []float64{10, -4}, scratch, Up), 1e-12)
	require.InDelta(t, 3.5, robustScore(before, []float64{-4, 4}, scratch, Down), 1e-12)
	require.Zero(t, robustScore(before, nil, scratch, Both))
	require.Zero(t, robustScore([]float64{math.NaN()}, []float64{1}, scratch, Both))
	// A flat history gets a spread of 1% of its level.
	require.InDelta(t, 10, robustScore([]float64{100, 100, 100}, []float64{110}, scratch, Both), 1e-9)
	// A tiny spread on a big level is floored the same way.
	require.InDelta(t, 2, robustScore([]float64{1e9, 1e9 + 4096, 1e9, 1e9 + 4096}, []float64{1.02e9 + 2048}, scratch, Both), 0.01)
	// n-sigma: mean 3, sd sqrt(2).
	require.InDelta(t, 7/math.Sqrt2, nSigmaScore(before, []float64{10}, Both), 1e-9)
}

func TestEventCorrelation(t *testing.T) {
	const n, split = 400, 300
	mk := func(changeAt int, size float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Sin(float64(i)*12.9898) * 0.5 // deterministic noise
			if changeAt >= 0 && i >= changeAt {
				v[i] += size
			}
		}
		return v
	}
	c := newCorrelator(CorrelationOptions{Window: 20, Draws: 30, Seed: 1})
	lead := c.correlate(mk(split-15, 5), split, 0.5, 1)
	require.Equal(t, Leads, lead.Relation, "%+v", lead)
	follow := c.correlate(mk(split+2, 5), split, 0.5, 2)
	require.Equal(t, Follows, follow.Relation, "%+v", follow)
	none := c.correlate(mk(-1, 0), split, 0.5, 3)
	require.Equal(t, Unrelated, none.Relation, "%+v", none)
	require.Greater(t, lead.Score(0.5), follow.Score(0.5))
	require.Greater(t, follow.Score(0.5), none.Score(0.5))
	short := c.correlate(mk(-1, 0)[:12], 8, 0.5, 4)
	require.Equal(t, EventCorrelation{}, short, "too short to test")
	require.Equal(t, "leads", Leads.String())
}

func TestMannWhitney(t *testing.T) {
	pairs := []rankPair{{1, 0}, {2, 0}, {3, 0}, {4, 1}, {5, 1}, {6, 1}}
	// U of group 0 is 0: every value below group 1's.
	z := mannWhitneyZ(pairs, 3, 3)
	require.InDelta(t, -4.5/math.Sqrt(5.25), z, 1e-12)
	ties := []rankPair{{1, 0}, {1, 1}, {1, 0}, {1, 1}}
	require.Zero(t, mannWhitneyZ(ties, 2, 2))
}

func TestPearson(t *testing.T) {
	at := []int64{1, 2, 3, 4, 5}
	bt := []int64{2, 3, 4, 5, 6}
	a := []float64{1e9, 2e9, 3e9, 4e9, 5e9}
	b := []float64{2, 3, 4, 5, 6}
	require.InDelta(t, 1, pearson(at, a, bt, b), 1e-12)
	require.InDelta(t, -1, pearson(at, a, bt, []float64{6, 5, 4, 3, 2}), 1e-12)
	require.Zero(t, pearson(at, a, []int64{10, 11}, []float64{1, 2}))
}

func TestClassifier(t *testing.T) {
	c, err := NewClassifier(nil)
	require.NoError(t, err)
	for metric, want := range map[string]string{
		"gala_gopher_container_cpu_user_seconds_total": KeywordProcess,
		"gala_gopher_proc_wchar_bytes":                 KeywordProcess,
		"gala_gopher_l7_latency_avg":                   "",
		"gala_gopher_disk_rspeed_kB":                   KeywordDisk,
		"gala_gopher_tcp_link_notack_bytes":            KeywordNetwork,
		"node_memory_MemFree_bytes":                    KeywordMemory,
		"node_cpu_seconds_total":                       KeywordCPU,
		"node_filesystem_avail_bytes":                  KeywordFileSystem,
		"carts_mem":                                    KeywordMemory,
		"carts_lat_50":                                 "",
	} {
		require.Equal(t, want, c.Classify(metric), metric)
	}
	_, err = NewClassifier([]KeywordRule{{Pattern: "x"}})
	require.ErrorContains(t, err, "empty keyword")
}
