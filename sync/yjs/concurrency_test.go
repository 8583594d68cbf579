package yjs

import (
	"bytes"
	"sync"
	"testing"
)

// TestConcurrentUseLeavesInputsAlone runs the update algebra from several
// goroutines on shared inputs (run it with -race): the functions keep no
// shared state, never write into their inputs (results reference no input
// memory that a later append could overwrite), and agree with a serial run.
func TestConcurrentUseLeavesInputsAlone(t *testing.T) {
	cf := loadCases(t)
	var updates [][]byte
	for _, s := range cf.Sessions[:40] {
		for _, u := range s.Updates {
			updates = append(updates, b64(t, u))
		}
	}
	before := make([][]byte, len(updates))
	for i, u := range updates {
		before[i] = bytes.Clone(u)
	}
	want, err := MergeUpdates(updates)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := EncodeStateVectorFromUpdate(updates[len(updates)/2])
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := MergeUpdates(updates)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("concurrent merge differs: %v", err)
				return
			}
			// Appending to a result must not reach shared memory.
			_ = append(got, 1, 2, 3)
			for _, u := range updates[:50] {
				if _, err := DiffUpdate(u, sv); err != nil {
					t.Error(err)
				}
				if _, err := EncodeStateVectorFromUpdate(u); err != nil {
					t.Error(err)
				}
				if _, err := DecodeUpdate(u); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range updates {
		if !bytes.Equal(updates[i], before[i]) {
			t.Fatalf("update %d was modified", i)
		}
	}
}
