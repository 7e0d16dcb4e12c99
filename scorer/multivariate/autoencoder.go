package multivariate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

func init() {
	Register("autoencoder", "Dense autoencoder D→hidden→latent→hidden→D (tanh hidden layers, linear bottleneck and output) trained with Adam on the mean squared reconstruction error; the score is the squared reconstruction error of a row and a dimension's contribution its squared error.",
		[]Param{
			{"hidden", "32", "units of each hidden layer"},
			{"latent", "8", "units of the bottleneck"},
			{"epochs", "15", "passes over the training window"},
			{"batch", "64", "rows per gradient step"},
			{"learning_rate", "0.002", "Adam step size"},
			{"weight_decay", "1e-5", "L2 penalty on weights"},
			{"seed", "1", "random seed (training is deterministic for a seed)"},
		},
		func(p Params) (Model, error) {
			var a Autoencoder
			var err error
			get := func(name string, dst *int) {
				if err == nil {
					*dst, err = p.Int(name)
				}
			}
			getF := func(name string, dst *float64) {
				if err == nil {
					*dst, err = p.Float(name)
				}
			}
			get("hidden", &a.Hidden)
			get("latent", &a.Latent)
			get("epochs", &a.Epochs)
			get("batch", &a.Batch)
			getF("learning_rate", &a.LearningRate)
			getF("weight_decay", &a.WeightDecay)
			var seed int
			get("seed", &seed)
			a.Seed = uint64(seed)
			if err != nil {
				return nil, err
			}
			if a.Hidden < 1 || a.Latent < 1 || a.Epochs < 1 || a.Batch < 1 || !(a.LearningRate > 0) || a.WeightDecay < 0 {
				return nil, fmt.Errorf("need hidden, latent, epochs, batch >= 1, learning_rate > 0, weight_decay >= 0")
			}
			return &a, nil
		})
}

// dense is one fully connected layer y = act(Wx + b), W out×in row-major.
type dense struct {
	in, out int
	tanh    bool
	w, b    []float64
	// Training state: gradients and Adam moments.
	gw, gb, mw, vw, mb, vb []float64
}

func newDense(in, out int, tanh bool, rng *rand.Rand) *dense {
	l := &dense{in: in, out: out, tanh: tanh, w: make([]float64, in*out), b: make([]float64, out)}
	// Glorot uniform initialisation keeps tanh layers out of saturation.
	lim := math.Sqrt(6 / float64(in+out))
	for i := range l.w {
		l.w[i] = (rng.Float64()*2 - 1) * lim
	}
	return l
}

func (l *dense) forward(x, y []float64) {
	for o := range l.out {
		w := l.w[o*l.in : (o+1)*l.in]
		s := l.b[o]
		for i, v := range x {
			s += w[i] * v
		}
		if l.tanh {
			s = math.Tanh(s)
		}
		y[o] = s
	}
}

// backward takes dL/dy (overwritten with dL/d(pre-activation)), accumulates
// the gradients and writes dL/dx into dx when not nil.
func (l *dense) backward(x, y, dy, dx []float64) {
	if l.tanh {
		for o := range dy {
			dy[o] *= 1 - y[o]*y[o]
		}
	}
	clear(dx)
	for o, g := range dy {
		l.gb[o] += g
		gw := l.gw[o*l.in : (o+1)*l.in]
		w := l.w[o*l.in : (o+1)*l.in]
		for i, v := range x {
			gw[i] += g * v
			if dx != nil {
				dx[i] += g * w[i]
			}
		}
	}
}

func (l *dense) initTraining() {
	l.gw, l.mw, l.vw = make([]float64, len(l.w)), make([]float64, len(l.w)), make([]float64, len(l.w))
	l.gb, l.mb, l.vb = make([]float64, len(l.b)), make([]float64, len(l.b)), make([]float64, len(l.b))
}

func (l *dense) dropTraining() { l.gw, l.gb, l.mw, l.vw, l.mb, l.vb = nil, nil, nil, nil, nil, nil }

// adam applies one Adam step (Kingma & Ba 2015) with the mean gradient
// over n rows and clears the gradients.
func (l *dense) adam(n int, lr, decay float64, t int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(t))
	c2 := 1 - math.Pow(b2, float64(t))
	step := func(p, g, m, v []float64, wd float64) {
		for i := range p {
			gi := g[i]/float64(n) + wd*p[i]
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			p[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
			g[i] = 0
		}
	}
	step(l.w, l.gw, l.mw, l.vw, decay)
	step(l.b, l.gb, l.mb, l.vb, 0)
}

// Autoencoder is a small dense autoencoder trained in pure Go.
type Autoencoder struct {
	Hidden, Latent, Epochs, Batch int
	LearningRate, WeightDecay     float64
	Seed                          uint64

	d      int
	layers []*dense
	acts   [][]float64 // scratch: acts[0] input, acts[i+1] output of layer i
}

// Dims implements Model.
func (a *Autoencoder) Dims() int { return a.d }

