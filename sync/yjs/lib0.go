package yjs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// maxSafeInteger is Number.MAX_SAFE_INTEGER: lib0 cannot represent larger
// var-uints exactly, so the decoder rejects them.
const maxSafeInteger = 1<<53 - 1

// ErrUnexpectedEnd means the input ended in the middle of a value.
var ErrUnexpectedEnd = errors.New("yjs: unexpected end of input")

// ErrMalformed means the input holds a value that yjs would refuse to decode
// (an unknown struct or content type, invalid UTF-8 or JSON, an integer out
// of range, nesting deeper than MaxNesting).
var ErrMalformed = errors.New("yjs: malformed input")

// DecodeError says where and why decoding failed. It unwraps to
// ErrUnexpectedEnd or ErrMalformed.
type DecodeError struct {
	Offset int    // byte offset in the input where the failing value starts
	What   string // what was being read
	Err    error  // ErrUnexpectedEnd or ErrMalformed
}

// Error describes the failure with its byte offset.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %s at byte %d", e.Err, e.What, e.Offset)
}

// Unwrap returns ErrUnexpectedEnd or ErrMalformed.
func (e *DecodeError) Unwrap() error { return e.Err }

// reader reads lib0-encoded values with bounds checks: every length is
// checked against the remaining input before anything is allocated.
type reader struct {
	buf []byte
	pos int
}

func (r *reader) remaining() int { return len(r.buf) - r.pos }

func (r *reader) fail(start int, what string, err error) error {
	return &DecodeError{Offset: start, What: what, Err: err}
}

func (r *reader) readUint8(what string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.fail(r.pos, what, ErrUnexpectedEnd)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// readVarUint reads lib0's var-uint: 7 bits per byte, little end first,
// high bit set on every byte but the last.
func (r *reader) readVarUint(what string) (uint64, error) {
	start := r.pos
	var num uint64
	var shift uint
	for r.pos < len(r.buf) {
		b := r.buf[r.pos]
		r.pos++
		if b&0x7f != 0 {
			if shift > 52 {
				return 0, r.fail(start, what, ErrMalformed)
			}
			num |= uint64(b&0x7f) << shift
		}
		if b < 0x80 {
			if num > maxSafeInteger {
				return 0, r.fail(start, what, ErrMalformed)
			}
			return num, nil
		}
		shift += 7
	}
	return 0, r.fail(start, what, ErrUnexpectedEnd)
}

// readVarInt reads lib0's var-int: the first byte holds a continuation bit,
// a sign bit and 6 value bits. A set sign bit with magnitude 0 is -0.
func (r *reader) readVarInt(what string) (float64, error) {
	start := r.pos
	b, err := r.readUint8(what)
	if err != nil {
		return 0, err
	}
	num := uint64(b & 0x3f)
	negative := b&0x40 != 0
	shift := uint(6)
	if b&0x80 != 0 {
		for {
			if r.pos >= len(r.buf) {
				return 0, r.fail(start, what, ErrUnexpectedEnd)
			}
			b = r.buf[r.pos]
			r.pos++
			if b&0x7f != 0 {
				if shift > 52 {
					return 0, r.fail(start, what, ErrMalformed)
				}
				num |= uint64(b&0x7f) << shift
			}
			if b < 0x80 {
				break
			}
			shift += 7
		}
	}
	if num > maxSafeInteger {
		return 0, r.fail(start, what, ErrMalformed)
	}
	f := float64(num)
	if negative {
		f = -f
	}
	return f, nil
}

// readBytes returns the next n bytes without copying.
func (r *reader) readBytes(n uint64, what string) ([]byte, error) {
	if n > uint64(r.remaining()) {
		return nil, r.fail(r.pos, what, ErrUnexpectedEnd)
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *reader) readVarBytes(what string) ([]byte, error) {
	n, err := r.readVarUint(what)
	if err != nil {
		return nil, err
	}
	return r.readBytes(n, what)
}

// readVarString reads a length-prefixed UTF-8 string. lib0 decodes with a
// fatal TextDecoder, so invalid UTF-8 is an error, not a replacement.
func (r *reader) readVarString(what string) (string, error) {
	start := r.pos
	b, err := r.readVarBytes(what)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", r.fail(start, what+": invalid UTF-8", ErrMalformed)
	}
	return string(b), nil
}

func (r *reader) readFloat32(what string) (float64, error) {
	b, err := r.readBytes(4, what)
	if err != nil {
		return 0, err
	}
	return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
}

func (r *reader) readFloat64(what string) (float64, error) {
	b, err := r.readBytes(8, what)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func (r *reader) readBigInt64(what string) (int64, error) {
	b, err := r.readBytes(8, what)
	if err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// writer appends lib0-encoded values.
type writer struct {
	buf []byte
}

func (w *writer) writeUint8(b byte) { w.buf = append(w.buf, b) }

func (w *writer) writeVarUint(n uint64) {
	w.buf = appendVarUint(w.buf, n)
}

func appendVarUint(buf []byte, n uint64) []byte {
	for n > 0x7f {
		buf = append(buf, byte(n&0x7f)|0x80)
		n >>= 7
	}
	return append(buf, byte(n))
}

// writeVarInt writes an integral float64 with |f| < 2^53 the way lib0's
// writeVarInt does, including -0.
func (w *writer) writeVarInt(f float64) {
	negative := f < 0 || (f == 0 && math.Signbit(f))
	if negative {
		f = -f
	}
	n := uint64(f)
	first := byte(n & 0x3f)
	if negative {
		first |= 0x40
	}
	if n > 0x3f {
		first |= 0x80
	}
	w.buf = append(w.buf, first)
	n >>= 6
	for n > 0 {
		b := byte(n & 0x7f)
		if n > 0x7f {
			b |= 0x80
		}
		w.buf = append(w.buf, b)
		n >>= 7
	}
}

func (w *writer) writeVarBytes(b []byte) {
	w.writeVarUint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *writer) writeVarString(s string) {
	w.writeVarUint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *writer) writeFloat32(f float32) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, math.Float32bits(f))
}

func (w *writer) writeFloat64(f float64) {
	w.buf = binary.BigEndian.AppendUint64(w.buf, math.Float64bits(f))
}

func (w *writer) writeBigInt64(i int64) {
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(i))
}
