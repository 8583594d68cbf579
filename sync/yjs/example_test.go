package yjs_test

import (
	"fmt"

	"github.com/webhost-systems/webhost/sync/yjs"
)

// Two updates of one client, as y-websocket clients send them: "ab" typed
// into the root text "t", then "c" after it.
var (
	typedAB = []byte{1, 1, 1, 0, 4, 1, 1, 't', 2, 'a', 'b', 0}
	typedC  = []byte{1, 1, 1, 2, 0x84, 1, 1, 1, 'c', 0}
)

// Compaction: merge a document's stored updates into one.
func ExampleMergeUpdates() {
	merged, err := yjs.MergeUpdates([][]byte{typedAB, typedC})
	if err != nil {
		panic(err)
	}
	sv, err := yjs.EncodeStateVectorFromUpdate(merged)
	if err != nil {
		panic(err)
	}
	clocks, err := yjs.DecodeStateVector(sv)
	if err != nil {
		panic(err)
	}
	fmt.Println(clocks)
	// Output: map[1:3]
}

// Sync step 2: send a client only what its state vector lacks.
func ExampleDiffUpdate() {
	doc, err := yjs.MergeUpdates([][]byte{typedAB, typedC})
	if err != nil {
		panic(err)
	}
	clientHas := yjs.EncodeStateVector(map[uint64]uint64{1: 2})
	missing, err := yjs.DiffUpdate(doc, clientHas)
	if err != nil {
		panic(err)
	}
	u, err := yjs.DecodeUpdate(missing)
	if err != nil {
		panic(err)
	}
	for _, s := range u.Structs {
		it := s.(*yjs.Item)
		fmt.Printf("%d:%d %q after %v\n", it.ID.Client, it.ID.Clock, it.Content.(*yjs.ContentString).Str, *it.Origin)
	}
	// Output: 1:2 "c" after {1 1}
}
