package rows

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// ProtocolVersion is the only protocol version this server speaks ("v":1).
const ProtocolVersion = 1

// Operation kinds of a pushed op.
const (
	OpPut    = "put"
	OpPatch  = "patch"
	OpDelete = "delete"
)

// Change kinds of a pulled change.
const (
	ChangeUpsert = "upsert"
	ChangeDelete = "delete"
)

// Mutation outcomes reported by a push.
const (
	StatusApplied  = "applied"
	StatusAlready  = "already"
	StatusRejected = "rejected"
)

// Structural limits of the wire format, independent of per-key limits.
const (
	maxClientIDLen   = 128
	maxKeyLen        = 512
	maxTableNameLen  = 63
	maxSchemaHashLen = 256
	maxTenantLen     = 128
	maxPullTables    = 64
)

// tableNamePattern is what a synced table may be called.
var tableNamePattern = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// ErrMalformed is wrapped by every decoding error: the request is not a
// valid v1 push or pull (HTTP 400).
var ErrMalformed = errors.New("rows: malformed request")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// PushRequest is the body of POST /v1/sync/push.
type PushRequest struct {
	V          int        `json:"v"`
	ClientID   string     `json:"clientId"`
	SchemaHash string     `json:"schemaHash"`
	Mutations  []Mutation `json:"mutations"`
}

// Mutation is one client transaction: its ops are applied atomically.
type Mutation struct {
	MID int64 `json:"mid"`
	// TS is the client's clock in Unix milliseconds; it is only logged and
	// stored, never used to resolve conflicts.
	TS  int64 `json:"ts"`
	Ops []Op  `json:"ops"`
}

// Op is one row operation of a mutation.
type Op struct {
	Table string          `json:"tbl"`
	Op    string          `json:"op"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
	Patch json.RawMessage `json:"patch,omitempty"`
	// BaseVersion is the row version the client last saw, nil for a row it
	// did not know. A non-nil BaseVersion on a deleted row drops the op.
	BaseVersion *int64 `json:"baseVersion"`
	// Tenant optionally names the customer the op targets (like Dexie
	// Cloud's realmId). An op naming another customer than the key's is
	// rejected.
	Tenant string `json:"tenant,omitempty"`
}

// PushResult is the outcome of one mutation.
type PushResult struct {
	MID    int64  `json:"mid"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// PushResponse is the 200 body of a push.
type PushResponse struct {
	LastMID int64        `json:"lastMid"`
	Results []PushResult `json:"results"`
}

// PullRequest is the body of POST /v1/sync/pull.
type PullRequest struct {
	V        int      `json:"v"`
	ClientID string   `json:"clientId"`
	Tables   []string `json:"tables"`
	// Cursor is nil for an initial sync.
	Cursor *string `json:"cursor"`
	// Limit is the page size; 0 means the server's maximum.
	Limit int `json:"limit"`
}

// Change is one row in a pull page.
type Change struct {
	Table   string          `json:"tbl"`
	Key     string          `json:"key"`
	Op      string          `json:"op"`
	Value   json.RawMessage `json:"value,omitempty"`
	Version int64           `json:"version"`
}

// PullResponse is the 200 body of a pull.
type PullResponse struct {
	Changes []Change `json:"changes"`
	Cursor  string   `json:"cursor"`
	HasMore bool     `json:"hasMore"`
	LastMID int64    `json:"lastMid"`
}

// decodeStrict decodes exactly one JSON value from raw into v.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return malformed("field %q: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return malformed("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("trailing data after the JSON object")
	}
	return nil
}

// DecodePush parses and validates a push body. Every error wraps
// ErrMalformed and names the offending field. Table names are checked only
// for shape here; whether a table exists is the server's schema's call.
func DecodePush(raw []byte) (PushRequest, error) {
	var req PushRequest
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return req, malformed("body must be a JSON object")
	}
	if err := decodeStrict(raw, &req); err != nil {
		return PushRequest{}, err
	}
	if req.V != ProtocolVersion {
		return PushRequest{}, malformed("unsupported protocol version v=%d (want %d)", req.V, ProtocolVersion)
	}
	if err := validateClientID(req.ClientID); err != nil {
		return PushRequest{}, err
	}
	if len(req.SchemaHash) > maxSchemaHashLen {
		return PushRequest{}, malformed("schemaHash longer than %d bytes", maxSchemaHashLen)
	}
	if req.Mutations == nil {
		return PushRequest{}, malformed("mutations is required")
	}
	var prev int64
	for i, m := range req.Mutations {
		if m.MID < 1 {
			return PushRequest{}, malformed("mutations[%d].mid must be a positive integer", i)
		}
		if i > 0 && m.MID <= prev {
			return PushRequest{}, malformed("mutations[%d].mid %d is not greater than the previous mid %d", i, m.MID, prev)
		}
		prev = m.MID
		if len(m.Ops) == 0 {
			return PushRequest{}, malformed("mutations[%d] (mid %d) has no ops", i, m.MID)
		}
		for j := range m.Ops {
			if err := validateOp(&req.Mutations[i].Ops[j]); err != nil {
				return PushRequest{}, fmt.Errorf("mutations[%d].ops[%d]: %w", i, j, err)
			}
		}
	}
	return req, nil
}

