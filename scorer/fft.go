package scorer

import (
	"math"
	"math/bits"
)

// fft is an in-place radix-2 FFT of a fixed power-of-two size, with its
// twiddle factors and bit-reversal table computed once, so a transform
// allocates nothing.
type fft struct {
	n   int
	rev []uint16
	tw  []complex128 // exp(-2πik/n), k < n/2
}

func newFFT(n int) fft {
	f := fft{n: n, rev: make([]uint16, n), tw: make([]complex128, n/2)}
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range n {
		f.rev[i] = uint16(bits.Reverse64(uint64(i)) >> shift)
	}
	for k := range f.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		f.tw[k] = complex(c, s)
	}
	return f
}

// transform computes the forward DFT of x in place; inverse computes
// n times the inverse DFT.
func (f *fft) transform(x []complex128, inverse bool) {
	n := f.n
	for i := range n {
		if j := int(f.rev[i]); i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := range half {
				w := f.tw[k*step]
				if inverse {
					w = complex(real(w), -imag(w))
				}
				a, b := x[start+k], x[start+k+half]*w
				x[start+k], x[start+k+half] = a+b, a-b
			}
		}
	}
}
