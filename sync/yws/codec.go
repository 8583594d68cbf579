package yws

import "github.com/webhost-systems/webhost/sync/yjs"

// YjsCodec is the Codec of sync/yjs, the Go implementation of the Yjs v1
// update format.
type YjsCodec struct{}

var _ Codec = YjsCodec{}

// MergeUpdates implements Codec with yjs.MergeUpdates.
func (YjsCodec) MergeUpdates(updates [][]byte) ([]byte, error) { return yjs.MergeUpdates(updates) }

// DiffUpdate implements Codec with yjs.DiffUpdate.
func (YjsCodec) DiffUpdate(update, stateVector []byte) ([]byte, error) {
	return yjs.DiffUpdate(update, stateVector)
}

// EncodeStateVectorFromUpdate implements Codec with
// yjs.EncodeStateVectorFromUpdate.
func (YjsCodec) EncodeStateVectorFromUpdate(update []byte) ([]byte, error) {
	return yjs.EncodeStateVectorFromUpdate(update)
}

// ValidateUpdate implements Codec with yjs.ValidateUpdate.
func (YjsCodec) ValidateUpdate(update []byte) error {
	return yjs.ValidateUpdate(update)
}
