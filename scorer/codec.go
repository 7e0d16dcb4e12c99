package scorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrBadState is returned by UnmarshalBinary for state that is truncated,
// of another model or of an unknown encoding version.
var ErrBadState = errors.New("scorer: bad model state")

// stateVersion is the version byte that starts every encoded state. Bump it
// when any model's layout changes; old states are then refused (the model
// warms up again) rather than misread.
const stateVersion = 7

// enc appends little-endian fields to a byte slice.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)     { e.b = append(e.b, v) }
func (e *enc) u32(v uint32)   { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)    { e.u64(uint64(v)) }
func (e *enc) f64(v float64)  { e.u64(math.Float64bits(v)) }
func (e *enc) str(s string)   { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *enc) boolean(v bool) { e.u8(b2u(v)) }
func (e *enc) f64s(v []float64) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.f64(x)
	}
}

func (e *enc) i16s(v []int16) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.b = binary.LittleEndian.AppendUint16(e.b, uint16(x))
	}
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// dec reads what enc wrote; the first error sticks and every later read
// returns zero, so decoders check err once at the end.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated at %s", ErrBadState, what)
	}
}

func (d *dec) u8() uint8 {
	if d.err != nil || len(d.b) < 1 {
		d.fail("u8")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail("u32")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("u64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) i64() int64    { return int64(d.u64()) }
func (d *dec) f64() float64  { return math.Float64frombits(d.u64()) }
func (d *dec) boolean() bool { return d.u8() != 0 }
func (d *dec) str() string {
	n := d.u32()
	if d.err != nil || uint64(len(d.b)) < uint64(n) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// f64sInto reads a float slice whose length must equal len(dst): model
// buffers are sized by parameters, and a state for other parameters is
// refused.
func (d *dec) f64sInto(dst []float64, what string) {
	n := d.u32()
	if d.err != nil {
		return
	}
	if int(n) != len(dst) {
		d.err = fmt.Errorf("%w: %s has %d values, model expects %d", ErrBadState, what, n, len(dst))
		return
	}
	for i := range dst {
		dst[i] = d.f64()
	}
}

// i16sInto is f64sInto for int16 values.
func (d *dec) i16sInto(dst []int16, what string) {
	n := d.u32()
	if d.err != nil {
		return
	}
	if int(n) != len(dst) {
		d.err = fmt.Errorf("%w: %s has %d values, model expects %d", ErrBadState, what, n, len(dst))
		return
	}
	if len(d.b) < 2*len(dst) {
		d.fail(what)
		return
	}
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(d.b[2*i:]))
	}
	d.b = d.b[2*len(dst):]
}

// finish reports the first error, or trailing bytes.
func (d *dec) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadState, len(d.b))
	}
	return nil
}
