package multivariate

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// jumpSet makes dimension dim of rows [from, from+10) flip by ±0.8
// around its normal value every row: the level stays inside its training
// range, only the row-to-row change is abnormal.
func jumpSet(d, dim, from int) [][]float64 {
	X := synth(1000, d, 2)
	for i := from; i < from+10; i++ {
		if i%2 == 0 {
			X[i][dim] += 0.8
		} else {
			X[i][dim] -= 0.8
		}
	}
	return X
}

// peak returns the highest score over rows [from, to) and how often dim
// had the largest contribution there.
func peak(det *Detector, X [][]float64, from, to, dim int) (float64, int) {
	c := make([]float64, det.Dims())
	var best float64
	top := 0
	for i, r := range X[:to] {
		s := det.Score(r, c)
		if i < from {
			continue
		}
		best = max(best, s)
		j := 0
		for k := range c {
			if c[k] > c[j] {
				j = k
			}
		}
		if j == dim {
			top++
		}
	}
	return best, top
}

func TestDiffInputCatchesJumps(t *testing.T) {
	const d, dim, from = 6, 2, 500
	X := jumpSet(d, dim, from)
	diff := fittedWith(t, Config{Model: "tail@diff", Explain: "none"}, d)
	level := fittedWith(t, Config{Model: "tail", Explain: "none"}, d)
	sd, topD := peak(diff, X, from, from+10, dim)
	sl, _ := peak(level, X, from, from+10, dim)
	require.GreaterOrEqual(t, sd, 1.0, "the jump is far in the tail of the differences")
	require.Less(t, sl, 1.0, "the levels stay in range")
	require.GreaterOrEqual(t, topD, 8, "the jumping dimension is blamed")
	// The two-row window gives PCA the same view.
	both := fittedWith(t, Config{Model: "pca@both", Explain: "none"}, d)
	sb, _ := peak(both, X, from, from+10, dim)
	require.GreaterOrEqual(t, sb, 1.0)
	require.Equal(t, 2*d, both.members[0].model.Dims())
	// A missing value gives its dimension no difference, now and next row.
	c := make([]float64, d)
	diff.Score(X[9], c)
	row := append([]float64(nil), X[10]...)
	row[dim] = math.NaN()
	require.False(t, math.IsNaN(diff.Score(row, c)))
	require.Zero(t, diff.dz[dim])
	require.NotZero(t, diff.dz[dim+1])
	diff.Score(X[11], c)
	require.Zero(t, diff.dz[dim])
	require.NotZero(t, diff.dz[dim+1])
}

func TestMemberSpecs(t *testing.T) {
	_, err := NewDetector(Config{Model: "tail@bogus"})
	require.ErrorContains(t, err, "bogus")
	_, err = NewDetector(Config{Explain: "nope"})
	require.ErrorIs(t, err, ErrUnknownModel)
	det, err := NewDetector(Config{Model: "tail+tail@diff", Params: map[string]string{"tail.cap": "7", "tail@diff.top": "1"}})
	require.NoError(t, err)
	require.Equal(t, 3, det.members[0].model.(*Tail).Top)
	require.Equal(t, 1, det.members[1].model.(*Tail).Top)
	require.InDelta(t, 7, det.members[1].model.(*Tail).Cap, 0, "a model-wide key reaches every member of that model")
	// The default explain member comes after the scoring ones.
	require.Equal(t, 2, det.scoring)
	require.Len(t, det.members, 3)
	require.True(t, det.members[2].explain)
	none, err := NewDetector(Config{Explain: "none"})
	require.NoError(t, err)
	require.Len(t, none.members, none.scoring)
}

// Explain members change the contributions, never the score.
func TestExplainOnlyAttributes(t *testing.T) {
	const d, dim, from = 6, 2, 500
	X := jumpSet(d, dim, from)
	with := fitted(t, "pca+tail", d)
	without := fittedWith(t, Config{Explain: "none"}, d)
	c1, c2 := make([]float64, d), make([]float64, d)
	differ := false
	for _, r := range X {
		require.Equal(t, without.Score(r, c2), with.Score(r, c1))
		for j := range c1 {
			differ = differ || c1[j] != c2[j]
		}
	}
	require.True(t, differ)
	_, top := peak(fitted(t, "pca+tail", d), X, from, from+10, dim)
	require.GreaterOrEqual(t, top, 8)
}
