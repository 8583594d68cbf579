package yjs

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The merge, diff and state-vector paths never build Content values. They
// scan each item's content once, checking everything yjs's reader checks,
// and keep its canonical encoding: the bytes yjs's content.write(encoder, 0)
// produces after reading it. For content written by yjs those are the input
// bytes themselves (a sub-slice, no copy); anything yjs would re-encode
// differently (a JSON text with spaces, object keys out of JavaScript order,
// a float that fits a smaller encoding, a non-minimal var-uint...) is read
// into Content and written back once.

// readVarUintMin reads a var-uint and reports whether its encoding is the
// one lib0 writes (no redundant trailing zero groups).
func (r *reader) readVarUintMin(what string) (uint64, bool, error) {
	start := r.pos
	n, err := r.readVarUint(what)
	if err != nil {
		return 0, false, err
	}
	return n, r.pos-start == 1 || r.buf[r.pos-1] != 0, nil
}

// readVarBytesMin reads length-prefixed bytes; the bool reports a minimal
// length prefix.
func (r *reader) readVarBytesMin(what string) ([]byte, bool, error) {
	n, minimal, err := r.readVarUintMin(what)
	if err != nil {
		return nil, false, err
	}
	b, err := r.readBytes(n, what)
	return b, minimal, err
}

// readVarStringMin reads a length-prefixed UTF-8 string without copying it.
func (r *reader) readVarStringMin(what string) ([]byte, bool, error) {
	start := r.pos
	b, minimal, err := r.readVarBytesMin(what)
	if err != nil {
		return nil, false, err
	}
	if !utf8.Valid(b) {
		return nil, false, r.fail(start, what+": invalid UTF-8", ErrMalformed)
	}
	return b, minimal, nil
}

// scanContent checks the content of type ref like readContent and returns
// its length in clock ticks and its canonical encoding.
func (r *reader) scanContent(ref ContentRef) (uint64, []byte, error) {
	start := r.pos
	length, canonical, err := r.scanContentBody(ref)
	if err != nil {
		return 0, nil, err
	}
	if canonical {
		return length, r.buf[start:r.pos:r.pos], nil
	}
	again := reader{buf: r.buf[:r.pos], pos: start}
	c, err := again.readContent(ref)
	if err != nil {
		return 0, nil, err
	}
	var w writer
	c.write(&w, 0)
	return c.Len(), w.buf, nil
}

func (r *reader) scanContentBody(ref ContentRef) (length uint64, canonical bool, err error) {
	switch ref {
	case RefDeleted:
		return r.readVarUintMin("deleted length")
	case RefJSON:
		start := r.pos
		n, canonical, err := r.readVarUintMin("json length")
		if err != nil {
			return 0, false, err
		}
		if n > uint64(r.remaining()) {
			return 0, false, r.fail(start, "json length", ErrUnexpectedEnd)
		}
		for range n {
			at := r.pos
			s, minimal, err := r.readVarStringMin("json element")
			if err != nil {
				return 0, false, err
			}
			canonical = canonical && minimal
			if string(s) == "undefined" || canonicalJSON(s) {
				continue
			}
			norm, err := normalizeJSON(string(s))
			if err != nil {
				return 0, false, r.fail(at, "json element: "+err.Error(), ErrMalformed)
			}
			canonical = canonical && norm == string(s)
		}
		return n, canonical, nil
	case RefBinary:
		_, minimal, err := r.readVarBytesMin("binary")
		return 1, minimal, err
	case RefString:
		s, minimal, err := r.readVarStringMin("string")
		return utf16Len(s), minimal, err
	case RefEmbed:
		canonical, err := r.scanJSON("embed")
		return 1, canonical, err
	case RefFormat:
		_, minimal, err := r.readVarStringMin("format key")
		if err != nil {
			return 0, false, err
		}
		canonical, err := r.scanJSON("format value")
		return 1, minimal && canonical, err
	case RefType:
		at := r.pos
		typ, minimal, err := r.readVarUintMin("type ref")
		if err != nil {
			return 0, false, err
		}
		if typ > uint64(TypeXMLText) {
			return 0, false, r.fail(at, "unknown type ref "+strconv.FormatUint(typ, 10), ErrMalformed)
		}
		if TypeRef(typ) == TypeXMLElement || TypeRef(typ) == TypeXMLHook {
			_, nameMinimal, err := r.readVarStringMin("xml name")
			if err != nil {
				return 0, false, err
			}
			minimal = minimal && nameMinimal
		}
		return 1, minimal, nil
	case RefAny:
		start := r.pos
		n, canonical, err := r.readVarUintMin("any length")
		if err != nil {
			return 0, false, err
		}
		if n > uint64(r.remaining()) {
			return 0, false, r.fail(start, "any length", ErrUnexpectedEnd)
		}
		for range n {
			c, err := r.scanAny(0)
			if err != nil {
				return 0, false, err
			}
			canonical = canonical && c
		}
		return n, canonical, nil
	case RefDoc:
		guidAt := r.pos
		_, minimal, err := r.readVarStringMin("doc guid")
		if err != nil {
			return 0, false, err
		}
		if minimal && r.canonicalDocOpts() {
			_, err := r.scanAny(0)
			return 1, true, err
		}
		r.pos = guidAt
		_, err = r.readContentDoc()
		return 1, false, err
	default:
		return 0, false, r.fail(r.pos, "unknown content ref "+strconv.Itoa(int(ref)), ErrMalformed)
	}
}

