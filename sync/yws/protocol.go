package yws

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Message types of the y-websocket protocol (y-websocket's messageSync,
// messageAwareness, messageAuth and messageQueryAwareness).
const (
	MessageSync           = 0
	MessageAwareness      = 1
	MessageAuth           = 2
	MessageQueryAwareness = 3
)

// Sync message types of y-protocols/sync.
const (
	SyncStep1  = 0
	SyncStep2  = 1
	SyncUpdate = 2
)

// authPermissionDenied is y-protocols/auth's messagePermissionDenied.
const authPermissionDenied = 0

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: lib0 cannot read
// a larger varUint, so neither do we.
const maxSafeInteger = 1<<53 - 1

// ErrMalformed is returned for bytes that are not a valid protocol message.
var ErrMalformed = errors.New("yws: malformed message")

// Message is one decoded y-websocket protocol message. Payload aliases the
// decoded buffer.
type Message struct {
	// Type is MessageSync, MessageAwareness, MessageAuth or MessageQueryAwareness.
	Type uint64
	// SyncType is SyncStep1, SyncStep2 or SyncUpdate for MessageSync.
	SyncType uint64
	// Payload is the state vector (SyncStep1), the update (SyncStep2,
	// SyncUpdate) or the awareness update (MessageAwareness).
	Payload []byte
	// AuthReason is the reason of a permission-denied MessageAuth.
	AuthReason string
}

// DecodeMessages decodes every message in one WebSocket frame (the
// y-websocket client sends one per frame, but lib0 readers accept several).
// It returns ErrMalformed, wrapped with the offset, for truncated input,
// unknown message types, or varUints beyond 2^53-1.
func DecodeMessages(b []byte) ([]Message, error) {
	d := decoder{buf: b}
	var msgs []Message
	for d.pos < len(d.buf) {
		m, err := d.message()
		if err != nil {
			return nil, fmt.Errorf("%w at byte %d: %w", ErrMalformed, d.pos, err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	return msgs, nil
}

func (d *decoder) message() (Message, error) {
	var m Message
	var err error
	if m.Type, err = d.varUint(); err != nil {
		return m, err
	}
	switch m.Type {
	case MessageSync:
		if m.SyncType, err = d.varUint(); err != nil {
			return m, err
		}
		if m.SyncType > SyncUpdate {
			return m, fmt.Errorf("unknown sync message type %d", m.SyncType)
		}
		m.Payload, err = d.varBytes()
	case MessageAwareness:
		m.Payload, err = d.varBytes()
	case MessageAuth:
		var kind uint64
		if kind, err = d.varUint(); err != nil {
			return m, err
		}
		if kind != authPermissionDenied {
			return m, fmt.Errorf("unknown auth message type %d", kind)
		}
		m.AuthReason, err = d.varString()
	case MessageQueryAwareness:
	default:
		return m, fmt.Errorf("unknown message type %d", m.Type)
	}
	return m, err
}

// AwarenessEntry is one client's state in an awareness update. State is the
// JSON text of the state; "null" means the client is gone.
type AwarenessEntry struct {
	ClientID uint64
	Clock    uint64
	State    string
}

// DecodeAwareness decodes a y-protocols awareness update. It returns
// ErrMalformed for truncated input, trailing bytes or invalid UTF-8.
func DecodeAwareness(b []byte) ([]AwarenessEntry, error) {
	d := decoder{buf: b}
	n, err := d.varUint()
	if err != nil {
		return nil, fmt.Errorf("%w: awareness: %w", ErrMalformed, err)
	}
	// Each entry takes at least 3 bytes; refuse counts the input cannot hold.
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: awareness: %d entries in %d bytes", ErrMalformed, n, len(b))
	}
	entries := make([]AwarenessEntry, 0, n)
	for range n {
		var e AwarenessEntry
		if e.ClientID, err = d.varUint(); err != nil {
			return nil, fmt.Errorf("%w: awareness client: %w", ErrMalformed, err)
		}
		if e.Clock, err = d.varUint(); err != nil {
			return nil, fmt.Errorf("%w: awareness clock: %w", ErrMalformed, err)
		}
		if e.State, err = d.varString(); err != nil {
			return nil, fmt.Errorf("%w: awareness state: %w", ErrMalformed, err)
		}
		entries = append(entries, e)
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("%w: awareness: %d trailing bytes", ErrMalformed, len(b)-d.pos)
	}
	return entries, nil
}

// EncodeAwareness encodes an awareness update.
func EncodeAwareness(entries []AwarenessEntry) []byte {
	b := appendVarUint(nil, uint64(len(entries)))
	for _, e := range entries {
		b = appendVarUint(b, e.ClientID)
		b = appendVarUint(b, e.Clock)
		b = appendVarString(b, e.State)
	}
	return b
}

// EncodeSync encodes a sync message (SyncStep1 with a state vector,
// SyncStep2 or SyncUpdate with an update).
func EncodeSync(syncType uint64, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+12)
	b = appendVarUint(b, MessageSync)
	b = appendVarUint(b, syncType)
	return appendVarBytes(b, payload)
}

// EncodeAwarenessMessage wraps an awareness update in a MessageAwareness.
func EncodeAwarenessMessage(update []byte) []byte {
	b := make([]byte, 0, len(update)+6)
	b = appendVarUint(b, MessageAwareness)
	return appendVarBytes(b, update)
}

// EncodeQueryAwareness encodes a MessageQueryAwareness.
func EncodeQueryAwareness() []byte { return []byte{MessageQueryAwareness} }

// EncodeAuthDenied encodes a permission-denied MessageAuth with a reason.
func EncodeAuthDenied(reason string) []byte {
	b := appendVarUint(nil, MessageAuth)
	b = appendVarUint(b, authPermissionDenied)
	return appendVarString(b, reason)
}

// emptyUpdate is a Yjs v1 update with no structs and an empty delete set:
// what a client sends as SyncStep2 when it has nothing the server lacks.
var emptyUpdate = []byte{0, 0}

type decoder struct {
	buf []byte
	pos int
}

var errTruncated = errors.New("unexpected end of input")

// varUint reads lib0's unsigned LEB128 varUint, at most 2^53-1.
func (d *decoder) varUint() (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if d.pos >= len(d.buf) {
			return 0, errTruncated
		}
		c := d.buf[d.pos]
		d.pos++
		if shift > 49 {
			return 0, errors.New("varUint exceeds 2^53-1")
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if v > maxSafeInteger {
				return 0, errors.New("varUint exceeds 2^53-1")
			}
			return v, nil
		}
	}
}

func (d *decoder) varBytes() ([]byte, error) {
	n, err := d.varUint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)-d.pos) {
		return nil, errTruncated
	}
	b := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) varString() (string, error) {
	b, err := d.varBytes()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", errors.New("invalid UTF-8 in string")
	}
	return string(b), nil
}

func appendVarUint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendVarBytes(b, p []byte) []byte {
	b = appendVarUint(b, uint64(len(p)))
	return append(b, p...)
}

func appendVarString(b []byte, s string) []byte {
	b = appendVarUint(b, uint64(len(s)))
	return append(b, s...)
}

// clockAfter returns clock+1, saturating at JavaScript's safe integer limit.
func clockAfter(clock uint64) uint64 {
	if clock >= math.MaxInt64 || clock >= maxSafeInteger {
		return maxSafeInteger
	}
	return clock + 1
}
