package yjs

import (
	"math"
	"slices"
	"strconv"
)

// MaxNesting bounds how deeply Any values and JSON values may nest. yjs
// (V8) runs out of stack somewhere above this depth; Go would not, but a
// bound keeps hostile input from using unbounded stack.
const MaxNesting = 1000

// AnyKind is the type of an Any value.
type AnyKind uint8

// The kinds of lib0 "any" values, as lib0's writeAny distinguishes them.
const (
	AnyUndefined AnyKind = iota // JavaScript undefined
	AnyNull                     // null
	AnyNumber                   // a JavaScript number (float64)
	AnyBigInt                   // a 64-bit bigint
	AnyBool                     // true or false
	AnyString                   // a string
	AnyObject                   // an object with ordered string keys
	AnyArray                    // an array
	AnyBytes                    // a Uint8Array
)

// Any is a lib0 "any" value, the payload of ContentAny and of sub-document
// options. Only the field selected by Kind is meaningful.
//
// Decoding follows JavaScript semantics, so that encoding reproduces what
// yjs writes after reading the same bytes: object keys are in JavaScript
// property order (array-index keys ascending first, then the others in
// insertion order), a repeated key keeps its first position and its last
// value, and "__proto__" keys are dropped (in yjs they set the prototype).
type Any struct {
	Kind   AnyKind
	Number float64 // AnyNumber
	BigInt int64   // AnyBigInt
	Bool   bool    // AnyBool
	Str    string  // AnyString
	Bytes  []byte  // AnyBytes
	Array  []Any   // AnyArray
	Object []Field // AnyObject
}

// Field is one key of an AnyObject value.
type Field struct {
	Key   string
	Value Any
}

// Get returns the value of key in an object and whether it is present.
func (a Any) Get(key string) (Any, bool) {
	for _, f := range a.Object {
		if f.Key == key {
			return f.Value, true
		}
	}
	return Any{}, false
}

// truthy reports JavaScript truthiness.
func (a Any) truthy() bool {
	switch a.Kind {
	case AnyUndefined, AnyNull:
		return false
	case AnyNumber:
		return a.Number != 0 && !math.IsNaN(a.Number)
	case AnyBigInt:
		return a.BigInt != 0
	case AnyBool:
		return a.Bool
	case AnyString:
		return a.Str != ""
	default:
		return true
	}
}

// lib0 any type tags.
const (
	tagUndefined = 127
	tagNull      = 126
	tagInteger   = 125
	tagFloat32   = 124
	tagFloat64   = 123
	tagBigInt    = 122
	tagFalse     = 121
	tagTrue      = 120
	tagString    = 119
	tagObject    = 118
	tagArray     = 117
	tagBytes     = 116
)

func (r *reader) readAny(depth int) (Any, error) {
	start := r.pos
	if depth > MaxNesting {
		return Any{}, r.fail(start, "any: nesting too deep", ErrMalformed)
	}
	tag, err := r.readUint8("any tag")
	if err != nil {
		return Any{}, err
	}
	switch tag {
	case tagUndefined:
		return Any{Kind: AnyUndefined}, nil
	case tagNull:
		return Any{Kind: AnyNull}, nil
	case tagInteger:
		f, err := r.readVarInt("any integer")
		return Any{Kind: AnyNumber, Number: f}, err
	case tagFloat32:
		f, err := r.readFloat32("any float32")
		return Any{Kind: AnyNumber, Number: f}, err
	case tagFloat64:
		f, err := r.readFloat64("any float64")
		return Any{Kind: AnyNumber, Number: f}, err
	case tagBigInt:
		i, err := r.readBigInt64("any bigint")
		return Any{Kind: AnyBigInt, BigInt: i}, err
	case tagFalse:
		return Any{Kind: AnyBool}, nil
	case tagTrue:
		return Any{Kind: AnyBool, Bool: true}, nil
	case tagString:
		s, err := r.readVarString("any string")
		return Any{Kind: AnyString, Str: s}, err
	case tagObject:
		n, err := r.readVarUint("any object length")
		if err != nil {
			return Any{}, err
		}
		// Each key and value takes at least one byte.
		if n > uint64(r.remaining())/2 {
			return Any{}, r.fail(start, "any object length", ErrUnexpectedEnd)
		}
		obj := newJSObject(int(n))
		for i := uint64(0); i < n; i++ {
			key, err := r.readVarString("any object key")
			if err != nil {
				return Any{}, err
			}
			v, err := r.readAny(depth + 1)
			if err != nil {
				return Any{}, err
			}
			if key == "__proto__" {
				// obj.__proto__ = v changes the prototype (or does
				// nothing); it never creates an own property.
				continue
			}
			obj.set(key, v)
		}
		return Any{Kind: AnyObject, Object: obj.fields()}, nil
	case tagArray:
		n, err := r.readVarUint("any array length")
		if err != nil {
			return Any{}, err
		}
		if n > uint64(r.remaining()) {
			return Any{}, r.fail(start, "any array length", ErrUnexpectedEnd)
		}
		// Preallocate little: a nested array may claim the whole rest of
		// the input at every level.
		arr := make([]Any, 0, min(n, 16))
		for i := uint64(0); i < n; i++ {
			v, err := r.readAny(depth + 1)
			if err != nil {
				return Any{}, err
			}
			arr = append(arr, v)
		}
		return Any{Kind: AnyArray, Array: arr}, nil
	case tagBytes:
		b, err := r.readVarBytes("any bytes")
		if err != nil {
			return Any{}, err
		}
		return Any{Kind: AnyBytes, Bytes: append([]byte{}, b...)}, nil
	default:
		// readAnyLookupTable[127 - tag] is undefined: a TypeError in yjs.
		return Any{}, r.fail(start, "any: unknown tag "+strconv.Itoa(int(tag)), ErrMalformed)
	}
}

