package rca

import "math"

// Graph ranking: a personalized PageRank over the entity dependency graph,
// as MicroRCA (Wu et al., NOMS 2020) and gala-anteater's causal graph
// ranking do. A walker starts from anomalous entities, moves along the
// dependency edges towards what an entity depends on, preferring
// neighbours that are anomalous and whose series move with the KPI, and
// now and then jumps back to an anomalous entity. Where the walker spends
// its time is where the fault most likely started: at an anomalous entity
// whose own dependencies look healthy.

// WalkOptions tune the graph ranking.
type WalkOptions struct {
	// Damping is the probability of following an edge rather than
	// jumping back (default 0.85).
	Damping float64
	// Backward weighs a step from an entity to one that depends on it,
	// against the dependency edge (default 0.3): faults travel mostly
	// from dependencies to dependents, but metrics and edges are
	// imperfect, so the walker may step back.
	Backward float64
	// Alpha weighs anomaly against correlation with the KPI in an
	// edge's weight (default 0.5; 1 without a KPI).
	Alpha float64
	// Iterations bounds the power iteration (default 100).
	Iterations int
}

func (o *WalkOptions) defaults() {
	if o.Damping <= 0 || o.Damping >= 1 {
		o.Damping = 0.85
	}
	if o.Backward < 0 {
		o.Backward = 0
	} else if o.Backward == 0 {
		o.Backward = 0.3
	}
	if o.Alpha <= 0 || o.Alpha > 1 {
		o.Alpha = 0.5
	}
	if o.Iterations <= 0 {
		o.Iterations = 100
	}
}

// walk ranks the entities ids (indices into anomaly and corr, both in
// [0, 1]) over g. Entities absent from g only keep what they get by
// jumps and their self-loop. It returns the stationary probabilities.
func walk(g *Graph, ids []string, anomaly, corr []float64, hasKPI bool, opts WalkOptions) []float64 {
	opts.defaults()
	alpha := opts.Alpha
	if !hasKPI {
		alpha = 1
	}
	n := len(ids)
	pos := make(map[string]int, n)
	for i, id := range ids {
		pos[id] = i
	}
	weight := make([]float64, n)
	for i := range ids {
		weight[i] = alpha*anomaly[i] + (1-alpha)*corr[i]
	}
	// Transitions as sparse rows: to[i] lists (j, p) for the step i → j.
	type step struct {
		to int
		p  float64
	}
	rows := make([][]step, n)
	dangling := make([]bool, n)
	for i, id := range ids {
		var row []step
		maxNeighbour := 0.0
		if g != nil && g.entities != nil {
			for _, nb := range g.out[id] {
				if j, ok := pos[nb]; ok {
					row = append(row, step{j, weight[j]})
					maxNeighbour = math.Max(maxNeighbour, weight[j])
				}
			}
			for _, nb := range g.in[id] {
				if j, ok := pos[nb]; ok {
					row = append(row, step{j, opts.Backward * weight[j]})
					maxNeighbour = math.Max(maxNeighbour, opts.Backward*weight[j])
				}
			}
		}
		// A self-loop keeps the walker at an entity more anomalous than
		// all it could move to: the likely origin (as CloudRanger does).
		if self := weight[i] - maxNeighbour; self > 0 {
			row = append(row, step{i, self})
		}
		total := 0.0
		for _, s := range row {
			total += s.p
		}
		if total <= 0 {
			dangling[i] = true
			continue
		}
		for k := range row {
			row[k].p /= total
		}
		rows[i] = row
	}
	// Jumps land on anomalous entities, more so on those moving with the
	// KPI.
	pers := make([]float64, n)
	sum := 0.0
	for i := range ids {
		pers[i] = anomaly[i] * (0.5 + 0.5*corr[i])
		if !hasKPI {
			pers[i] = anomaly[i]
		}
		sum += pers[i]
	}
	if sum <= 0 {
		for i := range pers {
			pers[i] = 1
		}
		sum = float64(n)
	}
	for i := range pers {
		pers[i] /= sum
	}
	rank := append([]float64(nil), pers...)
	next := make([]float64, n)
	for range opts.Iterations {
		lost := 0.0
		for i := range next {
			next[i] = 0
		}
		for i, row := range rows {
			if dangling[i] {
				lost += rank[i]
				continue
			}
			for _, s := range row {
				next[s.to] += rank[i] * s.p
			}
		}
		delta := 0.0
		for i := range next {
			v := opts.Damping*(next[i]+lost*pers[i]) + (1-opts.Damping)*pers[i]
			delta += math.Abs(v - rank[i])
			next[i] = v
		}
		rank, next = next, rank
		if delta < 1e-10 {
			break
		}
	}
	return rank
}

// pearson is the correlation of a and b over the times both have a finite
// sample; 0 when fewer than three such samples or either is flat. Two
// passes (means first) keep byte-sized series from losing precision.
func pearson(at []int64, a []float64, bt []int64, b []float64) float64 {
	var n, ma, mb float64
	eachPair(at, a, bt, b, func(x, y float64) {
		n++
		ma += x
		mb += y
	})
	if n < 3 {
		return 0
	}
	ma /= n
	mb /= n
	var va, vb, cov float64
	eachPair(at, a, bt, b, func(x, y float64) {
		dx, dy := x-ma, y-mb
		va += dx * dx
		vb += dy * dy
		cov += dx * dy
	})
	if va <= 0 || vb <= 0 {
		return 0
	}
	return math.Max(-1, math.Min(1, cov/math.Sqrt(va*vb)))
}

// eachPair calls f for the finite samples of a and b at equal times.
func eachPair(at []int64, a []float64, bt []int64, b []float64, f func(x, y float64)) {
	for i, j := 0, 0; i < len(at) && j < len(bt); {
		switch {
		case at[i] < bt[j]:
			i++
		case at[i] > bt[j]:
			j++
		default:
			x, y := a[i], b[j]
			i++
			j++
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				continue
			}
			f(x, y)
		}
	}
}
