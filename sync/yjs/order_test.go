package yjs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestIncrementalOrderMatchesFullSort merges random subsets of each
// generated session's updates, in random order, once with the incremental
// cursor order and once re-sorting every step as yjs does; the outputs
// must be identical. Sessions with garbage-collected content make Item/GC
// ties, where only the full V8 sort is exact.
func TestIncrementalOrderMatchesFullSort(t *testing.T) {
	cf := loadCases(t)
	rng := rand.New(rand.NewPCG(1, 2))
	merges := 0
	for _, s := range cf.Sessions {
		if len(s.Names) > 0 {
			continue
		}
		updates := make([][]byte, len(s.Updates))
		for i, u := range s.Updates {
			updates[i] = b64(t, u)
		}
		for range 3 {
			perm := rng.Perm(len(updates))[:1+rng.IntN(len(updates))]
			in := make([][]byte, len(perm))
			for i, p := range perm {
				in[i] = updates[p]
			}
			fast, err := MergeUpdates(in)
			if err != nil {
				t.Fatal(err)
			}
			full, err := mergeUpdates(in, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fast, full) {
				t.Fatalf("%s: incremental order differs from full sort for updates %v", s.ID, perm)
			}
			merges++
		}
	}
	t.Logf("%d random merges agree", merges)
}
