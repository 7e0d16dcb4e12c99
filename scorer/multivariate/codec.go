package multivariate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is returned by UnmarshalBinary for truncated or inconsistent
// state.
var ErrCorrupt = errors.New("multivariate: corrupt model state")

// encoder appends a little-endian binary encoding; the formats are private
// and versioned by a leading tag per type.
type encoder struct{ b []byte }

func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) int(v int)    { e.u64(uint64(int64(v))) }
func (e *encoder) f64(v float64) {
	e.u64(math.Float64bits(v))
}

func (e *encoder) str(s string) {
	e.int(len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) floats(v []float64) {
	e.int(len(v))
	for _, x := range v {
		e.f64(x)
	}
}

func (e *encoder) ints(v []int) {
	e.int(len(v))
	for _, x := range v {
		e.int(x)
	}
}

func (e *encoder) bytes(v []byte) {
	e.int(len(v))
	e.b = append(e.b, v...)
}

// decoder reads what encoder wrote; the first error sticks so callers check
// once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: short read of %s", ErrCorrupt, what)
	}
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("integer")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) int() int { return int(int64(d.u64())) }

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// length reads a slice length and checks it against the bytes left, so a
// corrupt length cannot make us allocate gigabytes.
func (d *decoder) length(elem int) int {
	n := d.int()
	if d.err != nil {
		return 0
	}
	if n < 0 || (elem > 0 && n > len(d.b)/elem) {
		d.err = fmt.Errorf("%w: bad length %d", ErrCorrupt, n)
		return 0
	}
	return n
}

func (d *decoder) str() string {
	n := d.length(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) floats() []float64 {
	n := d.length(8)
	if d.err != nil {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = d.f64()
	}
	return v
}

func (d *decoder) ints() []int {
	n := d.length(8)
	if d.err != nil {
		return nil
	}
	v := make([]int, n)
	for i := range v {
		v[i] = d.int()
	}
	return v
}

func (d *decoder) bytes() []byte {
	n := d.length(1)
	if d.err != nil {
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

// tag checks a leading type tag.
func (d *decoder) tag(want string) {
	if got := d.str(); d.err == nil && got != want {
		d.err = fmt.Errorf("%w: state is for %q, not %q", ErrCorrupt, got, want)
	}
}

// finish reports the sticky error or trailing garbage.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return d.err
}