// scanJSON checks one JSON text and reports whether it is already in
// JSON.stringify form.
func (r *reader) scanJSON(what string) (bool, error) {
	at := r.pos
	s, minimal, err := r.readVarStringMin(what)
	if err != nil {
		return false, err
	}
	if canonicalJSON(s) {
		return minimal, nil
	}
	norm, err := normalizeJSON(string(s))
	if err != nil {
		return false, r.fail(at, what+": "+err.Error(), ErrMalformed)
	}
	return minimal && norm == string(s), nil
}

// fitsVarInt reports whether lib0's writeAny writes f as a var-int.
func fitsVarInt(f float64) bool {
	return f == math.Trunc(f) && !math.IsInf(f, 0) && math.Abs(f) <= math.MaxInt32
}

// scanAny checks one lib0 "any" value like readAny and reports whether
// writeAny would write back the same bytes.
func (r *reader) scanAny(depth int) (bool, error) {
	start := r.pos
	if depth > MaxNesting {
		return false, r.fail(start, "any: nesting too deep", ErrMalformed)
	}
	tag, err := r.readUint8("any tag")
	if err != nil {
		return false, err
	}
	switch tag {
	case tagUndefined, tagNull, tagFalse, tagTrue:
		return true, nil
	case tagInteger:
		f, err := r.readVarInt("any integer")
		if err != nil {
			return false, err
		}
		minimal := r.pos-start == 2 || r.buf[r.pos-1] != 0
		return minimal && math.Abs(f) <= math.MaxInt32, nil
	case tagFloat32:
		f, err := r.readFloat32("any float32")
		return err == nil && !fitsVarInt(f) && !math.IsNaN(f), err
	case tagFloat64:
		f, err := r.readFloat64("any float64")
		return err == nil && !fitsVarInt(f) && (math.IsNaN(f) || float64(float32(f)) != f), err
	case tagBigInt:
		_, err := r.readBytes(8, "any bigint")
		return err == nil, err
	case tagString:
		_, minimal, err := r.readVarStringMin("any string")
		return minimal, err
	case tagObject:
		n, canonical, err := r.readVarUintMin("any object length")
		if err != nil {
			return false, err
		}
		if n > uint64(r.remaining())/2 {
			return false, r.fail(start, "any object length", ErrUnexpectedEnd)
		}
		var keys keyOrder
		for range n {
			key, minimal, err := r.readVarStringMin("any object key")
			if err != nil {
				return false, err
			}
			c, err := r.scanAny(depth + 1)
			if err != nil {
				return false, err
			}
			canonical = canonical && minimal && c && keys.add(key)
		}
		return canonical, nil
	case tagArray:
		n, canonical, err := r.readVarUintMin("any array length")
		if err != nil {
			return false, err
		}
		if n > uint64(r.remaining()) {
			return false, r.fail(start, "any array length", ErrUnexpectedEnd)
		}
		for range n {
			c, err := r.scanAny(depth + 1)
			if err != nil {
				return false, err
			}
			canonical = canonical && c
		}
		return canonical, nil
	case tagBytes:
		_, minimal, err := r.readVarBytesMin("any bytes")
		return minimal, err
	default:
		return false, r.fail(start, "any: unknown tag "+strconv.Itoa(int(tag)), ErrMalformed)
	}
}

// keyOrder checks that object keys arrive in JavaScript's own-property
// order with no repeats and no "__proto__", i.e. that reading them into a
// JavaScript object and listing its keys gives the same sequence.
type keyOrder struct {
	hasIndex  bool
	lastIndex uint32 // last array-index key, when hasIndex
	inNamed   bool   // a non-index key was seen
	named     [][]byte
	seen      map[string]struct{} // replaces named beyond 8 keys
}

func (k *keyOrder) add(key []byte) bool {
	if string(key) == "__proto__" {
		return false
	}
	if idx, ok := arrayIndex(key); ok {
		if k.inNamed || (k.hasIndex && idx <= k.lastIndex) {
			return false
		}
		k.hasIndex, k.lastIndex = true, idx
		return true
	}
	k.inNamed = true
	if k.seen != nil {
		if _, dup := k.seen[string(key)]; dup {
			return false
		}
		k.seen[string(key)] = struct{}{}
		return true
	}
	for _, prev := range k.named {
		if string(prev) == string(key) {
			return false
		}
	}
	k.named = append(k.named, key)
	if len(k.named) > 8 {
		k.seen = make(map[string]struct{}, 16)
		for _, prev := range k.named {
			k.seen[string(prev)] = struct{}{}
		}
	}
	return true
}

