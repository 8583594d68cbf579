package yjs

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

type sortElem struct {
	index int
	b     block
}

// yjsCompare is compareCursors on plain elements.
func yjsCompare(x, y sortElem) int {
	return compareCursors(&cursor{sr: &structReader{curr: x.b}}, &cursor{sr: &structReader{curr: y.b}})
}

// TestJSSortMatchesV8 sorts arrays with yjs's inconsistent merge comparator
// and requires the permutation V8 produced (testdata/jssort.json.gz, made
// by testdata/gen/gen.mjs), for short arrays (binary insertion) and long
// ones (runs, merges and galloping).
func TestJSSortMatchesV8(t *testing.T) {
	f, err := os.Open("testdata/jssort.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Els   [][3]uint64 `json:"els"`
		Order []int       `json:"order"`
	}
	if err := json.NewDecoder(zr).Decode(&cases); err != nil {
		t.Fatal(err)
	}
	long := 0
	for ci, c := range cases {
		els := make([]sortElem, len(c.Els))
		for i, e := range c.Els {
			kind := blockItem
			if e[2] == 1 {
				kind = blockGC
			}
			els[i] = sortElem{index: i, b: block{kind: kind, client: e[0], clock: e[1], length: 1}}
		}
		jsSort(els, yjsCompare)
		for i, e := range els {
			if e.index != c.Order[i] {
				t.Fatalf("case %d (n=%d): position %d holds %d, V8 has %d", ci, len(els), i, e.index, c.Order[i])
			}
		}
		if len(els) >= 64 {
			long++
		}
	}
	t.Logf("%d arrays (%d of 64 or more elements) sorted exactly as V8 sorts them", len(cases), long)
}

// TestJSSortStable checks that jsSort is a stable sort for consistent
// comparators, where it must agree with slices.SortStableFunc.
func TestJSSortStable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfN(rapid.IntRange(0, 20), 0, 600).Draw(t, "keys")
		type kv struct{ key, index int }
		a := make([]kv, len(keys))
		for i, k := range keys {
			a[i] = kv{k, i}
		}
		b := slices.Clone(a)
		cmp := func(x, y kv) int { return x.key - y.key }
		jsSort(a, cmp)
		slices.SortStableFunc(b, cmp)
		if !slices.Equal(a, b) {
			t.Fatalf("jsSort differs from a stable sort:\n%v\n%v", a, b)
		}
	})
}
