package yjs

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestEncodeDecodeEveryContent builds an update holding every struct and
// content type (all shared-type refs, XML names included) and a delete
// set, and requires Decode(Encode(u)) to give u back.
func TestEncodeDecodeEveryContent(t *testing.T) {
	const c = 42
	var structs []Struct
	clock := uint64(0)
	add := func(s Struct) {
		structs = append(structs, s)
		clock += s.Len()
	}
	item := func(content Content) *Item {
		it := &Item{ID: ID{Client: c, Clock: clock}, Content: content}
		if clock == 0 {
			it.Parent, it.ParentName = ParentRoot, "root"
		} else {
			it.Origin = &ID{Client: c, Clock: clock - 1}
		}
		return it
	}
	add(item(&ContentString{Str: "a😀é"}))
	add(item(&ContentDeleted{Length: 3}))
	add(item(&ContentJSON{Values: []string{`{"a":1}`, "undefined", `[1,"x",null]`}}))
	add(item(&ContentBinary{Data: []byte{0, 1, 255}}))
	add(item(&ContentEmbed{Embed: `{"image":"a.png"}`}))
	add(item(&ContentFormat{Key: "bold", Value: "true"}))
	for ref := TypeArray; ref <= TypeXMLText; ref++ {
		ct := &ContentType{Type: ref}
		if ref == TypeXMLElement {
			ct.Name = "paragraph"
		}
		if ref == TypeXMLHook {
			ct.Name = "hook"
		}
		add(item(ct))
	}
	add(item(&ContentAny{Values: []Any{
		{Kind: AnyUndefined}, {Kind: AnyNull}, {Kind: AnyNumber, Number: 7}, {Kind: AnyNumber, Number: -0.5},
		{Kind: AnyNumber, Number: 1e300}, {Kind: AnyBigInt, BigInt: -5}, {Kind: AnyBool, Bool: true},
		{Kind: AnyString, Str: "s"}, {Kind: AnyBytes, Bytes: []byte{9}},
		{Kind: AnyArray, Array: []Any{{Kind: AnyNull}}},
		{Kind: AnyObject, Object: []Field{{Key: "1", Value: Any{Kind: AnyNull}}, {Key: "b", Value: Any{Kind: AnyBool}}}},
	}}))
	add(item(&ContentDoc{GUID: "sub", Opts: Any{Kind: AnyObject, Object: []Field{{Key: "gc", Value: Any{Kind: AnyBool}}, {Key: "autoLoad", Value: Any{Kind: AnyBool, Bool: true}}}}}))
	mapEntry := &Item{ID: ID{Client: c, Clock: clock}, Parent: ParentItem, ParentID: ID{Client: c, Clock: 8}, ParentSub: ptr("key"), Content: &ContentAny{Values: []Any{{Kind: AnyNumber, Number: 1}}}}
	add(mapEntry)
	add(&Item{ID: ID{Client: c, Clock: clock}, RightOrigin: &ID{Client: c, Clock: 0}, Content: &ContentString{Str: "r"}})
	add(&GC{ID: ID{Client: c, Clock: clock}, Length: 4})
	add(&Skip{ID: ID{Client: c, Clock: clock}, Length: 2})
	add(&Item{ID: ID{Client: c, Clock: clock}, Origin: &ID{Client: 7, Clock: 1}, RightOrigin: &ID{Client: 7, Clock: 2}, Content: &ContentString{Str: "end"}})
	// A second client's group, and a struct that does not continue the
	// previous one (a new group for the same client).
	structs = append(structs, &GC{ID: ID{Client: 7, Clock: 0}, Length: 3}, &GC{ID: ID{Client: c, Clock: 100}, Length: 1})
	u := &Update{Structs: structs, DeleteSet: DeleteSet{c: {{Clock: 1, Len: 2}}, 7: {{Clock: 0, Len: 3}, {Clock: 5, Len: 1}}}}

	enc := u.Encode()
	got, err := DecodeUpdate(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, u) {
		for i := range u.Structs {
			if i >= len(got.Structs) || !reflect.DeepEqual(got.Structs[i], u.Structs[i]) {
				t.Fatalf("struct %d: got %#v want %#v", i, got.Structs[i], u.Structs[i])
			}
		}
		t.Fatalf("got %#v\nwant %#v", got, u)
	}
	if again := got.Encode(); !bytes.Equal(again, enc) {
		t.Fatalf("re-encoding differs")
	}
	sv, err := DecodeStateVector(mustSV(t, enc))
	if err != nil {
		t.Fatal(err)
	}
	// Client 42 counts up to its Skip; client 7 starts at 0.
	if sv[c] != clock-2-3 || sv[7] != 3 {
		t.Fatalf("state vector %v", sv)
	}
}

