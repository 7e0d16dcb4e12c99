package multivariate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

func init() {
	Register("iforest", "Isolation forest (Liu, Ting & Zhou 2008): the score is 2^(−E[h]/c(ψ)) for mean path length E[h]. A value outside the training range of a node on its split feature ends the path there (isolated), so values beyond the training range score higher than the training extremes. A dimension's contribution is the isolation it caused along the row's paths: every split on it adds the share of the node's training rows it cut away from the row (1 when it isolates the row).",
		[]Param{
			{"trees", "100", "number of trees"},
			{"sample", "256", "rows sampled per tree (ψ)"},
			{"seed", "1", "random seed"},
		},
		func(p Params) (Model, error) {
			t, err := p.Int("trees")
			if err != nil {
				return nil, err
			}
			s, err := p.Int("sample")
			if err != nil {
				return nil, err
			}
			seed, err := p.Int("seed")
			if err != nil {
				return nil, err
			}
			if t < 1 || s < 2 {
				return nil, fmt.Errorf("need trees >= 1, sample >= 2")
			}
			return &IForest{Trees: t, Sample: s, Seed: uint64(seed)}, nil
		})
}

// ifNode is a node of a flattened isolation tree; feature < 0 marks a leaf.
type ifNode struct {
	feature     int32
	left, right int32
	size        int32 // training rows that reached the node
	split       float64
	// lo, hi bound the split feature over the node's training rows.
	lo, hi float64
}

// IForest is an isolation forest.
type IForest struct {
	Trees, Sample int
	Seed          uint64

	d     int
	psi   int
	roots []int32
	nodes []ifNode
}

// Dims implements Model.
func (f *IForest) Dims() int { return f.d }

// avgPath is c(n), the mean path length of an unsuccessful BST search,
// which an external node of size n stands for.
func avgPath(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	x := float64(n)
	return 2*(math.Log(x-1)+0.5772156649) - 2*(x-1)/x
}

// Fit implements Model.
func (f *IForest) Fit(ctx context.Context, X [][]float64) error {
	if len(X) < 2 {
		return fmt.Errorf("iforest: need at least 2 rows, have %d", len(X))
	}
	d := len(X[0])
	for i, r := range X {
		if len(r) != d {
			return fmt.Errorf("iforest: row %d has %d values, want %d", i, len(r), d)
		}
	}
	rng := rand.New(rand.NewPCG(f.Seed, 0x69666f72657374))
	f.d = d
	f.psi = min(f.Sample, len(X))
	limit := int(math.Ceil(math.Log2(float64(f.psi))))
	f.roots = f.roots[:0]
	f.nodes = f.nodes[:0]
	idx := make([]int, len(X))
	for i := range idx {
		idx[i] = i
	}
	feats := make([]int, d)
	for range f.Trees {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Partial Fisher–Yates: the first psi entries are the sample.
		for i := range f.psi {
			j := i + rng.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		sample := append([]int(nil), idx[:f.psi]...)
		f.roots = append(f.roots, f.build(X, sample, 0, limit, rng, feats))
	}
	return nil
}

func (f *IForest) build(X [][]float64, rows []int, depth, limit int, rng *rand.Rand, feats []int) int32 {
	id := int32(len(f.nodes))
	f.nodes = append(f.nodes, ifNode{feature: -1, size: int32(len(rows))})
	if len(rows) <= 1 || depth >= limit {
		return id
	}
	// Split only on features that vary within the node.
	feats = feats[:0]
	for j := range f.d {
		v0 := X[rows[0]][j]
		for _, r := range rows[1:] {
			if X[r][j] != v0 {
				feats = append(feats, j)
				break
			}
		}
	}
	if len(feats) == 0 {
		return id
	}
	j := feats[rng.IntN(len(feats))]
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		lo, hi = min(lo, X[r][j]), max(hi, X[r][j])
	}
	split := lo + rng.Float64()*(hi-lo)
	if split <= lo { // keep both sides non-empty
		split = math.Nextafter(lo, hi)
	}
	// Partition rows in place: < split left.
	i := 0
	for k, r := range rows {
		if X[r][j] < split {
			rows[i], rows[k] = rows[k], rows[i]
			i++
		}
	}
	left := f.build(X, rows[:i], depth+1, limit, rng, feats)
	right := f.build(X, rows[i:], depth+1, limit, rng, feats)
	f.nodes[id].feature, f.nodes[id].split = int32(j), split
	f.nodes[id].lo, f.nodes[id].hi = lo, hi
	f.nodes[id].left, f.nodes[id].right = left, right
	return id
}

