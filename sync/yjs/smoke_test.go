package yjs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// Vectors produced by yjs 13.6.33: two clients editing text, a map and an
// array, with a deletion and unicode outside the BMP.
var (
	smokeUpdates = []string{
		"01010100040101741168c3a96c6c6f20f09f988020776f726c6400",
		"0101010e2801016d016b01760201787d0101797503787e77017a00",
		"0101010fc40102010302616200",
		"01020100040101741168c3a96c6c6f20f09f988020776f726c642801016d016b01760201787d0101797503787e77017a00",
		"000101010205",
		"0102020008010161037d017c4020000077017883020202010200",
	}
	smokeMerged = "0202020008010161037d017c40200000770178830202020102030100040101741168c3a96c6c6f20f09f988020776f726c642801016d016b01760201787d0101797503787e77017ac4010201030261620101010205"
	smokeSV     = []string{
		"01010e",
		"00",
		"00",
		"01010f",
		"00",
		"010204",
	}
	smokeDiffSV  = "020204010f"
	smokeDiff    = "0101010fc4010201030261620101010205"
	smokeDiffMid = "0202020008010161037d017c402000007701788302020201020301088401070620776f726c642801016d016b01760201787d0101797503787e77017ac4010201030261620101010205"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smokeInputs(t *testing.T) [][]byte {
	var out [][]byte
	for _, s := range smokeUpdates {
		out = append(out, mustHex(t, s))
	}
	return out
}

func TestSmokeMergeUpdates(t *testing.T) {
	got, err := MergeUpdates(smokeInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, smokeMerged); !bytes.Equal(got, want) {
		t.Fatalf("merge:\n got %x\nwant %x", got, want)
	}
}

func TestSmokeStateVectorFromUpdate(t *testing.T) {
	for i, u := range smokeInputs(t) {
		got, err := EncodeStateVectorFromUpdate(u)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHex(t, smokeSV[i]); !bytes.Equal(got, want) {
			t.Errorf("update %d: got %x want %x", i, got, want)
		}
	}
}

func TestSmokeDiffUpdate(t *testing.T) {
	merged := mustHex(t, smokeMerged)
	got, err := DiffUpdate(merged, mustHex(t, smokeDiffSV))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, smokeDiff); !bytes.Equal(got, want) {
		t.Fatalf("diff:\n got %x\nwant %x", got, want)
	}
	got, err = DiffUpdate(merged, EncodeStateVector(map[uint64]uint64{1: 8}))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, smokeDiffMid); !bytes.Equal(got, want) {
		t.Fatalf("diff mid:\n got %x\nwant %x", got, want)
	}
}

func TestSmokeDecodeEncodeRoundTrip(t *testing.T) {
	for i, u := range append(smokeInputs(t), mustHex(t, smokeMerged)) {
		dec, err := DecodeUpdate(u)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if got := dec.Encode(); !bytes.Equal(got, u) {
			t.Errorf("update %d: round trip\n got %x\nwant %x", i, got, u)
		}
	}
}

func TestStateVectorRoundTrip(t *testing.T) {
	sv := map[uint64]uint64{1: 8, 2: 4, 1 << 40: 3}
	got, err := DecodeStateVector(EncodeStateVector(sv))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sv) {
		t.Fatalf("got %v want %v", got, sv)
	}
	for k, v := range sv {
		if got[k] != v {
			t.Fatalf("got %v want %v", got, sv)
		}
	}
	if want := "020204010f"; hex.EncodeToString(EncodeStateVector(map[uint64]uint64{1: 15, 2: 4})) != want {
		t.Fatalf("clients must be written in descending order")
	}
}

func TestDecodeTruncated(t *testing.T) {
	u := mustHex(t, smokeMerged)
	for n := 0; n < len(u); n++ {
		_, err := DecodeUpdate(u[:n])
		if err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", n)
		}
		if !errors.Is(err, ErrUnexpectedEnd) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: unexpected error %v", n, err)
		}
	}
}