func mustSV(t *testing.T, update []byte) []byte {
	t.Helper()
	sv, err := EncodeStateVectorFromUpdate(update)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

func TestUTF16(t *testing.T) {
	cases := []struct {
		s      string
		n      uint64
		offset uint64
		left   string
		right  string
	}{
		{"abc", 3, 1, "a", "bc"},
		{"é中", 2, 1, "é", "中"},
		{"a😀b", 4, 1, "a", "😀b"},
		{"a😀b", 4, 3, "a😀", "b"},
		{"a😀b", 4, 2, "a\uFFFD", "\uFFFDb"}, // inside the pair
		{"😀😀", 4, 3, "😀\uFFFD", "\uFFFD"},
		{"ab", 2, 5, "ab", ""},
		{"", 0, 0, "", ""},
	}
	for _, c := range cases {
		if got := utf16Len(c.s); got != c.n {
			t.Errorf("utf16Len(%q) = %d, want %d", c.s, got, c.n)
		}
		// Splitting as yjs's ContentString.splice does.
		leftEnd, rightStart, cut := splitUTF16(c.s, c.offset)
		left, right := c.s[:leftEnd], c.s[rightStart:]
		if cut {
			left, right = left+replacementChar, replacementChar+right
		}
		if left != c.left || right != c.right {
			t.Errorf("split(%q, %d) = %q, %q; want %q, %q", c.s, c.offset, left, right, c.left, c.right)
		}
		if c.offset <= c.n && utf16Len(left)+utf16Len(right) != c.n {
			t.Errorf("split(%q, %d) changed the length", c.s, c.offset)
		}
	}
}

func TestMergeEdgeCases(t *testing.T) {
	empty, err := MergeUpdates(nil)
	if err != nil || !bytes.Equal(empty, []byte{0, 0}) {
		t.Fatalf("merge of nothing: %x, %v", empty, err)
	}
	garbage := []byte{9, 9, 9}
	one, err := MergeUpdates([][]byte{garbage})
	if err != nil || !bytes.Equal(one, garbage) {
		t.Fatalf("a single update must come back as it is (like yjs): %x, %v", one, err)
	}
	one[0] = 0
	if garbage[0] != 9 {
		t.Fatal("the single update must be copied")
	}
	_, err = MergeUpdates([][]byte{{0, 0}, garbage})
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrUnexpectedEnd) {
		t.Fatalf("merge with a bad update: %v", err)
	}
	if _, err := DiffUpdate([]byte{0, 0}, []byte{5}); !errors.Is(err, ErrUnexpectedEnd) {
		t.Fatalf("diff with a bad state vector: %v", err)
	}
	if _, err := DecodeUpdate([]byte{1, 1, 1, 0, 0x8b, 1, 1, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown content ref: %v", err)
	}
}

// TestAnyNormalization checks the JavaScript semantics of reading "any"
// values: numbers take the smallest encoding writeAny picks, object keys
// take JavaScript's property order, "__proto__" disappears.
func TestAnyNormalization(t *testing.T) {
	f64 := func(f float64) []byte {
		var w writer
		w.writeFloat64(f)
		return append([]byte{tagFloat64}, w.buf...)
	}
	cases := []struct {
		name string
		in   []byte
		want Any
		out  []byte
	}{
		{"float64 integer", f64(3), Any{Kind: AnyNumber, Number: 3}, []byte{tagInteger, 3}},
		{"float64 half", f64(0.5), Any{Kind: AnyNumber, Number: 0.5}, []byte{tagFloat32, 0x3f, 0, 0, 0}},
		{"negative zero", []byte{tagInteger, 0x40}, Any{Kind: AnyNumber, Number: math.Copysign(0, -1)}, []byte{tagInteger, 0x40}},
		{"non-minimal int", []byte{tagInteger, 0x81, 0x00}, Any{Kind: AnyNumber, Number: 1}, []byte{tagInteger, 1}},
		{"key order", []byte{tagObject, 3, 1, 'b', tagNull, 1, '1', tagNull, 1, '0', tagTrue},
			Any{Kind: AnyObject, Object: []Field{{"0", Any{Kind: AnyBool, Bool: true}}, {"1", Any{Kind: AnyNull}}, {"b", Any{Kind: AnyNull}}}},
			[]byte{tagObject, 3, 1, '0', tagTrue, 1, '1', tagNull, 1, 'b', tagNull}},
		{"repeated key", []byte{tagObject, 2, 1, 'a', tagNull, 1, 'a', tagTrue},
			Any{Kind: AnyObject, Object: []Field{{"a", Any{Kind: AnyBool, Bool: true}}}},
			[]byte{tagObject, 1, 1, 'a', tagTrue}},
		{"__proto__", append([]byte{tagObject, 1, 9}, append([]byte("__proto__"), tagNull)...),
			Any{Kind: AnyObject, Object: []Field{}}, []byte{tagObject, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &reader{buf: c.in}
			got, err := r.readAny(0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
			var w writer
			w.writeAny(got)
			if !bytes.Equal(w.buf, c.out) {
				t.Fatalf("encoded %x want %x", w.buf, c.out)
			}
			// The scanner must agree on whether the input was canonical.
			canon, err := (&reader{buf: c.in}).scanAny(0)
			if err != nil || canon != bytes.Equal(c.in, c.out) {
				t.Fatalf("scanAny canonical=%v (%v), want %v", canon, err, bytes.Equal(c.in, c.out))
			}
		})
	}
}

func TestNormalizeJSON(t *testing.T) {
	cases := map[string]string{
		` { "b" : 1 , "a" : [ 1.0 , 2e0 ] } `: `{"b":1,"a":[1,2]}`,
		`{"2":1,"1":2,"x":3,"0":4}`:           `{"0":4,"1":2,"2":1,"x":3}`,
		`{"a":1,"a":2}`:                       `{"a":2}`,
		`{"__proto__":1}`:                     `{"__proto__":1}`,
		`1e21`:                                `1e+21`,
		`1e-7`:                                `1e-7`,
		`0.000001`:                            `0.000001`,
		`123e-20`:                             `1.23e-18`,
		`-0`:                                  `0`,
		`1E400`:                               `null`,
		`"\u0041\/\ud800\u001f"`:              `"A/\ud800\u001f"`,
		`"\ud83d\ude00"`:                      `"😀"`,
		`[]`:                                  `[]`,
	}
	for in, want := range cases {
		got, err := normalizeJSON(in)
		if err != nil || got != want {
			t.Errorf("normalizeJSON(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `[1,]`, `01`, `.5`, `+1`, `"\x"`, "\"\x01\"", `NaN`, `undefined`, `{"a" 1}`, `1 2`} {
		if _, err := normalizeJSON(bad); err == nil {
			t.Errorf("normalizeJSON(%q) accepted invalid JSON", bad)
		}
	}
}