// Score implements Model: the isolation score 2^(−E[h]/c(ψ)) in (0, 1).
func (f *IForest) Score(row, contrib []float64) float64 {
	if f.d == 0 {
		return 0
	}
	if contrib != nil {
		clear(contrib)
	}
	var total float64
	isolated := false
	for _, root := range f.roots {
		n := &f.nodes[root]
		depth := 0
		for n.feature >= 0 {
			if v := row[n.feature]; v < n.lo || v > n.hi {
				// Outside every training row of the node on this
				// feature: a split between them and the row isolates
				// it here. Without this, a value far beyond the
				// training range would score like the training extreme.
				if contrib != nil {
					contrib[n.feature]++
				}
				depth++
				isolated = true
				break
			}
			next := &f.nodes[n.right]
			if row[n.feature] < n.split {
				next = &f.nodes[n.left]
			}
			if contrib != nil {
				contrib[n.feature] += 1 - float64(next.size)/float64(n.size)
			}
			n = next
			depth++
		}
		if isolated {
			isolated = false
			total += float64(depth)
			continue
		}
		total += float64(depth) + avgPath(int(n.size))
	}
	mean := total / float64(len(f.roots))
	return math.Exp2(-mean / avgPath(f.psi))
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (f *IForest) MarshalBinary() ([]byte, error) {
	var e encoder
	e.str("iforest/2")
	e.ints([]int{f.Trees, f.Sample, int(f.Seed), f.d, f.psi})
	roots := make([]int, len(f.roots))
	for i, r := range f.roots {
		roots[i] = int(r)
	}
	e.ints(roots)
	e.int(len(f.nodes))
	for _, n := range f.nodes {
		e.int(int(n.feature))
		e.int(int(n.left))
		e.int(int(n.right))
		e.int(int(n.size))
		e.f64(n.split)
		e.f64(n.lo)
		e.f64(n.hi)
	}
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It checks every
// node reference so that a corrupt state cannot make Score loop or index
// out of range.
func (f *IForest) UnmarshalBinary(b []byte) error {
	dec := decoder{b: b}
	dec.tag("iforest/2")
	h := dec.ints()
	roots := dec.ints()
	nn := dec.length(56)
	if dec.err != nil {
		return dec.err
	}
	if len(h) != 5 {
		return fmt.Errorf("%w: iforest header", ErrCorrupt)
	}
	n := IForest{Trees: h[0], Sample: h[1], Seed: uint64(h[2]), d: h[3], psi: h[4]}
	n.nodes = make([]ifNode, nn)
	for i := range n.nodes {
		n.nodes[i] = ifNode{feature: int32(dec.int()), left: int32(dec.int()), right: int32(dec.int()), size: int32(dec.int()), split: dec.f64(), lo: dec.f64(), hi: dec.f64()}
	}
	if err := dec.finish(); err != nil {
		return err
	}
	for i, nd := range n.nodes {
		if nd.feature >= 0 && (int(nd.feature) >= n.d || int(nd.left) <= i || int(nd.right) <= i || int(nd.left) >= nn || int(nd.right) >= nn || nd.size < 1) {
			return fmt.Errorf("%w: iforest node %d", ErrCorrupt, i)
		}
	}
	for _, r := range roots {
		if r < 0 || r >= nn {
			return fmt.Errorf("%w: iforest root %d", ErrCorrupt, r)
		}
		n.roots = append(n.roots, int32(r))
	}
	if n.d > 0 && (len(n.roots) == 0 || n.psi < 2) {
		return fmt.Errorf("%w: iforest without trees", ErrCorrupt)
	}
	*f = n
	return nil
}