// sliceContent returns the canonical encoding of the content from offset
// on, as yjs's content.write(encoder, offset) writes it. ok is false for
// contents of length 1, which yjs writes whole whatever the offset.
func sliceContent(ref ContentRef, canon []byte, offset uint64) (out []byte, ok bool) {
	r := &reader{buf: canon}
	switch ref {
	case RefDeleted:
		n, _ := r.readVarUint("")
		return appendVarUint(nil, n-min(offset, n)), true
	case RefString:
		s, _ := r.readVarBytes("")
		_, rightStart, cut := splitUTF16(s, offset)
		right := s[rightStart:]
		n := uint64(len(right))
		if cut {
			n += uint64(len(replacementChar))
		}
		out = appendVarUint(make([]byte, 0, n+5), n)
		if cut {
			out = append(out, replacementChar...)
		}
		return append(out, right...), true
	case RefJSON, RefAny:
		n, _ := r.readVarUint("")
		offset = min(offset, n)
		for range offset {
			if ref == RefJSON {
				_, _ = r.readVarBytes("")
			} else {
				_, _ = r.scanAny(0)
			}
		}
		out = appendVarUint(make([]byte, 0, r.remaining()+10), n-offset)
		return append(out, r.buf[r.pos:]...), true
	}
	return nil, false
}

// canonicalJSON reports whether s is valid JSON already in the form
// JSON.stringify(JSON.parse(s)) gives, without building the value. False
// means "not sure": the caller then normalizes (and validates) the slow way.
func canonicalJSON(s []byte) bool {
	p := canonJSON{s: s}
	return p.value(0) && p.i == len(s)
}

type canonJSON struct {
	s []byte
	i int
}

func (p *canonJSON) value(depth int) bool {
	if depth > MaxNesting || p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, ok := p.str()
		return ok
	case c == '{':
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return true
		}
		var keys keyOrder
		for {
			key, ok := p.str()
			if !ok || !keys.add(key) || p.i >= len(p.s) || p.s[p.i] != ':' {
				return false
			}
			p.i++
			if !p.value(depth+1) || p.i >= len(p.s) {
				return false
			}
			switch p.s[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		p.i++
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return true
		}
		for {
			if !p.value(depth+1) || p.i >= len(p.s) {
				return false
			}
			switch p.s[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		for p.i < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.i]) >= 0 {
			p.i++
		}
		tok := string(p.s[start:p.i])
		f, err := strconv.ParseFloat(tok, 64)
		// JSON.stringify never writes a '+' mantissa sign, leading zeros
		// or a form other than Number#toString's.
		return err == nil && !math.IsInf(f, 0) && jsNumberString(f) == tok && (f != 0 || tok == "0")
	default:
		for _, lit := range [...]string{"null", "true", "false"} {
			if bytes.HasPrefix(p.s[p.i:], []byte(lit)) {
				p.i += len(lit)
				return true
			}
		}
		return false
	}
}

// str reads a string with only the escapes JSON.stringify writes for
// characters that are not control characters or lone surrogates (those
// take the slow path).
func (p *canonJSON) str() ([]byte, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return nil, false
	}
	p.i++
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if p.i+1 >= len(p.s) || strings.IndexByte(`"\bfnrt`, p.s[p.i+1]) < 0 {
				return nil, false
			}
			p.i += 2
		default:
			p.i++
		}
	}
	return nil, false
}

// canonicalDocOpts reports whether sub-document options are already in the
// form yjs writes: an object with, in this order and each optional,
// gc: false, autoLoad: true and a meta that is neither null nor undefined.
func (r *reader) canonicalDocOpts() bool {
	probe := reader{buf: r.buf, pos: r.pos}
	tag, err := probe.readUint8("")
	if err != nil || tag != tagObject {
		return false
	}
	n, minimal, err := probe.readVarUintMin("")
	if err != nil || !minimal || n > 3 {
		return false
	}
	want := [...]string{"gc", "autoLoad", "meta"}
	next := 0
	for range n {
		key, minimal, err := probe.readVarStringMin("")
		if err != nil || !minimal {
			return false
		}
		for next < len(want) && want[next] != string(key) {
			next++
		}
		if next == len(want) {
			return false
		}
		at := probe.pos
		switch want[next] {
		case "gc":
			if b, err := probe.readUint8(""); err != nil || b != tagFalse {
				return false
			}
		case "autoLoad":
			if b, err := probe.readUint8(""); err != nil || b != tagTrue {
				return false
			}
		case "meta":
			if probe.pos < len(probe.buf) && (probe.buf[at] == tagNull || probe.buf[at] == tagUndefined) {
				return false
			}
			if ok, err := probe.scanAny(1); err != nil || !ok {
				return false
			}
		}
		next++
	}
	return true
}