func (a *Autoencoder) allocActs() {
	a.acts = make([][]float64, len(a.layers)+1)
	a.acts[0] = make([]float64, a.d)
	for i, l := range a.layers {
		a.acts[i+1] = make([]float64, l.out)
	}
}

// Fit implements Model.
func (a *Autoencoder) Fit(ctx context.Context, X [][]float64) error {
	if len(X) < 2 {
		return fmt.Errorf("autoencoder: need at least 2 rows, have %d", len(X))
	}
	d := len(X[0])
	for i, r := range X {
		if len(r) != d {
			return fmt.Errorf("autoencoder: row %d has %d values, want %d", i, len(r), d)
		}
	}
	rng := rand.New(rand.NewPCG(a.Seed, 0x616e746561746572))
	a.d = d
	a.layers = []*dense{
		newDense(d, a.Hidden, true, rng),
		newDense(a.Hidden, a.Latent, false, rng),
		newDense(a.Latent, a.Hidden, true, rng),
		newDense(a.Hidden, d, false, rng),
	}
	for _, l := range a.layers {
		l.initTraining()
	}
	defer func() {
		for _, l := range a.layers {
			l.dropTraining()
		}
	}()
	a.allocActs()
	grads := make([][]float64, len(a.acts))
	for i, v := range a.acts {
		grads[i] = make([]float64, len(v))
	}
	order := make([]int, len(X))
	for i := range order {
		order[i] = i
	}
	step := 0
	for range a.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += a.Batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			end := min(start+a.Batch, len(order))
			for _, idx := range order[start:end] {
				x := X[idx]
				a.forward(x)
				out := a.acts[len(a.acts)-1]
				g := grads[len(grads)-1]
				for j := range g {
					g[j] = 2 * (out[j] - x[j]) / float64(d)
				}
				for li := len(a.layers) - 1; li >= 0; li-- {
					var dx []float64
					if li > 0 {
						dx = grads[li]
					}
					a.layers[li].backward(a.acts[li], a.acts[li+1], grads[li+1], dx)
				}
			}
			step++
			for _, l := range a.layers {
				l.adam(end-start, a.LearningRate, a.WeightDecay, step)
			}
		}
	}
	return nil
}

func (a *Autoencoder) forward(x []float64) {
	copy(a.acts[0], x)
	for i, l := range a.layers {
		l.forward(a.acts[i], a.acts[i+1])
	}
}

// Score implements Model: Σ (x − x̂)².
func (a *Autoencoder) Score(row, contrib []float64) float64 {
	if a.d == 0 {
		return 0
	}
	a.forward(row)
	out := a.acts[len(a.acts)-1]
	var s float64
	for j, x := range row[:a.d] {
		e := (x - out[j]) * (x - out[j])
		s += e
		if contrib != nil {
			contrib[j] = e
		}
	}
	return s
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (a *Autoencoder) MarshalBinary() ([]byte, error) {
	var e encoder
	e.str("autoencoder/1")
	e.ints([]int{a.Hidden, a.Latent, a.Epochs, a.Batch, int(a.Seed), a.d})
	e.f64(a.LearningRate)
	e.f64(a.WeightDecay)
	e.int(len(a.layers))
	for _, l := range a.layers {
		e.ints([]int{l.in, l.out, b2i(l.tanh)})
		e.floats(l.w)
		e.floats(l.b)
	}
	return e.b, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (a *Autoencoder) UnmarshalBinary(b []byte) error {
	dec := decoder{b: b}
	dec.tag("autoencoder/1")
	h := dec.ints()
	var n Autoencoder
	n.LearningRate, n.WeightDecay = dec.f64(), dec.f64()
	nl := dec.length(8)
	if dec.err == nil && len(h) != 6 {
		return fmt.Errorf("%w: autoencoder header", ErrCorrupt)
	}
	if dec.err != nil {
		return dec.err
	}
	n.Hidden, n.Latent, n.Epochs, n.Batch, n.Seed, n.d = h[0], h[1], h[2], h[3], uint64(h[4]), h[5]
	prev := n.d
	for range nl {
		s := dec.ints()
		w, bias := dec.floats(), dec.floats()
		if dec.err != nil {
			return dec.err
		}
		if len(s) != 3 || s[0] != prev || s[1] < 1 || len(w) != s[0]*s[1] || len(bias) != s[1] {
			return fmt.Errorf("%w: autoencoder layer shape", ErrCorrupt)
		}
		n.layers = append(n.layers, &dense{in: s[0], out: s[1], tanh: s[2] == 1, w: w, b: bias})
		prev = s[1]
	}
	if err := dec.finish(); err != nil {
		return err
	}
	if n.d > 0 && (len(n.layers) == 0 || prev != n.d) {
		return fmt.Errorf("%w: autoencoder output has %d units, want %d", ErrCorrupt, prev, n.d)
	}
	if n.d > 0 {
		n.allocActs()
	}
	*a = n
	return nil
}
