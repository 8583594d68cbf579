package yjs

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON content (ContentJSON elements, embeds, format values) is read by yjs
// with JSON.parse and written back with JSON.stringify. normalizeJSON
// reproduces that round trip so that Go writes the same text: whitespace
// goes away, numbers take JavaScript's shortest form, object keys take
// JavaScript's property order, and strings are escaped as JSON.stringify
// escapes them (lone surrogates included).

var errInvalidJSON = errors.New("invalid JSON")

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

type jsonValue struct {
	kind jsonKind
	num  float64
	str  []uint16 // UTF-16, so that lone surrogates survive as in JavaScript
	arr  []jsonValue
	keys [][]uint16
	vals []jsonValue
}

// normalizeJSON returns JSON.stringify(JSON.parse(s)), or errInvalidJSON
// where JSON.parse would throw.
func normalizeJSON(s string) (string, error) {
	p := &jsonParser{s: s}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return "", err
	}
	p.skipSpace()
	if p.i != len(s) {
		return "", errInvalidJSON
	}
	var b strings.Builder
	b.Grow(len(s))
	writeJSONValue(&b, v)
	return b.String(), nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string) bool {
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (jsonValue, error) {
	if depth > MaxNesting || p.i >= len(p.s) {
		return jsonValue{}, errInvalidJSON
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		str, err := p.string()
		return jsonValue{kind: jsonString, str: str}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("null"):
		return jsonValue{kind: jsonNull}, nil
	case p.literal("true"):
		return jsonValue{kind: jsonTrue}, nil
	case p.literal("false"):
		return jsonValue{kind: jsonFalse}, nil
	}
	return jsonValue{}, errInvalidJSON
}

func (p *jsonParser) object(depth int) (jsonValue, error) {
	p.i++ // {
	v := jsonValue{kind: jsonObject}
	index := map[string]int{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return jsonValue{}, errInvalidJSON
		}
		key, err := p.string()
		if err != nil {
			return jsonValue{}, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return jsonValue{}, errInvalidJSON
		}
		p.i++
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return jsonValue{}, err
		}
		// CreateDataProperty: a repeated key keeps its place and takes the
		// new value. "__proto__" is an ordinary key here.
		k := utf16Key(key)
		if at, ok := index[k]; ok {
			v.vals[at] = val
		} else {
			index[k] = len(v.keys)
			v.keys = append(v.keys, key)
			v.vals = append(v.vals, val)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return jsonValue{}, errInvalidJSON
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			return v, nil
		}
		return jsonValue{}, errInvalidJSON
	}
}

// utf16Key is an exact map key for a UTF-16 string.
func utf16Key(s []uint16) string {
	b := make([]byte, 0, 2*len(s))
	for _, c := range s {
		b = append(b, byte(c>>8), byte(c))
	}
	return string(b)
}

func (p *jsonParser) array(depth int) (jsonValue, error) {
	p.i++ // [
	v := jsonValue{kind: jsonArray}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value(depth + 1)
		if err != nil {
			return jsonValue{}, err
		}
		v.arr = append(v.arr, el)
		p.skipSpace()
		if p.i >= len(p.s) {
			return jsonValue{}, errInvalidJSON
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ']' {
			p.i++
			return v, nil
		}
		return jsonValue{}, errInvalidJSON
	}
}

func hexVal(c byte) (uint16, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint16(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint16(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint16(c-'A') + 10, true
	}
	return 0, false
}

// string reads a JSON string into UTF-16 code units. The source is valid
// UTF-8 (the decoder checked it).
func (p *jsonParser) string() ([]uint16, error) {
	p.i++ // "
	var out []uint16
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return out, nil
		case c < 0x20:
			return nil, errInvalidJSON
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return nil, errInvalidJSON
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, uint16(e))
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if p.i+4 > len(p.s) {
					return nil, errInvalidJSON
				}
				var u uint16
				for k := 0; k < 4; k++ {
					h, ok := hexVal(p.s[p.i+k])
					if !ok {
						return nil, errInvalidJSON
					}
					u = u<<4 | h
				}
				p.i += 4
				out = append(out, u)
			default:
				return nil, errInvalidJSON
			}
		case c < utf8.RuneSelf:
			out = append(out, uint16(c))
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			out = utf16.AppendRune(out, r)
			p.i += size
		}
	}
	return nil, errInvalidJSON
}

