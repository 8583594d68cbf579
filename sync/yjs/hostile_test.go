package yjs

import (
	"errors"
	"runtime"
	"testing"
	"unicode/utf8"
)

// TestHostileLengths gives the decoders headers that claim huge counts and
// lengths. Each must fail with ErrUnexpectedEnd without allocating memory
// in proportion to the claim.
func TestHostileLengths(t *testing.T) {
	huge := appendVarUint(nil, maxSafeInteger)
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name string
		in   []byte
	}{
		{"clients", cat(huge, []byte{1, 2, 3})},
		{"structs", cat([]byte{1}, huge, []byte{1, 0})},
		{"string", cat([]byte{1, 1, 1, 0, 4, 1, 1, 'a'}, huge)},
		{"binary", cat([]byte{1, 1, 1, 0, 3, 1, 1, 'a'}, huge)},
		{"any array", cat([]byte{1, 1, 1, 0, 8, 1, 1, 'a'}, huge)},
		{"json array", cat([]byte{1, 1, 1, 0, 2, 1, 1, 'a'}, huge)},
		{"nested any array", cat([]byte{1, 1, 1, 0, 8, 1, 1, 'a', 1, tagArray}, huge)},
		{"any object", cat([]byte{1, 1, 1, 0, 8, 1, 1, 'a', 1, tagObject}, huge)},
		{"delete set", cat([]byte{0}, huge)},
		{"delete ranges", cat([]byte{0, 1, 5}, huge)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := DecodeUpdate(c.in)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrUnexpectedEnd) {
				t.Fatalf("got %v, want ErrUnexpectedEnd", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
				t.Fatalf("decoding %d bytes allocated %d bytes", len(c.in), grew)
			}
		})
	}
	// Nested arrays that each claim 2000 elements, which the input could
	// hold, but hold only the next array.
	nested := []byte{1, 1, 1, 0, 8, 1, 1, 'a', 1}
	for len(nested) < 8000 {
		nested = append(nested, tagArray)
		nested = appendVarUint(nested, 2000)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeUpdate(nested)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("nested claims decoded")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("decoding %d bytes of nested claims allocated %d bytes", len(nested), grew)
	}
	if _, err := DecodeStateVector(cat(huge, []byte{1, 2})); !errors.Is(err, ErrUnexpectedEnd) {
		t.Fatalf("state vector: got %v", err)
	}
}

// TestDeepNesting checks that nesting is bounded: MaxNesting levels of
// arrays decode, one more is ErrMalformed, and nothing overflows the stack.
func TestDeepNesting(t *testing.T) {
	build := func(depth int) []byte {
		u := []byte{1, 1, 1, 0, 8, 1, 1, 'a', 1}
		for i := 0; i < depth; i++ {
			u = append(u, tagArray, 1)
		}
		return append(u, tagNull, 0)
	}
	if _, err := DecodeUpdate(build(MaxNesting)); err != nil {
		t.Fatalf("depth %d: %v", MaxNesting, err)
	}
	if _, err := DecodeUpdate(build(MaxNesting + 1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("depth %d: got %v, want ErrMalformed", MaxNesting+1, err)
	}
	if _, err := DecodeUpdate(build(1 << 20)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("depth 2^20: got %v, want ErrMalformed", err)
	}
	deepJSON := []byte{1, 1, 1, 0, 5, 1, 1, 'a'}
	s := ""
	for i := 0; i <= MaxNesting+1; i++ {
		s = "[" + s + "]"
	}
	deepJSON = append(appendVarUint(deepJSON, uint64(len(s))), s...)
	if _, err := DecodeUpdate(append(deepJSON, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("deep JSON: got %v, want ErrMalformed", err)
	}
}

// TestCanonicalJSONAgreesWithNormalize checks the fast path: whenever
// canonicalJSON accepts a text, normalizeJSON must return it unchanged.
func TestCanonicalJSONAgreesWithNormalize(t *testing.T) {
	texts := []string{
		`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `1.5`, `1e21`, `1e+21`, `1e-7`, `0.000001`, `1E5`, `01`, `1.`, `.5`, `-`,
		`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\n\t\r\b\f"`, `"\u0001"`, `"\ud800"`, `"é😀"`, "\"\u2028\"",
		`[]`, `[1,2]`, `[1 ,2]`, `[1,]`, `{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"b":1,"a":2}`, `{"1":1,"0":2}`, `{"0":1,"a":2}`,
		`{"a":1,"0":2}`, `{"__proto__":1}`, `{"a":{"b":[{"c":null}]}}`, ` 1`, `1 `, `{"a" :1}`, `tru`, `nul`, `[`, `{"a":}`,
		`123456789012345678901234567890`, `1.7976931348623157e+308`, `5e-324`, `100`, `1e2`, `-1.25`, `4294967295`,
	}
	for _, s := range texts {
		if !canonicalJSON([]byte(s)) {
			continue
		}
		norm, err := normalizeJSON(s)
		if err != nil || norm != s {
			t.Errorf("canonicalJSON accepts %q but normalizeJSON gives %q, %v", s, norm, err)
		}
	}
}

// FuzzCanonicalJSON requires canonicalJSON never to accept a text that
// normalizeJSON rejects or rewrites.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null]}`, `1e21`, `"\n"`, `{"1":0,"b":true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || !canonicalJSON([]byte(s)) {
			return
		}
		if norm, err := normalizeJSON(s); err != nil || norm != s {
			t.Fatalf("canonicalJSON accepts %q but normalizeJSON gives %q, %v", s, norm, err)
		}
	})
}
