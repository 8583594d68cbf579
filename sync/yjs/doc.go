// Package yjs reads and writes the Yjs v1 update format and implements the
// update algebra the sync server needs without a document model:
// MergeUpdates, DiffUpdate and EncodeStateVectorFromUpdate behave like
// Y.mergeUpdates, Y.diffUpdate and Y.encodeStateVectorFromUpdate of the yjs
// npm package (13.6), and are cross-checked against it byte for byte (see
// testdata and the note in /work/notes/issue-7-yjs.md).
//
// Lengths and clocks count UTF-16 code units for text, as JavaScript does.
// All decoders bound every length by the remaining input, so hostile input
// yields an error wrapping ErrUnexpectedEnd or ErrMalformed, never a panic
// or an allocation out of proportion to the input.
//
// The functions keep no state and never modify their inputs; they are safe
// for concurrent use.
package yjs