func validateClientID(id string) error {
	if id == "" {
		return malformed("clientId is required")
	}
	if len(id) > maxClientIDLen {
		return malformed("clientId longer than %d bytes", maxClientIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == utf8.RuneError {
			return malformed("clientId must be printable without spaces")
		}
	}
	return nil
}

func validateTableName(name string) error {
	if len(name) == 0 || len(name) > maxTableNameLen || !tableNamePattern.MatchString(name) {
		return malformed("invalid table name %q", name)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func validateOp(op *Op) error {
	if err := validateTableName(op.Table); err != nil {
		return err
	}
	if op.Key == "" {
		return malformed("key is required")
	}
	if len(op.Key) > maxKeyLen {
		return malformed("key longer than %d bytes", maxKeyLen)
	}
	if !utf8.ValidString(op.Key) || strings.ContainsRune(op.Key, 0) {
		return malformed("key must be valid UTF-8 without NUL")
	}
	if len(op.Tenant) > maxTenantLen {
		return malformed("tenant longer than %d bytes", maxTenantLen)
	}
	if op.BaseVersion != nil && *op.BaseVersion < 0 {
		return malformed("baseVersion must not be negative")
	}
	switch op.Op {
	case OpPut:
		if isNull(op.Value) {
			return malformed("put needs a non-null value")
		}
		if !isNull(op.Patch) {
			return malformed("put takes value, not patch")
		}
		if err := validateStoredJSON(op.Value); err != nil {
			return fmt.Errorf("value: %w", err)
		}
		op.Patch = nil
	case OpPatch:
		if isNull(op.Patch) {
			return malformed("patch needs a patch object")
		}
		if !isNull(op.Value) {
			return malformed("patch takes patch, not value")
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(op.Patch, &fields); err != nil || fields == nil {
			return malformed("patch must be a JSON object")
		}
		if len(fields) == 0 {
			return malformed("patch must change at least one field")
		}
		for path := range fields {
			if err := validatePatchPath(path); err != nil {
				return err
			}
		}
		if err := validateStoredJSON(op.Patch); err != nil {
			return fmt.Errorf("patch: %w", err)
		}
		op.Value = nil
	case OpDelete:
		if !isNull(op.Value) || !isNull(op.Patch) {
			return malformed("delete takes neither value nor patch")
		}
		op.Value, op.Patch = nil, nil
	case "":
		return malformed("op is required (put, patch or delete)")
	default:
		return malformed("unknown op %q (want put, patch or delete)", op.Op)
	}
	return nil
}

// validateStoredJSON rejects what PostgreSQL's jsonb cannot store: the NUL
// character in strings (\u0000). Lone surrogates are also refused there.
func validateStoredJSON(raw json.RawMessage) error {
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return malformed("JSON strings must not contain \\u0000")
	}
	return nil
}

func validatePatchPath(path string) error {
	if path == "" {
		return malformed("patch field names must not be empty")
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return malformed("patch key path %q has an empty segment", path)
		}
	}
	return nil
}

// DecodePull parses and validates a pull body. Every error wraps
// ErrMalformed.
func DecodePull(raw []byte) (PullRequest, error) {
	var req PullRequest
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return req, malformed("body must be a JSON object")
	}
	if err := decodeStrict(raw, &req); err != nil {
		return PullRequest{}, err
	}
	if req.V != ProtocolVersion {
		return PullRequest{}, malformed("unsupported protocol version v=%d (want %d)", req.V, ProtocolVersion)
	}
	if err := validateClientID(req.ClientID); err != nil {
		return PullRequest{}, err
	}
	if len(req.Tables) == 0 {
		return PullRequest{}, malformed("tables must name at least one table")
	}
	if len(req.Tables) > maxPullTables {
		return PullRequest{}, malformed("tables names more than %d tables", maxPullTables)
	}
	for _, t := range req.Tables {
		if err := validateTableName(t); err != nil {
			return PullRequest{}, err
		}
	}
	if req.Limit < 0 {
		return PullRequest{}, malformed("limit must not be negative")
	}
	return req, nil
}

// position is a place in a tenant's change log: rows are ordered by the
// writing transaction's xid8, then by seq.
type position struct {
	XID uint64
	Seq int64
}

func (p position) less(o position) bool {
	return p.XID < o.XID || (p.XID == o.XID && p.Seq < o.Seq)
}

// cursor is what a pull cursor carries. Clients see it as an opaque string.
type cursor struct {
	Epoch      [16]byte
	TablesHash [8]byte
	Pos        position
}

const cursorVersion = 1
const cursorLen = 1 + 16 + 8 + 8 + 8

// tablesHash identifies a set of tables independent of order and repeats.
func tablesHash(tables []string) [8]byte {
	sorted := slices.Clone(tables)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	var out [8]byte
	copy(out[:], sum[:8])
	return out
}

func (c cursor) encode() string {
	buf := make([]byte, 0, cursorLen)
	buf = append(buf, cursorVersion)
	buf = append(buf, c.Epoch[:]...)
	buf = append(buf, c.TablesHash[:]...)
	buf = binary.BigEndian.AppendUint64(buf, c.Pos.XID)
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Pos.Seq))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ErrMalformedCursor means the cursor string is not one this server made.
var ErrMalformedCursor = fmt.Errorf("%w: cursor is not a valid cursor", ErrMalformed)

func decodeCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != cursorLen || raw[0] != cursorVersion {
		return cursor{}, ErrMalformedCursor
	}
	var c cursor
	copy(c.Epoch[:], raw[1:17])
	copy(c.TablesHash[:], raw[17:25])
	c.Pos.XID = binary.BigEndian.Uint64(raw[25:33])
	seq := binary.BigEndian.Uint64(raw[33:41])
	if seq > 1<<62 {
		return cursor{}, ErrMalformedCursor
	}
	c.Pos.Seq = int64(seq)
	return c, nil
}
