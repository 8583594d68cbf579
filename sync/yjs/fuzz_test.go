package yjs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// fuzzSeeds are small real updates; the committed corpus under
// testdata/fuzz holds more (generated and crafted ones).
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, s := range append(append([]string{}, smokeUpdates...), smokeMerged, smokeDiff, smokeDiffMid) {
		b, err := hex.DecodeString(s)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func requireDecodeError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnexpectedEnd) && !errors.Is(err, ErrMalformed) {
		t.Fatalf("error wraps neither ErrUnexpectedEnd nor ErrMalformed: %v", err)
	}
}

// FuzzDecodeUpdate feeds arbitrary bytes to the decoder. It must not panic;
// errors must be typed; what decodes must encode to bytes that decode to
// the same encoding again (normalization is idempotent), and the update
// algebra must accept it.
func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := DecodeUpdate(data)
		if verr := ValidateUpdate(data); (verr == nil) != (err == nil) {
			t.Fatalf("ValidateUpdate says %v, DecodeUpdate says %v", verr, err)
		}
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		enc := u.Encode()
		u2, err := DecodeUpdate(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v\n%x", err, enc)
		}
		if enc2 := u2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}
		if _, err := EncodeStateVectorFromUpdate(data); err != nil {
			t.Fatalf("state vector of a decodable update: %v", err)
		}
		diff, err := DiffUpdate(data, []byte{0})
		if err != nil {
			t.Fatalf("diff of a decodable update: %v", err)
		}
		if _, err := DecodeUpdate(diff); err != nil {
			t.Fatalf("diff output does not decode: %v\n%x", err, diff)
		}
	})
}

// FuzzMergeUpdates merges arbitrary updates (the input split at 0xff 0xfe)
// and, when all of them decode, requires the result to decode too.
func FuzzMergeUpdates(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i := range seeds {
		f.Add(bytes.Join([][]byte{seeds[i], seeds[(i+1)%len(seeds)], seeds[(i+3)%len(seeds)]}, []byte{0xff, 0xfe}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.Split(data, []byte{0xff, 0xfe})
		if len(parts) < 2 {
			parts = append(parts, []byte{0, 0})
		}
		merged, err := MergeUpdates(parts)
		if err != nil {
			requireDecodeError(t, err)
			// A server validates what it stores; merging valid updates
			// (compaction) must then never fail.
			valid := true
			for _, p := range parts {
				valid = valid && ValidateUpdate(p) == nil
			}
			if valid {
				t.Fatalf("merging valid updates failed: %v", err)
			}
			return
		}
		if _, err := DecodeUpdate(merged); err != nil {
			t.Fatalf("merge output does not decode: %v\n%x", err, merged)
		}
		sv, err := EncodeStateVectorFromUpdate(merged)
		if err != nil {
			t.Fatalf("state vector of merge output: %v", err)
		}
		if _, err := DiffUpdate(merged, sv); err != nil {
			t.Fatalf("diff of merge output by its state vector: %v", err)
		}
	})
}

// FuzzDiffUpdate diffs arbitrary updates by arbitrary state vectors (the
// input split at 0xff 0xfe).
func FuzzDiffUpdate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(append(append(s, 0xff, 0xfe), 2, 1, 3, 2, 2))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		update, sv, _ := bytes.Cut(data, []byte{0xff, 0xfe})
		diff, err := DiffUpdate(update, sv)
		if err != nil {
			requireDecodeError(t, err)
			if _, svErr := DecodeStateVector(sv); svErr == nil && ValidateUpdate(update) == nil {
				t.Fatalf("diff of a valid update by a valid state vector failed: %v", err)
			}
			return
		}
		if _, err := DecodeUpdate(diff); err != nil {
			t.Fatalf("diff output does not decode: %v\n%x", err, diff)
		}
	})
}

// FuzzDecodeStateVector requires decode/encode of state vectors to be
// stable.
func FuzzDecodeStateVector(f *testing.F) {
	f.Add([]byte{2, 2, 4, 1, 15})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		sv, err := DecodeStateVector(data)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		enc := EncodeStateVector(sv)
		sv2, err := DecodeStateVector(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(EncodeStateVector(sv2), enc) {
			t.Fatal("state vector encoding is not stable")
		}
	})
}

// FuzzJSSort sorts arbitrary arrays with yjs's inconsistent comparator:
// the result must be a permutation of the input (no element lost or
// duplicated, no panic).
func FuzzJSSort(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1, 2, 3, 0, 7, 5}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		els := make([]sortElem, len(data))
		for i, b := range data {
			kind := blockItem
			if b&1 == 1 {
				kind = blockGC
			}
			els[i] = sortElem{index: i, b: block{kind: kind, client: uint64(b >> 6), clock: uint64(b>>1) & 7}}
		}
		jsSort(els, yjsCompare)
		seen := make([]bool, len(els))
		for _, e := range els {
			if seen[e.index] {
				t.Fatalf("element %d appears twice", e.index)
			}
			seen[e.index] = true
		}
	})
}
