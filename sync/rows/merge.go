package rows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// rowState is a row as the apply step sees it.
type rowState struct {
	exists  bool // a row (live or tombstone) is stored for the key
	deleted bool
	value   json.RawMessage
	version int64 // the stored version; the write bumps it once
	changed bool  // the mutation changed the row and it must be written
}

// errPatchTarget is a rejection: a patch whose target is not an object.
var errPatchTarget = errors.New("patch target is not a JSON object")

// applyOp applies op to st following ROW-SYNC.md's conflict rules. It
// reports whether the op had an effect; a dropped op returns false and no
// error. The version is bumped by the write, once per mutation. The server's receive order decides; client timestamps never do.
func applyOp(st *rowState, op Op) (bool, error) {
	live := st.exists && !st.deleted
	switch op.Op {
	case OpPut:
		// Deletes win: an op that was based on a version of a row that has
		// since been deleted is dropped. A put with no base version is a
		// deliberate (re)creation and brings the row back.
		if st.exists && st.deleted && op.BaseVersion != nil {
			return false, nil
		}
		st.value = op.Value
		st.deleted = false
	case OpPatch:
		// A patch needs a live row: on a deleted row it is dropped (deletes
		// win), and on a missing row there is nothing to patch, as with
		// Dexie's Table.update.
		if !live {
			return false, nil
		}
		merged, err := mergePatch(st.value, op.Patch)
		if err != nil {
			return false, err
		}
		st.value = merged
	case OpDelete:
		if !live {
			return false, nil
		}
		st.deleted = true
		st.value = nil
	default:
		return false, fmt.Errorf("unknown op %q", op.Op)
	}
	st.exists = true
	st.changed = true
	return true, nil
}

// mergePatch sets each field of patch on value: last write wins per field.
// A field name with dots is a key path into nested objects, as in Dexie's
// Table.update; missing intermediate objects are created.
func mergePatch(value, patch json.RawMessage) (json.RawMessage, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(value, &doc); err != nil || doc == nil {
		return nil, errPatchTarget
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	for path, v := range fields {
		if err := setPath(doc, strings.Split(path, "."), v); err != nil {
			return nil, fmt.Errorf("patch %q: %w", path, err)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode patched row: %w", err)
	}
	return out, nil
}

func setPath(doc map[string]json.RawMessage, path []string, v json.RawMessage) error {
	if len(path) == 1 {
		doc[path[0]] = v
		return nil
	}
	var child map[string]json.RawMessage
	if raw, ok := doc[path[0]]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &child); err != nil || child == nil {
			return errPatchTarget
		}
	} else {
		child = map[string]json.RawMessage{}
	}
	if err := setPath(child, path[1:], v); err != nil {
		return err
	}
	raw, err := json.Marshal(child)
	if err != nil {
		return fmt.Errorf("encode %q: %w", path[0], err)
	}
	doc[path[0]] = raw
	return nil
}