// writeAny writes v the way lib0's writeAny writes the JavaScript value it
// stands for.
func (w *writer) writeAny(v Any) {
	switch v.Kind {
	case AnyUndefined:
		w.writeUint8(tagUndefined)
	case AnyNull:
		w.writeUint8(tagNull)
	case AnyNumber:
		f := v.Number
		switch {
		case f == math.Trunc(f) && !math.IsInf(f, 0) && math.Abs(f) <= math.MaxInt32:
			w.writeUint8(tagInteger)
			w.writeVarInt(f)
		case math.IsNaN(f):
			// NaN is never a float32 (NaN !== NaN). V8 keeps the NaN's
			// bits through a read and a write, and so does Go.
			w.writeUint8(tagFloat64)
			w.writeFloat64(f)
		case float64(float32(f)) == f:
			w.writeUint8(tagFloat32)
			w.writeFloat32(float32(f))
		default:
			w.writeUint8(tagFloat64)
			w.writeFloat64(f)
		}
	case AnyBigInt:
		w.writeUint8(tagBigInt)
		w.writeBigInt64(v.BigInt)
	case AnyBool:
		if v.Bool {
			w.writeUint8(tagTrue)
		} else {
			w.writeUint8(tagFalse)
		}
	case AnyString:
		w.writeUint8(tagString)
		w.writeVarString(v.Str)
	case AnyObject:
		w.writeUint8(tagObject)
		w.writeVarUint(uint64(len(v.Object)))
		for _, f := range v.Object {
			w.writeVarString(f.Key)
			w.writeAny(f.Value)
		}
	case AnyArray:
		w.writeUint8(tagArray)
		w.writeVarUint(uint64(len(v.Array)))
		for _, e := range v.Array {
			w.writeAny(e)
		}
	case AnyBytes:
		w.writeUint8(tagBytes)
		w.writeVarBytes(v.Bytes)
	default:
		w.writeUint8(tagUndefined)
	}
}

// jsObject collects properties in JavaScript's own-property order:
// array-index keys ascending, then string keys in creation order.
type jsObject struct {
	index   map[string]int // key -> position in keys/vals
	keys    []string
	vals    []Any
	indices []uint32 // array-index keys seen, in creation order
}

func newJSObject(hint int) *jsObject {
	if hint > 64 {
		hint = 64
	}
	return &jsObject{index: make(map[string]int, hint)}
}

func (o *jsObject) set(key string, v Any) {
	if i, ok := o.index[key]; ok {
		o.vals[i] = v
		return
	}
	o.index[key] = len(o.keys)
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	if idx, ok := arrayIndex(key); ok {
		o.indices = append(o.indices, idx)
	}
}

func (o *jsObject) fields() []Field {
	out := make([]Field, 0, len(o.keys))
	if len(o.indices) > 0 {
		idx := append([]uint32(nil), o.indices...)
		slices.Sort(idx)
		for _, n := range idx {
			k := strconv.FormatUint(uint64(n), 10)
			out = append(out, Field{Key: k, Value: o.vals[o.index[k]]})
		}
	}
	for i, k := range o.keys {
		if _, ok := arrayIndex(k); ok {
			continue
		}
		out = append(out, Field{Key: k, Value: o.vals[i]})
	}
	return out
}

// arrayIndex reports whether key is a canonical array index ("0" to
// "4294967294" without leading zeros), which JavaScript orders first.
func arrayIndex[S ~string | ~[]byte](key S) (uint32, bool) {
	if len(key) == 0 || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n >= math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}
