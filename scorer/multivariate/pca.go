package multivariate

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

func init() {
	Register("pca", "PCA reconstruction error: the squared distance of a row from the principal subspace of the training window (SPE/Q statistic), optionally plus Hotelling's T² inside it. Contribution of a dimension: its squared residual (plus its share of T²).",
		[]Param{
			{"variance", "0.9", "keep the fewest components explaining this share of the variance"},
			{"components", "0", "fixed number of components (0: use variance)"},
			{"t2_weight", "0", "weight of the normalised Hotelling T² (per component) added to the residual"},
		},
		func(p Params) (Model, error) {
			v, err := p.Float("variance")
			if err != nil {
				return nil, err
			}
			k, err := p.Int("components")
			if err != nil {
				return nil, err
			}
			w, err := p.Float("t2_weight")
			if err != nil {
				return nil, err
			}
			if v <= 0 || v > 1 || k < 0 || w < 0 {
				return nil, fmt.Errorf("need 0 < variance <= 1, components >= 0, t2_weight >= 0")
			}
			return &PCA{Variance: v, Components: k, T2Weight: w}, nil
		})
}

// PCA scores a row by its reconstruction error from the top principal
// components of the training window.
type PCA struct {
	Variance   float64
	Components int
	T2Weight   float64

	d, k   int
	mean   []float64 // per dimension
	basis  []float64 // d×k row-major, orthonormal columns
	eig    []float64 // variance of each kept component
	p, res []float64 // scratch
}

// Dims implements Model.
func (m *PCA) Dims() int { return m.d }

// Fit implements Model.
func (m *PCA) Fit(ctx context.Context, X [][]float64) error {
	n := len(X)
	if n < 2 {
		return fmt.Errorf("pca: need at least 2 rows, have %d", n)
	}
	d := len(X[0])
	data := mat.NewDense(n, d, nil)
	for i, r := range X {
		if len(r) != d {
			return fmt.Errorf("pca: row %d has %d values, want %d", i, len(r), d)
		}
		data.SetRow(i, r)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mean := make([]float64, d)
	for j := range d {
		mean[j] = stat.Mean(mat.Col(nil, j, data), nil)
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, data, nil)
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return fmt.Errorf("pca: eigendecomposition failed")
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	var total float64
	for _, v := range vals {
		total += math.Max(v, 0)
	}
	k := m.Components
	if k <= 0 || k > d {
		k, acc := 0, 0.0
		for i := d - 1; i >= 0 && (acc < m.Variance*total || k == 0); i-- {
			acc += math.Max(vals[i], 0)
			k++
		}
		m.k = k
	} else {
		m.k = k
	}
	if m.k >= d { // keep at least one residual direction
		m.k = d - 1
	}
	m.d, m.mean = d, mean
	m.basis = make([]float64, d*m.k)
	m.eig = make([]float64, m.k)
	for c := range m.k {
		col := d - 1 - c
		m.eig[c] = math.Max(vals[col], 1e-12)
		for j := range d {
			m.basis[j*m.k+c] = vecs.At(j, col)
		}
	}
	m.alloc()
	return nil
}

func (m *PCA) alloc() {
	m.p = make([]float64, m.k)
	m.res = make([]float64, m.d)
}

// Score implements Model: ‖z − VVᵀz‖² (+ T2Weight·Σp²/λ / k).
func (m *PCA) Score(row, contrib []float64) float64 {
	if m.d == 0 {
		return 0
	}
	d, k := m.d, m.k
	p := m.p
	clear(p)
	for j := range d {
		x := row[j] - m.mean[j]
		m.res[j] = x
		b := m.basis[j*k : j*k+k]
		for c := range k {
			p[c] += b[c] * x
		}
	}
	var spe float64
	for j := range d {
		b := m.basis[j*k : j*k+k]
		r := m.res[j]
		for c := range k {
			r -= b[c] * p[c]
		}
		m.res[j] = r
		spe += r * r
		if contrib != nil {
			contrib[j] = r * r
		}
	}
	if m.T2Weight == 0 {
		return spe
	}
	var t2 float64
	for c := range k {
		t2 += p[c] * p[c] / m.eig[c]
	}
	t2 *= m.T2Weight / float64(k)
	if contrib != nil && t2 > 0 {
		// Share T² out by each dimension's squared loading-weighted projection.
		var tot float64
		for j := range d {
			b := m.basis[j*k : j*k+k]
			var s float64
			for c := range k {
				s += b[c] * p[c] / math.Sqrt(m.eig[c])
			}
			m.res[j] = s * s
			tot += s * s
		}
		if tot > 0 {
			for j := range d {
				contrib[j] += t2 * m.res[j] / tot
			}
		}
	}
	return spe + t2
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *PCA) MarshalBinary() ([]byte, error) {
	var e encoder
	e.str("pca/1")
	e.f64(m.Variance)
	e.int(m.Components)
	e.f64(m.T2Weight)
	e.int(m.d)
	e.int(m.k)
	e.floats(m.mean)
	e.floats(m.basis)
	e.floats(m.eig)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (m *PCA) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.tag("pca/1")
	var n PCA
	n.Variance, n.Components, n.T2Weight = d.f64(), d.int(), d.f64()
	n.d, n.k = d.int(), d.int()
	n.mean, n.basis, n.eig = d.floats(), d.floats(), d.floats()
	if err := d.finish(); err != nil {
		return err
	}
	if n.d < 0 || n.k < 0 || len(n.mean) != n.d || len(n.basis) != n.d*n.k || len(n.eig) != n.k {
		return fmt.Errorf("%w: pca shapes d=%d k=%d", ErrCorrupt, n.d, n.k)
	}
	n.alloc()
	*m = n
	return nil
}