func (p *jsonParser) number() (jsonValue, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return jsonValue{}, errInvalidJSON
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return jsonValue{}, errInvalidJSON
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return jsonValue{}, errInvalidJSON
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return jsonValue{}, errInvalidJSON
	}
	// Out of range: ParseFloat gives ±Inf or ±0, as JavaScript does.
	return jsonValue{kind: jsonNumber, num: f}, nil
}

func writeJSONValue(b *strings.Builder, v jsonValue) {
	switch v.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonTrue:
		b.WriteString("true")
	case jsonFalse:
		b.WriteString("false")
	case jsonNumber:
		b.WriteString(jsNumberString(v.num))
	case jsonString:
		writeJSONString(b, v.str)
	case jsonArray:
		b.WriteByte('[')
		for i, el := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONValue(b, el)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, at := range jsPropertyOrder(v.keys) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, v.keys[at])
			b.WriteByte(':')
			writeJSONValue(b, v.vals[at])
		}
		b.WriteByte('}')
	}
}

// jsPropertyOrder returns the positions of keys in JavaScript's own-property
// order: array-index keys ascending, then the rest in insertion order.
func jsPropertyOrder(keys [][]uint16) []int {
	type indexed struct {
		n  uint32
		at int
	}
	var idx []indexed
	var rest []int
	for i, k := range keys {
		if n, ok := arrayIndexUTF16(k); ok {
			idx = append(idx, indexed{n, i})
		} else {
			rest = append(rest, i)
		}
	}
	out := make([]int, 0, len(keys))
	if len(idx) > 0 {
		sortIndexed := func(a, b indexed) int {
			switch {
			case a.n < b.n:
				return -1
			case a.n > b.n:
				return 1
			}
			return 0
		}
		slices.SortFunc(idx, sortIndexed)
		for _, e := range idx {
			out = append(out, e.at)
		}
	}
	return append(out, rest...)
}

func arrayIndexUTF16(k []uint16) (uint32, bool) {
	if len(k) == 0 || len(k) > 10 {
		return 0, false
	}
	b := make([]byte, len(k))
	for i, c := range k {
		if c < '0' || c > '9' {
			return 0, false
		}
		b[i] = byte(c)
	}
	return arrayIndex(b)
}

// writeJSONString quotes s as JSON.stringify does (well-formed stringify:
// lone surrogates are escaped).
func writeJSONString(b *strings.Builder, s []uint16) {
	const hexdigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&0xf])
		case c >= 0xd800 && c <= 0xdbff && i+1 < len(s) && s[i+1] >= 0xdc00 && s[i+1] <= 0xdfff:
			b.WriteRune(utf16.DecodeRune(rune(c), rune(s[i+1])))
			i++
		case c >= 0xd800 && c <= 0xdfff:
			b.WriteString(`\u`)
			b.WriteByte(hexdigits[c>>12])
			b.WriteByte(hexdigits[c>>8&0xf])
			b.WriteByte(hexdigits[c>>4&0xf])
			b.WriteByte(hexdigits[c&0xf])
		default:
			b.WriteRune(rune(c))
		}
	}
	b.WriteByte('"')
}

// jsNumberString formats f as JavaScript's Number.prototype.toString does
// (and JSON.stringify, which writes null for non-finite numbers).
func jsNumberString(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "null"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	// Shortest round-trip digits and decimal exponent: d.ddde±x.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	k := len(digits)
	n := exp + 1 // position of the decimal point
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	expSign := "+"
	if n-1 < 0 {
		expSign = "-"
	}
	abs := n - 1
	if abs < 0 {
		abs = -abs
	}
	out := sign + digits[:1]
	if k > 1 {
		out += "." + digits[1:]
	}
	return out + "e" + expSign + strconv.Itoa(abs)
}
