package rca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// scenario is a synthetic incident: a fault in a backend database spreads
// to the backend and then to the frontend's latency KPI through a known
// graph, among noisy series that have nothing to do with it.
type scenario struct {
	problem Problem
	cause   string // the true root-cause entity
}

const (
	scenarioStep  = 15 * time.Second
	scenarioStart = 1_700_000_000_000 // Unix ms
)

// newScenario builds n points per series, the fault at point onset of
// the database, reaching the backend lag points later and the frontend
// 2*lag points later (the anomaly time), with distractors noisy series.
func newScenario(seed uint64, n, onset, lag, distractors int) scenario {
	rng := rand.New(rand.NewPCG(seed, 1))
	times := make([]int64, n)
	for i := range times {
		times[i] = scenarioStart + int64(i)*scenarioStep.Milliseconds()
	}
	noise := func(level, sd float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = level + sd*rng.NormFloat64()
		}
		return v
	}
	step := func(v []float64, from int, size float64) []float64 {
		for i := from; i < n; i++ {
			v[i] += size
		}
		return v
	}
	series := func(entity, metric string, v []float64) Series {
		return Series{Metric: metric, Labels: map[string]string{"pod": entity}, Times: times, Values: v}
	}
	kpiAt := onset + 2*lag
	kpi := series("frontend", "http_latency_seconds", step(noise(0.2, 0.02), kpiAt, 0.3))
	cands := []Series{
		// The cause: the database saturates its CPU.
		series("db", "container_cpu_usage", step(noise(20, 2), onset, 60)),
		series("db", "container_memory_bytes", noise(1e9, 1e6)),
		// Its effects, smaller in their own units.
		series("backend", "request_latency_seconds", step(noise(0.1, 0.01), onset+lag, 0.15)),
		series("backend", "container_cpu_usage", step(noise(30, 3), onset+lag, 8)),
		series("frontend", "container_cpu_usage", step(noise(25, 3), kpiAt, 5)),
	}
	others := []string{"cache", "queue", "auth", "search"}
	for i := range distractors {
		ent := others[i%len(others)]
		var v []float64
		switch i % 4 {
		case 0: // heavy noise
			v = noise(50, 10)
		case 1: // a random walk
			v = noise(0, 1)
			for j := 1; j < n; j++ {
				v[j] += v[j-1]
			}
		case 2: // a daily-like wave
			v = noise(10, 0.5)
			for j := range v {
				v[j] += 5 * math.Sin(float64(j)/20)
			}
		default: // a burst long before the incident
			v = noise(5, 0.5)
			for j := n / 10; j < n/10+10 && j < n; j++ {
				v[j] += 40
			}
		}
		cands = append(cands, series(ent, fmt.Sprintf("distractor_%d", i), v))
	}
	g, err := NewGraph([]Entity{
		{ID: "frontend", Labels: map[string]string{"pod": "frontend"}},
		{ID: "backend", Labels: map[string]string{"pod": "backend"}},
		{ID: "db", Labels: map[string]string{"pod": "db"}},
		{ID: "cache", Labels: map[string]string{"pod": "cache"}},
		{ID: "queue", Labels: map[string]string{"pod": "queue"}},
		{ID: "auth", Labels: map[string]string{"pod": "auth"}},
		{ID: "search", Labels: map[string]string{"pod": "search"}},
	}, []Edge{
		{From: "frontend", To: "backend", Type: "connect"},
		{From: "frontend", To: "auth", Type: "connect"},
		{From: "backend", To: "db", Type: "connect"},
		{From: "backend", To: "cache", Type: "connect"},
		{From: "search", To: "queue", Type: "connect"},
	})
	if err != nil {
		panic(err) // static input
	}
	return scenario{
		problem: Problem{
			KPI:        &kpi,
			Time:       time.UnixMilli(times[kpiAt]),
			Candidates: cands,
			Graph:      g,
		},
		cause: "db",
	}
}
